import { loadSettings } from '../../pipelines/load-settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { getToFile, MAX_EPOCHS, putPath } from '../../archive/walrus.ts';
import { parseFlags } from '../kit/args.ts';

const USAGE = `usage: sapphire archive put <file|dir> [--epochs N] [--dotenv PATH]
       sapphire archive get <blobId> --out PATH [--dotenv PATH]

Stores a dataset or a backtest/tuning result as a Walrus blob, or fetches one back.

put   a file is stored as is; a directory as a .tar.gz (sorted, timestamps zeroed, so the same
      folder gives the same blob). Sends PUT WALRUS_PUBLISHER_URL/v1/blobs?epochs=N and records
      the blob id in archive.json beside result.json (a backtest out dir), else in <path>.archive.json.
      Prints the blob id.
get   GET WALRUS_AGGREGATOR_URL/v1/blobs/<blobId> written to --out atomically
      (a directory archive comes back as .tar.gz: tar xzf FILE).

options:
  --epochs N        storage epochs for put, 1..${MAX_EPOCHS} (default 1)
  --out PATH        file to write for get
  --dotenv PATH   settings file (default .env)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      epochs: { type: 'string' },
      out: { type: 'string' },
      dotenv: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [action, target, ...extra] = positionals;
  if (action !== 'put' && action !== 'get') {
    throw new SapphireError('CLI_USAGE', `expected put or get, got ${JSON.stringify(action ?? '')}\n\n${USAGE}`);
  }
  if (!target)
    throw new SapphireError(
      'CLI_USAGE',
      `archive ${action} needs ${action === 'put' ? 'a file or folder' : 'a blob id'}\n\n${USAGE}`,
    );
  if (extra.length > 0)
    throw new SapphireError('CLI_USAGE', `unexpected argument ${JSON.stringify(extra[0])}\n\n${USAGE}`);
  const settings = loadSettings({ envFile: values.dotenv ?? '.env' });

  if (action === 'put') {
    if (values.out !== undefined) throw new SapphireError('CLI_USAGE', `--out is for archive get\n\n${USAGE}`);
    const epochsText = values.epochs ?? '1';
    const epochs = /^\d+$/.test(epochsText) ? Number(epochsText) : NaN;
    if (!Number.isInteger(epochs) || epochs < 1 || epochs > MAX_EPOCHS) {
      throw new SapphireError(
        'CLI_USAGE',
        `--epochs must be an integer from 1 to ${MAX_EPOCHS}, got ${JSON.stringify(epochsText)}`,
      );
    }
    if (settings.WALRUS_PUBLISHER_URL === '') {
      throw new SapphireError(
        'NOT_CONFIGURED',
        'WALRUS_PUBLISHER_URL is not set (the Walrus publisher to store blobs through)',
      );
    }
    const { record, recordPath } = await putPath(target, { publisherUrl: settings.WALRUS_PUBLISHER_URL, epochs });
    console.error(
      `archived ${record.source} (${record.content}, ${record.bytes} bytes, ${record.status}${record.endEpoch === null ? '' : `, until epoch ${record.endEpoch}`}); recorded in ${recordPath}`,
    );
    console.log(record.blobId);
    return 0;
  }

  if (values.epochs !== undefined) throw new SapphireError('CLI_USAGE', `--epochs is for archive put\n\n${USAGE}`);
  if (values.out === undefined) throw new SapphireError('CLI_USAGE', `archive get needs --out PATH\n\n${USAGE}`);
  if (settings.WALRUS_AGGREGATOR_URL === '') {
    throw new SapphireError(
      'NOT_CONFIGURED',
      'WALRUS_AGGREGATOR_URL is not set (the Walrus aggregator to read blobs from)',
    );
  }
  const bytes = await getToFile(target, values.out, { aggregatorUrl: settings.WALRUS_AGGREGATOR_URL });
  console.error(`wrote ${bytes} bytes to ${values.out}`);
  return 0;
}
