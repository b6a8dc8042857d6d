import { loadSettings } from '../../pipelines/load-settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { getToFile, MAX_EPOCHS, packPath, putPacked } from '../../archive/walrus.ts';
import { archiveProviders, protectionFor } from '../../archive/protection.ts';
import { packBundle } from '../../archive/bundle.ts';
import { parseFlags } from '../kit/args.ts';

const USAGE = `usage: sapphire archive put <file|dir> [--public] [--bundle] [--epochs N] [--dotenv PATH]
       sapphire archive get <blobId> --out PATH [--dotenv PATH]

Stores a dataset or a backtest/tuning result as a Walrus blob, or fetches one back.
Blobs are encrypted by default (AES-256-GCM under ARCHIVE_KEY, a fresh nonce per blob): Walrus
blobs are public, so only holders of the key can read them.

put   a file is stored as is; a directory as a .tar.gz (sorted, timestamps zeroed). Encrypts it,
      sends PUT WALRUS_PUBLISHER_URL/v1/blobs?epochs=N and records the blob id in archive.json
      beside result.json (a backtest out dir), else in <path>.archive.json. Prints the blob id.
get   GET WALRUS_AGGREGATOR_URL/v1/blobs/<blobId>, decrypted and authenticated, then written to
      --out atomically (a directory archive comes back as .tar.gz: tar xzf FILE). A wrong key or
      an altered byte is refused and nothing is written.

options:
  --public          store in the clear (anyone who learns the blob id can read it)
  --bundle          put a backtest out dir as a research bundle: result.json, the data files,
                    the funding/filters/agent-tape inputs, the settings and the package lock's
                    hash, so that sapphire verify <blobId> can re-run it
  --epochs N        storage epochs for put, 1..${MAX_EPOCHS} (default 1)
  --out PATH        file to write for get
  --dotenv PATH     settings file (default .env)`;

const FLAGS = ['--epochs', '--out', '--public', '--bundle', '--dotenv', '--help', '-h'];

/**
 * A Walrus blob id is base64url and may begin with '-' (about 1 in 64): the word after `get` is the
 * id, never read as a flag, unless it is one of ours.
 */
function blobIdFirst(argv: string[]): { rest: string[]; id: string | undefined } {
  const word = argv[1];
  const isFlag = word === undefined || FLAGS.some((f) => word === f || word.startsWith(`${f}=`));
  return argv[0] === 'get' && !isFlag ? { rest: [argv[0], ...argv.slice(2)], id: word } : { rest: argv, id: undefined };
}

export async function run(argv: string[]): Promise<number> {
  const { rest, id } = blobIdFirst(argv);
  const { values, positionals: parsed } = parseFlags(
    rest,
    {
      epochs: { type: 'string' },
      out: { type: 'string' },
      public: { type: 'boolean' },
      bundle: { type: 'boolean' },
      dotenv: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const positionals = id === undefined ? parsed : [parsed[0]!, id, ...parsed.slice(1)];
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
  return action === 'put' ? put(target, values, settings) : get(target, values, settings);
}

type Values = { epochs?: string; out?: string; public?: boolean; bundle?: boolean };

async function put(target: string, values: Values, settings: ReturnType<typeof loadSettings>): Promise<number> {
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
  const protection = await protectionFor(settings, values.public === true);
  const packed = values.bundle ? packBundle(target, { settings }) : packPath(target);
  const { record, recordPath } = await putPacked(target, packed, {
    publisherUrl: settings.WALRUS_PUBLISHER_URL,
    epochs,
    protection,
  });
  const how =
    record.encryption === 'none'
      ? 'PUBLIC: stored in the clear, anyone with the blob id can read it'
      : `encrypted with ${record.encryption.provider}, key id ${record.encryption.keyId ?? '?'}`;
  console.error(
    `archived ${record.source} (${record.content}, ${record.bytes} bytes, ${how}, ${record.status}${record.endEpoch === null ? '' : `, until epoch ${record.endEpoch}`}); recorded in ${recordPath}`,
  );
  console.log(record.blobId);
  return 0;
}

async function get(target: string, values: Values, settings: ReturnType<typeof loadSettings>): Promise<number> {
  for (const flag of ['epochs', 'public', 'bundle'] as const) {
    if (values[flag] !== undefined) throw new SapphireError('CLI_USAGE', `--${flag} is for archive put\n\n${USAGE}`);
  }
  if (values.out === undefined) throw new SapphireError('CLI_USAGE', `archive get needs --out PATH\n\n${USAGE}`);
  if (settings.WALRUS_AGGREGATOR_URL === '') {
    throw new SapphireError(
      'NOT_CONFIGURED',
      'WALRUS_AGGREGATOR_URL is not set (the Walrus aggregator to read blobs from)',
    );
  }
  const fetched = await getToFile(target, values.out, {
    aggregatorUrl: settings.WALRUS_AGGREGATOR_URL,
    providers: await archiveProviders(settings),
  });
  const what = fetched.encrypted ? `decrypted ${fetched.content ?? ''}`.trim() : 'public blob, not encrypted';
  console.error(`wrote ${fetched.bytes} bytes to ${values.out} (${what})`);
  return 0;
}
