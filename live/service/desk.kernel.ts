import type { Decision, Order, TradeClosed } from '../../pipelines/model/index.ts';
import { intervalToMs } from '../../pipelines/model/index.ts';
import { stopOutsInWindow } from '../../operators/risk/risk.kernel.ts';
import { armMean, chooseArm, emptyArm, rewardArm } from '../../operators/allocation/bandit.kernel.ts';
import type { Settings } from '../../pipelines/settings.ts';
import type {
  AllocationSeries,
  ArmView,
  LockView,
  PerformanceView,
  StrategyPerformance,
  SymbolPerformance,
} from './dashboard-view.ts';

/**
 * What the desk (the dashboard) derives from the engine's record: the entry locks in force, the
 * bandit's arms and the performance figures. Pure functions of the kept trades, decisions and
 * orders, written with the risk and bandit stages' own kernels so the page cannot disagree with
 * what the pipeline does.
 */

type LockSettings = Pick<
  Settings,
  'BAR_INTERVAL' | 'COOLDOWN_BARS' | 'STOPLOSS_GUARD_TRADES' | 'STOPLOSS_GUARD_WINDOW_BARS' | 'STOPLOSS_GUARD_LOCK_BARS'
>;

/**
 * Entry locks at `now` (the last bar's close), replaying the risk stage's rules over the closed
 * trades: a losing `stop` exit is a stop-out; it rests its symbol COOLDOWN_BARS bars, and
 * STOPLOSS_GUARD_TRADES of them inside the window lock every entry for STOPLOSS_GUARD_LOCK_BARS.
 * An entry order not yet filled blocks a second entry on its symbol (entry-in-flight).
 */
export function entryLocks(
  trades: readonly TradeClosed[],
  entriesInFlight: readonly Order[],
  s: LockSettings,
  now: number,
): LockView[] {
  const barMs = intervalToMs(s.BAR_INTERVAL);
  const nowBar = Math.floor(now / barMs);
  const stopBars: number[] = [];
  const lastStopBar = new Map<string, number>();
  let lockedUntilBar = -1;
  let guardTrigger = 0;
  for (const t of [...trades].sort((a, b) => a.time - b.time)) {
    if (t.exitReason !== 'stop' || !(t.netPnl < 0)) continue;
    const bar = Math.floor(t.time / barMs);
    lastStopBar.set(t.symbol, bar);
    stopBars.push(bar);
    const inWindow = stopOutsInWindow(stopBars, bar, s.STOPLOSS_GUARD_WINDOW_BARS);
    if (s.STOPLOSS_GUARD_TRADES > 0 && inWindow >= s.STOPLOSS_GUARD_TRADES) {
      lockedUntilBar = bar + s.STOPLOSS_GUARD_LOCK_BARS;
      guardTrigger = inWindow;
    }
  }
  const locks: LockView[] = [];
  if (nowBar <= lockedUntilBar) {
    locks.push({
      kind: 'stoploss-guard',
      symbol: null,
      until: (lockedUntilBar + 1) * barMs,
      detail: `${guardTrigger} stop-outs within ${s.STOPLOSS_GUARD_WINDOW_BARS} bars: every new entry is locked`,
    });
  }
  for (const [symbol, bar] of lastStopBar) {
    if (nowBar - bar >= s.COOLDOWN_BARS) continue;
    locks.push({
      kind: 'cooldown',
      symbol,
      until: (bar + s.COOLDOWN_BARS) * barMs,
      detail: `stopped out ${nowBar - bar} of ${s.COOLDOWN_BARS} bars ago: no new entry on ${symbol}`,
    });
  }
  for (const o of entriesInFlight) {
    locks.push({
      kind: 'entry-in-flight',
      symbol: o.symbol,
      until: null,
      detail: `entry ${o.side} ${o.quantity} sent, not filled yet: a second entry on ${o.symbol} waits`,
    });
  }
  return locks;
}

