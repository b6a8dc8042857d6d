import { loadSettings } from '../../pipelines/load-settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { checkBlobId, fetchBlob } from '../../archive/walrus.ts';
import { archiveProviders } from '../../archive/protection.ts';
import { verifyBundle } from '../../archive/verify.ts';
import { parseFlags } from '../kit/args.ts';

const USAGE = `usage: sapphire verify <blobId> [--dotenv PATH]

Fetches a research bundle (sapphire archive put OUT --bundle) from WALRUS_AGGREGATOR_URL,
decrypts it with ARCHIVE_KEY (unless it was stored --public), checks every file against the
bundle's SHA-256 list, re-runs the backtest on the bundled data and compares result.json
byte for byte.

exit codes:
  0  identical: the re-run wrote the same result.json, byte for byte
  1  different: prints the first differing figure (JSON path, bundled value, re-run value)
  2  not verified: bad usage, settings, blob not found, wrong key, altered or damaged bundle,
     or the re-run failed (the message says which)

options:
  --dotenv PATH   settings file (default .env)`;

const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));

export async function run(argv: string[]): Promise<number> {
  try {
    return await verify(argv);
  } catch (error) {
    // anything that stops the check is "not verified", never "different"
    if (error instanceof SapphireError) console.error(`sapphire verify: ${error.message}`);
    else console.error(`sapphire verify: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
}

async function verify(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { dotenv: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [blobId, ...extra] = positionals;
  if (!blobId) throw new SapphireError('CLI_USAGE', `verify needs a blob id\n\n${USAGE}`);
  if (extra.length > 0)
    throw new SapphireError('CLI_USAGE', `unexpected argument ${JSON.stringify(extra[0])}\n\n${USAGE}`);
  checkBlobId(blobId);
  const settings = loadSettings({ envFile: values.dotenv ?? '.env' });
  if (settings.WALRUS_AGGREGATOR_URL === '') {
    throw new SapphireError(
      'NOT_CONFIGURED',
      'WALRUS_AGGREGATOR_URL is not set (the Walrus aggregator to read blobs from)',
    );
  }
  const fetched = await fetchBlob(blobId, {
    aggregatorUrl: settings.WALRUS_AGGREGATOR_URL,
    providers: await archiveProviders(settings),
  });
  if (fetched.encrypted && fetched.content !== 'bundle') {
    throw new SapphireError(
      'CLI_USAGE',
      `blob ${blobId} holds a ${fetched.content ?? 'plain'} archive, not a research bundle`,
    );
  }
  console.error(
    `fetched ${blobId} (${fetched.encrypted ? 'decrypted' : 'public'}, ${fetched.data.length} bytes); re-running the backtest`,
  );
  const outcome = await verifyBundle(fetched.data);
  for (const note of outcome.notes) console.error(`note: ${note}`);
  if (outcome.identical) {
    console.log(`identical: the re-run wrote the same result.json, byte for byte`);
    return 0;
  }
  const d = outcome.difference!;
  console.log(`different: first difference at ${d.path}: bundled ${show(d.bundled)}, re-run ${show(d.rerun)}`);
  return 1;
}
