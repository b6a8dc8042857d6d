/**
 * npm run soak [-- --quick] [--only 1,3] [--out FILE.md]
 * The reliability suite of issue 8: every scenario returns rows {scenario, injected, count, held,
 * figures}; one table is printed and written (markdown + JSON beside it); exit 1 if any row did
 * not hold. --quick runs every scenario briefly (under 10 minutes in total).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import os from 'node:os';
import type { SoakRow } from './kit.ts';
import { exchangeFaultScenario, redisOutageScenario } from './scenarios/service-runs.ts';
import { crashRestartScenario } from './scenarios/crash-restart.ts';
import { fuzzRoutesScenario, malformedFilesScenario } from './scenarios/hostile-input.ts';
import { findSecrets, secretsScenario } from './scenarios/secrets.ts';
import { authLimitsScenario } from './scenarios/auth-limits.ts';
import { loadScenario } from './scenarios/load.ts';
import { liveModeScenario } from './scenarios/live-mode.ts';
import { modelFaultsScenario } from './scenarios/model-faults.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'soak/soak-results.md' },
  },
});
const quick = values.quick;
const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : null;
const log = (line: string) => console.error(line);

const SCENARIOS: { id: string; name: string; run: () => Promise<SoakRow[]> }[] = [
  {
    id: '1',
    name: 'exchange faults',
    run: () => exchangeFaultScenario({ durationMs: quick ? 60_000 : 600_000, faultsPerSecond: 2, log }),
  },
  {
    id: '2',
    name: 'crash/restart',
    run: () => crashRestartScenario({ kills: quick ? 5 : 20, replayMs: 50, log }),
  },
  { id: '3', name: 'redis outage', run: () => redisOutageScenario({ outageMs: quick ? 10_000 : 60_000 }) },
  {
    id: '4',
    name: 'hostile input',
    run: async () => [
      ...(await fuzzRoutesScenario({ requests: quick ? 1_000 : 10_000 })),
      ...(await malformedFilesScenario()),
    ],
  },
  { id: '5', name: 'secrets', run: () => secretsScenario({ tradeWaitMs: 90_000 }) },
  {
    id: '6',
    name: 'auth and limits',
    run: () => authLimitsScenario({ burst: 1_000, timingRounds: quick ? 20_000 : 100_000 }),
  },
  { id: '7', name: 'load', run: () => loadScenario({ durationS: quick ? 20 : 60 }) },
  { id: '8', name: 'live mode', run: () => liveModeScenario({ kills: quick ? 3 : 10, log }) },
  { id: '9', name: 'model faults', run: () => modelFaultsScenario({ faultMs: quick ? 60_000 : 600_000, log }) },
];

let unhandled = 0;
process.on('unhandledRejection', (reason) => {
  unhandled++;
  log(`unhandled rejection: ${reason instanceof Error ? reason.message : String(reason)}`);
});

const rows: SoakRow[] = [];
const started = performance.now();
for (const s of SCENARIOS) {
  if (only && !only.has(s.id)) continue;
  const t0 = performance.now();
  log(`soak ${s.id} ${s.name} …`);
  try {
    rows.push(...(await s.run()));
  } catch (error) {
    rows.push({
      scenario: `${s.id} ${s.name}`,
      injected: '(scenario crashed)',
      count: 0,
      held: false,
      figures: error instanceof Error ? error.message : String(error),
    });
  }
  log(`soak ${s.id} ${s.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
if (unhandled > 0) {
  rows.push({
    scenario: 'suite',
    injected: 'unhandled rejections in the runner process',
    count: unhandled,
    held: false,
    figures: 'see stderr',
  });
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const header = `Sapphire soak${quick ? ' --quick' : ''} — ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}; ${((performance.now() - started) / 1000).toFixed(0)} s`;
const table = [
  '| scenario | injected | count | held | figures |',
  '|---|---|---:|:---:|---|',
  ...rows.map(
    (r) =>
      `| ${cell(r.scenario)} | ${cell(r.injected)} | ${r.count} | ${r.held ? 'yes' : '**NO**'} | ${cell(r.figures)} |`,
  ),
].join('\n');
const markdown = `${header}\n\n${table}\n`;
// the report itself is searched for the configured secrets before it is written
const leaks = findSecrets(markdown, 'the soak report');
if (leaks.length > 0) throw new Error(`refusing to write a report that contains ${leaks.join(', ')}`);
console.log(markdown);
writeFileSync(values.out, markdown);
writeFileSync(values.out.replace(/\.md$/, '') + '.json', `${JSON.stringify({ header, quick, rows }, null, 2)}\n`);
console.log(`written: ${values.out}`);
process.exit(rows.every((r) => r.held) ? 0 : 1);
