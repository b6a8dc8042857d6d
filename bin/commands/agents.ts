import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSettings } from '../../pipelines/load-settings.ts';
import { withOverrides, type Settings } from '../../pipelines/settings.ts';
import { SapphireError } from '../../pipelines/errors.ts';
import { loadDataset, loadFundingFile } from '../../backtests/data/index.ts';
import { recordAgentTape } from '../../agents/record-tape.ts';
import { agentHealth } from '../../operators/agents/agent-health.ts';
import { overridesFrom, parseDate, parseFlags } from '../kit/args.ts';
import { progressBar } from '../kit/progress.ts';
import { strategiesAtEdge } from '../kit/strategy-flag.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const USAGE = `usage: sapphire agents record --out TAPE.jsonl [options] [NAME=VALUE ...]

Records the agent tape a backtest over the same bars replays: runs features → STRATEGIES → agents
over the data and asks the remote agents (FINGPT_ENDPOINT, LAGLLAMA_ENDPOINT) at every signal,
with the closes up to that bar only. Replies are taped raw (judged at replay, so agent thresholds
stay tunable); faults are taped as the fault they were. Then:
  sapphire backtest AGENTS_ENABLED=true AGENT_TAPE=TAPE.jsonl AGENT_TAPE_MODE=replay …

options:
  --out FILE        the tape to write (required); an existing tape is refused unless --fill
  --fill            extend an existing tape: ask only what it lacks (call-through)
  --data DIR        folder of bar files (default: DATA_DIR)
  --symbols A,B     symbols (default: SYMBOLS that the data has)
  --to YYYY-MM-DD   end (UTC, exclusive)
  --dotenv PATH     settings file (default .env)
  NAME=VALUE        any setting, e.g. FINGPT_ENDPOINT=http://127.0.0.1:8000 FINGPT_MODEL=…`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (sub !== 'record')
    throw new SapphireError(
      'CLI_USAGE',
      `sapphire agents: unknown subcommand ${JSON.stringify(sub ?? '')}\n\n${USAGE}`,
    );
  const { values, positionals } = parseFlags(
    rest,
    {
      out: { type: 'string' },
      fill: { type: 'boolean' },
      data: { type: 'string' },
      symbols: { type: 'string' },
      to: { type: 'string' },
      dotenv: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.out === undefined || values.out === '') {
    throw new SapphireError('CLI_USAGE', `sapphire agents record: --out FILE is required\n\n${USAGE}`);
  }
  const overrides: Record<string, unknown> = overridesFrom(positionals, USAGE);
  if (values.symbols !== undefined) overrides.SYMBOLS = values.symbols;
  const out = resolve(values.out);
  Object.assign(overrides, {
    AGENTS_ENABLED: true,
    AGENT_TAPE: out,
    AGENT_TAPE_MODE: values.fill === true ? 'call-through' : 'record',
  });
  let settings: Settings = loadSettings({ envFile: values.dotenv ?? '.env', overrides });
  // the strategies propose the entries the agents are asked about, exactly as in the backtest
  const strategies = await strategiesAtEdge(settings, { envFile: values.dotenv ?? '.env', overrides });
  const funding = [settings.FUNDING_CSV, join(REPO_ROOT, settings.FUNDING_CSV)].find(
    (p) => settings.FUNDING_CSV !== '' && existsSync(p),
  );
  if (settings.FINGPT_ENDPOINT === '' && settings.LAGLLAMA_ENDPOINT === '') {
    throw new SapphireError(
      'NOT_CONFIGURED',
      'sapphire agents record: set FINGPT_ENDPOINT and/or LAGLLAMA_ENDPOINT (embedded agents need no tape)',
    );
  }
  const explicit = values.symbols !== undefined || 'SYMBOLS' in overrides;
  let series = await loadDataset({
    dir: values.data ?? settings.DATA_DIR,
    symbols: explicit ? settings.SYMBOLS : undefined,
    to: parseDate('to', values.to),
  });
  if (!explicit) {
    const wanted = series.filter((c) => settings.SYMBOLS.includes(c.symbol));
    series = wanted.length > 0 ? wanted : series;
  }
  settings = withOverrides(settings, { SYMBOLS: series.map((c) => c.symbol) }, 'the data');
  const bar = progressBar('recording');
  const rec = await recordAgentTape(settings, series, {
    strategies,
    fundingRates: funding === undefined ? undefined : loadFundingFile(funding),
    onProgress: (done, total, taped) => bar.update(done, total, `${taped} taped`),
  });
  bar.done();
  const health = agentHealth(rec.stage);
  console.log(`${rec.path}: ${rec.entries} entries over ${rec.stage.signals} signals`);
  for (const [name, row] of Object.entries(health.agents)) {
    const faults = Object.entries(row.faults).map(([k, n]) => `${k} ${n}`);
    console.log(`  ${name.padEnd(16)} ${faults.length > 0 ? `faults: ${faults.join(', ')}` : 'no faults'}`);
  }
  return 0;
}