type BanditSettingsView = Pick<
  Settings,
  'BANDIT_EPSILON' | 'BANDIT_REWARD_CLIP' | 'BANDIT_MIN_TRADES' | 'BANDIT_WINDOW_TRADES' | 'BANDIT_PROBE_SHARE'
>;

/**
 * The bandit's arms (symbol × signal source) rebuilt from the closed trades and the entry
 * decisions behind them: windowed mean of the clipped returns, pulls, the odds that the next
 * signal episode is funded, and the share of the normal size it would get.
 */
export function banditArms(
  trades: readonly TradeClosed[],
  entrySource: (t: TradeClosed) => string | null,
  symbolsAndSources: readonly { symbol: string; source: string }[],
  s: BanditSettingsView,
): ArmView[] {
  const arms = new Map<string, ReturnType<typeof emptyArm>>();
  const arm = (name: string) => {
    let a = arms.get(name);
    if (a === undefined) arms.set(name, (a = emptyArm(s.BANDIT_WINDOW_TRADES)));
    return a;
  };
  for (const { symbol, source } of symbolsAndSources) arm(`${symbol}:${source}`);
  for (const t of [...trades].sort((a, b) => a.time - b.time)) {
    const source = entrySource(t);
    if (source !== null) rewardArm(arm(`${t.symbol}:${source}`), t.returnPct, s.BANDIT_REWARD_CLIP);
  }
  return [...arms.entries()].map(([name, a]) => {
    // a draw at or above ε never explores: what a non-exploring draw gets decides the verdict
    const verdict = chooseArm(a, s.BANDIT_EPSILON, 1, s.BANDIT_MIN_TRADES);
    const judged = a.pulls >= s.BANDIT_MIN_TRADES;
    return {
      arm: name,
      meanReturn: a.pulls > 0 ? armMean(a) : null,
      pulls: a.pulls,
      judged,
      fundedOdds: verdict.take ? 1 : s.BANDIT_EPSILON,
      allocation: verdict.take ? 'funded' : 'probe-only',
      share: verdict.take ? 1 : s.BANDIT_PROBE_SHARE,
    };
  });
}

/** Signal sources seen in the kept decisions, per symbol (the arms that exist so far). */
export function armKeys(decisions: readonly Decision[]): { symbol: string; source: string }[] {
  const seen = new Map<string, { symbol: string; source: string }>();
  for (const d of decisions) {
    if (d.action === 'exit' || d.source === 'external') continue;
    seen.set(`${d.symbol}:${d.source}`, { symbol: d.symbol, source: d.source });
  }
  return [...seen.values()];
}

function summarise(trades: readonly TradeClosed[]): Omit<SymbolPerformance, 'symbol'> {
  let wins = 0;
  let grossWin = 0;
  let grossLoss = 0;
  let net = 0;
  for (const t of trades) {
    net += t.netPnl;
    if (t.netPnl > 0) {
      wins++;
      grossWin += t.netPnl;
    } else grossLoss -= t.netPnl;
  }
  return {
    trades: trades.length,
    netPnl: net,
    winRate: trades.length > 0 ? wins / trades.length : null,
    profitFactor: grossLoss > 0 ? grossWin / grossLoss : null,
  };
}

const notional = (t: TradeClosed): number => Math.abs(t.quantity) * t.entryPrice;

/** Per strategy: the summary, and its share of the entry notional of the kept trades. */
function strategyRows(byStrategy: ReadonlyMap<string, readonly TradeClosed[]>): StrategyPerformance[] {
  let total = 0;
  for (const list of byStrategy.values()) for (const t of list) total += notional(t);
  return [...byStrategy.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([symbol, list]) => ({
      symbol,
      ...summarise(list),
      capitalShare: total > 0 ? list.reduce((sum, t) => sum + notional(t), 0) / total : null,
      allocation: null,
    }));
}

