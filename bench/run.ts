/**
 * npm run bench [-- GROUP ...] [--json FILE]
 * Groups: core, tuning, agents, exchange, service (each in bench/groups/<group>.ts, exporting one
 * async function that returns {name: {value, unit}}). No group named: all run. Prints one table
 * and, with --json, writes every figure as one JSON object {name: {value, unit}}.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';

export type Figures = Record<string, { value: number | null; unit: string; note?: string }>;

const GROUPS: Record<string, { file: string; fn: string }> = {
  core: { file: 'core.ts', fn: 'benchCore' },
  tuning: { file: 'tuning.ts', fn: 'benchTuning' },
  agents: { file: 'agents.ts', fn: 'benchAgents' },
  exchange: { file: 'exchange.ts', fn: 'benchExchange' },
  service: { file: 'service.ts', fn: 'benchService' },
};

const { values, positionals } = parseArgs({ options: { json: { type: 'string' } }, allowPositionals: true });
const unknown = positionals.filter((g) => !(g in GROUPS));
if (unknown.length > 0) {
  console.error(`bench: unknown group ${unknown.join(', ')} (groups: ${Object.keys(GROUPS).join(', ')})`);
  process.exit(2);
}
const selected = positionals.length > 0 ? positionals : Object.keys(GROUPS);
const all: Figures = {};
const rows: string[][] = [];
let failed = false;

console.log(
  `Sapphire bench — node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
);
for (const name of selected) {
  const spec = GROUPS[name]!;
  const file = fileURLToPath(new URL(`./groups/${spec.file}`, import.meta.url));
  if (!existsSync(file)) {
    rows.push([name, '(group not built yet)', '', '']);
    continue;
  }
  const started = performance.now();
  try {
    const mod = (await import(file)) as Record<string, (() => Promise<Figures>) | undefined>;
    const fn = mod[spec.fn] ?? mod.run;
    if (!fn) throw new Error(`${spec.file} exports neither ${spec.fn} nor run`);
    const figures = await fn();
    for (const [k, v] of Object.entries(figures)) {
      all[k] = v;
      const shown =
        v.value === null
          ? 'n/a'
          : Math.abs(v.value) >= 1000
            ? Math.round(v.value).toLocaleString('en-US')
            : String(Number(v.value.toPrecision(4)));
      rows.push([name, k, shown, v.unit + (v.note ? `  (${v.note})` : '')]);
    }
  } catch (error) {
    failed = true;
    rows.push([name, 'FAILED', '', error instanceof Error ? error.message : String(error)]);
  }
  console.error(`bench ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const widths = [0, 1, 2, 3].map((i) =>
  Math.max(...rows.map((r) => r[i]!.length), ['group', 'figure', 'value', 'unit'][i]!.length),
);
const line = (r: string[]) =>
  `| ${r.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
console.log(line(['group', 'figure', 'value', 'unit']));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
if (values.json) {
  writeFileSync(values.json, `${JSON.stringify(all, null, 2)}\n`);
  console.log(`\nwritten: ${values.json}`);
}
process.exit(failed ? 1 : 0);
