import { loadDataset } from './backtests/data/index.ts';
import { checkLookahead, seededCuts } from './backtests/lookahead-check.ts';
import { parseSettings } from './pipelines/settings.ts';
import { holdForNextClose, peekLastClose, peekNextClose, waitForLastClose } from './test/kit/planted-lookahead.ts';
for (const dir of ['data/sample/perp-5m', '/work/shared/data/perp-5m-2025']) {
  const series = await loadDataset({ dir });
  const settings = parseSettings({ SYMBOLS: series.map((c) => c.symbol).join(',') });
  const cuts = seededCuts(series, 20, 1);
  for (const [name, p] of [
    ['peekNextClose', { agentsFor: peekNextClose }],
    ['holdForNextClose', { agents: holdForNextClose }],
    ['peekLastClose', { agentsFor: peekLastClose }],
    ['waitForLastClose', { agents: waitForLastClose }],
  ] as const) {
    const r = checkLookahead({ settings, series, cuts, stopAtFirst: false, ...(p as object) });
    console.log(dir, name, 'late:', r.late ? r.late.kind : 'none', 'cuts differing:', r.outcomes.filter((o) => o.difference).length, 'of', r.outcomes.length, 'first:', r.outcomes.find((o) => o.difference)?.difference?.detail.slice(0, 140) ?? r.late?.detail.slice(0, 140));
  }
}
