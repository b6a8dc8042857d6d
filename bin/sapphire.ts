#!/usr/bin/env -S npx tsx
/**
 * The sapphire CLI. Each command lives in bin/commands/<name>.ts and exports
 * `run(argv: string[]): Promise<number>` (the exit code), so commands load only what they use.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { SapphireError } from '../pipelines/errors.ts';
import { didYouMean } from './kit/did-you-mean.ts';

const COMMANDS: Record<string, string> = {
  backtest: 'run a backtest over historical bars and write its report',
  tune: 'search strategy settings with TPE or random search, walk-forward, write winners to .env',
  check: 'check lookahead: prove decisions never depend on future bars',
  serve: 'start the trading service (paper by default) with its admin API and dashboard',
  orchestrator: 'start the multi-bot wallet orchestrator (port 8082)',
  simulator: 'start the Aster-compatible exchange simulator',
  data: 'data download: fetch klines and funding rates from Aster into CSV',
  archive: 'archive put|get: store or fetch a dataset or result as a Walrus blob',
  verify: 'verify <blobId>: re-run a research bundle and check result.json byte for byte',
  new: 'new strategy NAME: scaffold a strategy file and its test (docs/strategies.md)',
  agents: 'agents record: record the agent tape a backtest replays (remote models, with progress)',
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, what]) => `  ${name.padEnd(13)} ${what}`);
  return `usage: sapphire <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nsapphire <command> --help for a command's options`;
}

/**
 * `--env-file PATH` is accepted as another name for `--dotenv PATH`. (Node 20 itself also reads a
 * `--env-file` it finds anywhere in argv into the environment — same values, so no harm — and
 * stops with "node: PATH: not found" when the file is missing, before this code runs.)
 */
function normaliseArgs(argv: string[]): string[] {
  return argv.map((a) =>
    a === '--env-file' ? '--dotenv' : a.startsWith('--env-file=') ? `--dotenv=${a.slice(11)}` : a,
  );
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = normaliseArgs(argv);
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const file = join(here, 'commands', `${name}.ts`);
  if (!(name in COMMANDS) || !existsSync(file)) {
    const hint = didYouMean(name.replace(/^-+/, ''), Object.keys(COMMANDS), (c) => `sapphire ${c}`);
    console.error(`sapphire: unknown command "${name}"${hint}\n\n${usage()}`);
    return 2;
  }
  const command = (await import(file)) as { run(argv: string[]): Promise<number> };
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // bad input ends here with a message naming the thing, never a stack dump
    if (error instanceof SapphireError) console.error(`sapphire: ${error.message}`);
    else console.error(`sapphire: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
