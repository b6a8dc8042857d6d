import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SapphireError } from '../../pipelines/errors.ts';
import { SETTING_NAMES } from '../../pipelines/settings.ts';
import { settingsPrefix, shippedNames } from '../../strategies/registry.ts';
import { parseFlags } from '../kit/args.ts';
import { strategyTemplate, strategyTestTemplate } from '../kit/strategy-template.ts';

const USAGE = `usage: sapphire new strategy NAME [options]

Writes a strategy file and its test from a template; both work as generated:
  strategies/yours/NAME.ts          the strategy (settings NAME_…, search space, warm-up, onBar, exit rule)
  test/strategies/yours/NAME.test.ts  the contract test on real bars (npx vitest run that file)
Then: sapphire backtest --strategy ./strategies/yours/NAME.ts   (docs/strategies.md walks through it)

options:
  --dir DIR        where the strategy goes (default strategies/yours)
  --test-dir DIR   where its test goes (default test/strategies/yours)`;

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** a path for an import from `fromDir` to `target`, POSIX separators, always starting with . */
function importPath(fromDir: string, target: string): string {
  const r = relative(fromDir, target).split('\\').join('/');
  return r.startsWith('.') ? r : `./${r}`;
}

export async function run(argv: string[]): Promise<number> {
  const [what, name, ...rest] = argv;
  if (what === '--help' || what === '-h' || what === undefined) {
    console.log(USAGE);
    return what === undefined ? 2 : 0;
  }
  if (what !== 'strategy') throw new SapphireError('CLI_USAGE', `sapphire new: unknown kind "${what}"\n\n${USAGE}`);
  const { values } = parseFlags(rest, { dir: { type: 'string' }, 'test-dir': { type: 'string' } }, USAGE);
  if (name === undefined || !/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name))
    throw new SapphireError(
      'CLI_USAGE',
      `strategy name ${JSON.stringify(name ?? '')}: use kebab-case letters and digits, e.g. rsi-dip\n\n${USAGE}`,
    );
  if (shippedNames().includes(name))
    throw new SapphireError('CLI_USAGE', `"${name}" is a shipped strategy: pick another name`);
  const prefix = settingsPrefix(name);
  const clash = SETTING_NAMES.find((k) => k.startsWith(prefix));
  if (clash)
    throw new SapphireError('CLI_USAGE', `settings prefixed ${prefix} would clash with the platform's ${clash}`);
  const dir = resolve(values.dir ?? 'strategies/yours');
  const testDir = resolve(values['test-dir'] ?? 'test/strategies/yours');
  const file = join(dir, `${name}.ts`);
  const testFile = join(testDir, `${name}.test.ts`);
  // nothing is written when either file exists
  for (const f of [file, testFile])
    if (existsSync(f)) throw new SapphireError('CLI_USAGE', `${f} exists: not overwritten`);
  const kit = importPath(dir, join(REPO, 'strategies/kit/contract.ts'));
  const strategySource = strategyTemplate(name, prefix, { kit });
  const testSource = strategyTestTemplate(name, {
    strategy: importPath(testDir, file),
    testing: importPath(testDir, join(REPO, 'strategies/kit/testing.ts')),
  });
  mkdirSync(dirname(file), { recursive: true });
  mkdirSync(dirname(testFile), { recursive: true });
  writeFileSync(file, strategySource);
  writeFileSync(testFile, testSource);
  console.log(`written: ${relative(process.cwd(), file)}, ${relative(process.cwd(), testFile)}`);
  console.log(`next: npx vitest run ${relative(process.cwd(), testFile)}`);
  console.log(`      npm run backtest -- --strategy ./${relative(process.cwd(), file)}`);
  return 0;
}