/**
 * The strategies' rows with their allocation now: the mean share of the normal size the bandit
 * gives their arms (`symbol:strategy`); a configured strategy, or one with arms, that has no kept
 * trade yet gets a row too.
 */
export function withAllocation(
  rows: readonly StrategyPerformance[],
  arms: readonly ArmView[],
  configured: readonly string[] = [],
): StrategyPerformance[] {
  const shares = new Map<string, number[]>();
  for (const name of configured) if (!shares.has(name)) shares.set(name, []);
  for (const a of arms) {
    const source = a.arm.slice(a.arm.indexOf(':') + 1);
    (shares.get(source) ?? shares.set(source, []).get(source)!).push(a.share);
  }
  const mean = (xs: number[] | undefined) => (xs && xs.length > 0 ? xs.reduce((x, y) => x + y, 0) / xs.length : null);
  const out = rows.map((r) => ({ ...r, allocation: mean(shares.get(r.symbol)) }));
  for (const [source, xs] of shares)
    if (!out.some((r) => r.symbol === source))
      out.push({
        symbol: source,
        trades: 0,
        netPnl: 0,
        winRate: null,
        profitFactor: null,
        capitalShare: null,
        allocation: mean(xs),
      });
  return out.sort((a, b) => a.symbol.localeCompare(b.symbol));
}

const DAY_MS = 86_400_000;

/** Monday 00:00 UTC of the week holding `t`. */
function weekStart(t: number): number {
  const day = Math.floor(t / DAY_MS);
  // 1970-01-01 was a Thursday: Monday-based weekday = (day + 3) mod 7
  return (day - ((day + 3) % 7)) * DAY_MS;
}

function buckets(trades: readonly TradeClosed[], start: (t: number) => number): { time: number; netPnl: number }[] {
  const sums = new Map<number, number>();
  for (const t of trades) {
    const k = start(t.time);
    sums.set(k, (sums.get(k) ?? 0) + t.netPnl);
  }
  return [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([time, netPnl]) => ({ time, netPnl }));
}

/**
 * Performance since the start: realised PnL from the books (every trade ever closed), the rates
 * over the trades the engine keeps, per symbol, per strategy and by day / week of market time.
 */
export function performance(
  trades: readonly TradeClosed[],
  realizedPnl: number,
  entrySource: (t: TradeClosed) => string | null,
): PerformanceView {
  const bySymbol = new Map<string, TradeClosed[]>();
  const byStrategy = new Map<string, TradeClosed[]>();
  for (const t of trades) {
    (bySymbol.get(t.symbol) ?? bySymbol.set(t.symbol, []).get(t.symbol)!).push(t);
    const source = entrySource(t) ?? 'unknown';
    (byStrategy.get(source) ?? byStrategy.set(source, []).get(source)!).push(t);
  }
  return {
    realizedPnl,
    ...summarise(trades),
    perSymbol: [...bySymbol.entries()]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([symbol, list]) => ({ symbol, ...summarise(list) })),
    perStrategy: strategyRows(byStrategy),
    daily: buckets(trades, (t) => Math.floor(t / DAY_MS) * DAY_MS),
    weekly: buckets(trades, weekStart),
  };
}

/**
 * The allocation history as one series per strategy (a strategy first seen later starts at its
 * first point), each carried on to `now` (the last bar's time) so the step line reaches the present.
 */
export function allocationSeries(
  points: readonly { readonly time: number; readonly shares: Readonly<Record<string, number>> }[],
  now: number,
): AllocationSeries[] {
  const series = new Map<string, { time: number; share: number }[]>();
  for (const p of points)
    for (const [strategy, share] of Object.entries(p.shares)) {
      const list = series.get(strategy) ?? series.set(strategy, []).get(strategy)!;
      if (list.at(-1)?.share !== share) list.push({ time: p.time, share });
    }
  return [...series.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([strategy, list]) => {
      const last = list.at(-1)!;
      return { strategy, points: now > last.time ? [...list, { time: now, share: last.share }] : list };
    });
}
