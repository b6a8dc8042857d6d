import type { BarColumns, SymbolFilters } from '../../pipelines/model/index.ts';
import type { Settings } from '../../pipelines/settings.ts';
import { intervalToMs } from '../../pipelines/model/index.ts';
import { createRng, deriveSeed } from '../../pipelines/rng.ts';
import { FeatureState } from '../../operators/features/features.kernel.ts';
import { featureParams } from '../../operators/features/features.ts';
import { momentumDirection } from '../../operators/signals/momentum.kernel.ts';
import {
  chooseArm,
  emptyArm,
  episodeDraw,
  rewardArm,
  type ArmStats,
} from '../../operators/allocation/bandit.kernel.ts';
import {
  atrRiskQuantity,
  emptyRecord,
  kellyEstimate,
  kellyFraction,
  recordTrade,
} from '../../operators/sizing/sizing.kernel.ts';
import { checkEntry, stopOutsInWindow } from '../../operators/risk/risk.kernel.ts';
import {
  initialStopDistance,
  initialStopPrice,
  stepTrail,
  takeProfitPrice,
  type TrailState,
} from '../../operators/stops/stops.kernel.ts';
import { marketQuantity, minimumMarketQuantity } from '../../operators/execution/precision.kernel.ts';
import { Ledger, type ClosedTrade } from '../../operators/portfolio/portfolio.kernel.ts';
import {
  fundingTimesBetween,
  slippedInBar,
  slippageBps,
  stopTriggerPrice,
  takeProfitTriggerPrice,
} from '../../backtests/fill-model.kernel.ts';

/**
 * The default strategy written the way a quant would hand-write it: one for-loop over typed
 * arrays, no streams, no event objects — the same kernels, in the same order as the pipeline's
 * stages. It exists to measure what the pipeline's structure costs (bench: pipeline / loop) and,
 * because it must produce the same trades, as an independent check of the pipeline's wiring.
 * Momentum only (no agents), bot-side stops, zero latency.
 */

interface MarketOrder {
  side: 1 | -1;
  qty: number;
  reduceOnly: boolean;
  refPrice: number;
  maxSlip: number;
  reason: 'entry' | 'exit' | 'delever' | 'halt-flatten';
  entryKey: number;
}

interface Sym {
  name: string;
  cols: BarColumns;
  i: number;
  features: FeatureState;
  atr: number;
  venuePos: number;
  lastOpen: number;
  market: MarketOrder[];
  stop: { side: 1 | -1; price: number; reason: 'stop' | 'trailing-stop' } | null;
  tp: { side: 1 | -1; price: number } | null;
  trail: (TrailState & { open: boolean; entryKey: number; tp: number }) | null;
  arm: ArmStats;
  armOpen: ArmStats | null;
  stopDistanceAtEntry: number;
  lastStopBar: number;
  delevering: boolean;
  inFlight: number;
  /** notional of the entry in flight, at its decision price */
  inFlightNotional: number;
  /** the entry that opened (or will open) the position was an exploration */
  explored: boolean;
  filters: SymbolFilters;
}

export interface LoopResult {
  trades: ClosedTrade[];
  /** per trade: opened by a bandit exploration */
  explored: boolean[];
  finalEquity: number;
  bars: number;
}

export function runLoopStrategy(
  settings: Settings,
  series: readonly BarColumns[],
  filters: ReadonlyMap<string, SymbolFilters>,
): LoopResult {
  const s = settings;
  const params = featureParams(s);
  const barMs = intervalToMs(s.BAR_INTERVAL);
  const rng = createRng(deriveSeed(s.SEED, 'bandit'));
  const ledger = new Ledger(s.INITIAL_BALANCE);
  const record = emptyRecord(s.KELLY_WINDOW_TRADES);
  const trades: ClosedTrade[] = [];
  const exploredTrades: boolean[] = [];
  const syms: Sym[] = series.map((cols) => ({
    name: cols.symbol,
    cols,
    i: 0,
    features: new FeatureState(params),
    atr: 0,
    venuePos: 0,
    lastOpen: -Infinity,
    market: [],
    stop: null,
    tp: null,
    trail: null,
    arm: emptyArm(s.BANDIT_WINDOW_TRADES),
    armOpen: null,
    stopDistanceAtEntry: 0,
    lastStopBar: Number.NaN,
    delevering: false,
    inFlight: 0,
    inFlightNotional: 0,
    explored: false,
    filters: filters.get(cols.symbol)!,
  }));
  let entryCounter = 0;
  let changed = true;
  let halted = false;
  let equity = s.INITIAL_BALANCE;
  let drawdown = 0;
  let gross = 0;
  let inFlightCount = 0;
  let inFlightExposure = 0;
  const land = (x: Sym): void => {
    x.inFlight = 0;
    inFlightCount--;
    inFlightExposure = inFlightCount === 0 ? 0 : inFlightExposure - x.inFlightNotional;
    x.inFlightNotional = 0;
  };
  const stopBars: number[] = [];
  let lockedUntil = -1;
  let bars = 0;

  const onFill = (
    x: Sym,
    side: 1 | -1,
    qty: number,
    price: number,
    time: number,
    reason: ClosedTrade['exitReason'] | 'entry' | 'exit' | 'stop' | 'take-profit' | 'trailing-stop',
    entryKey: number,
  ): void => {
    x.venuePos += side * qty;
    if (Math.abs(x.venuePos) < 1e-12) x.venuePos = 0;
    const fee = qty * price * s.TAKER_FEE;
    const orderReason = reason === 'signal' ? 'exit' : reason === 'end-of-data' ? 'exit' : reason;
    const t = ledger.applyFill(x.name, side === 1 ? 'BUY' : 'SELL', qty, price, fee, time, orderReason);
    changed = true;
    if (entryKey > 0 && x.inFlight === entryKey) land(x);
    if (x.trail !== null && entryKey > 0 && x.trail.entryKey === entryKey) {
      x.trail.open = true;
      x.trail.entry = price;
      x.trail.best = price;
    }
    if (t === null) return;
    trades.push(t);
    exploredTrades.push(x.explored);
    const net = t.pnl - t.fees - t.funding;
    if (x.armOpen !== null) rewardArm(x.armOpen, net / (t.entryPrice * t.quantity), s.BANDIT_REWARD_CLIP);
    if (x.stopDistanceAtEntry > 0) recordTrade(record, net / (t.quantity * x.stopDistanceAtEntry));
    if (t.exitReason === 'stop' && net < 0) {
      const bar = Math.floor(time / barMs);
      x.lastStopBar = bar;
      stopBars.push(bar);
      if (stopBars.length > 256) stopBars.splice(0, stopBars.length - 256);
      if (
        s.STOPLOSS_GUARD_TRADES > 0 &&
        stopOutsInWindow(stopBars, bar, s.STOPLOSS_GUARD_WINDOW_BARS) >= s.STOPLOSS_GUARD_TRADES
      )
        lockedUntil = bar + s.STOPLOSS_GUARD_LOCK_BARS;
    }
  };

  const reduce = (x: Sym, keep: number, reason: 'delever' | 'halt-flatten', price: number): void => {
    const pos = ledger.positions.get(x.name);
    if (pos === undefined) return;
    let qty = Math.abs(pos.qty);
    if (keep !== 0) {
      const q = marketQuantity(x.filters, qty * (1 - keep), pos.mark);
      if (!q.ok) return;
      qty = q.quantity;
    }
    x.market.push({
      side: pos.qty > 0 ? -1 : 1,
      qty,
      reduceOnly: true,
      refPrice: price,
      maxSlip: 0,
      reason,
      entryKey: 0,
    });
  };

  for (;;) {
    // next bar in time order, ties in series order (the same merge the pipeline's source does)
    let x: Sym | null = null;
    let best = Infinity;
    for (const c of syms) {
      if (c.i < c.cols.length) {
        const t = c.cols.openTime[c.i]!;
        if (t < best) {
          best = t;
          x = c;
        }
      }
    }
    if (x === null) break;
    const k = x.i++;
    bars++;
    const c = x.cols;
    const openTime = c.openTime[k]!;
    const time = openTime + c.intervalMs;
    const open = c.open[k]!;
    const high = c.high[k]!;
    const low = c.low[k]!;
    const close = c.close[k]!;

    // venue: funding, market orders at the open, then protective orders inside the bar
    if (x.venuePos !== 0) {
      for (let n = fundingTimesBetween(x.lastOpen, openTime).length; n > 0; n--) {
        const amount = s.FUNDING_RATE * x.venuePos * open;
        ledger.applyFunding(x.name, amount);
        changed = true;
      }
    }
    x.lastOpen = openTime;
    if (x.market.length > 0) {
      const due = x.market;
      x.market = [];
      for (const o of due) {
        const price = slippedInBar(open, o.side === 1 ? 'BUY' : 'SELL', s.SLIPPAGE_BPS, { open, high, low });
        let qty = o.qty;
        if (o.reduceOnly) {
          const closing = -o.side * x.venuePos;
          if (closing <= 0) continue;
          qty = Math.min(qty, closing);
        } else if (o.maxSlip > 0 && slippageBps(price, o.refPrice) > o.maxSlip) {
          if (x.inFlight === o.entryKey) land(x);
          if (x.trail !== null && x.trail.entryKey === o.entryKey) x.trail = null;
          continue;
        } else if (!marketQuantity(x.filters, qty, price).ok) {
          if (x.inFlight === o.entryKey) land(x);
          if (x.trail !== null && x.trail.entryKey === o.entryKey) x.trail = null;
          continue;
        }
        onFill(x, o.side, qty, price, openTime, o.reason, o.entryKey);
      }
    }
    if (x.stop !== null || x.tp !== null) {
      if (x.venuePos === 0) {
        x.stop = null;
        x.tp = null;
      } else {
        const side: 1 | -1 = x.venuePos > 0 ? 1 : -1;
        const bar = { open, high, low };
        const stopAt =
          x.stop !== null && x.stop.side === -side ? stopTriggerPrice(side, x.stop.price, bar) : Number.NaN;
        const tpAt = x.tp !== null && x.tp.side === -side ? takeProfitTriggerPrice(side, x.tp.price, bar) : Number.NaN;
        if (!Number.isNaN(stopAt) || !Number.isNaN(tpAt)) {
          const byStop = !Number.isNaN(stopAt);
          const px = slippedInBar(byStop ? stopAt : tpAt, side === 1 ? 'SELL' : 'BUY', s.SLIPPAGE_BPS, bar);
          onFill(x, -side as 1 | -1, Math.abs(x.venuePos), px, time, byStop ? x.stop!.reason : 'take-profit', 0);
          x.stop = null;
          x.tp = null;
        }
      }
    }

    // portfolio: mark and book-keep; risk reacts to drawdown, stops forget closed positions
    const held = ledger.mark(x.name, close);
    if (changed || held || ledger.positions.size > 0) {
      changed = false;
      const u = ledger.unrealized();
      equity = ledger.balance + u;
      if (equity > ledger.peakEquity) ledger.peakEquity = equity;
      drawdown = ledger.peakEquity > 0 ? 1 - equity / ledger.peakEquity : 0;
      gross = ledger.grossExposure();
      if (!halted && drawdown >= s.MAX_DRAWDOWN) {
        halted = true;
        for (const y of syms) reduce(y, 0, 'halt-flatten', ledger.positions.get(y.name)?.mark ?? 0);
      }
      for (const y of syms) if (y.trail !== null && y.trail.open && !ledger.positions.has(y.name)) y.trail = null;
    }

    // features; then risk's delever check and the trailing stop, as the pipeline orders them
    const f = x.features;
    if (!f.update(high, low, close)) continue;
    x.atr = f.atr;
    if (!halted) {
      const hot = f.volatility > s.VOLATILITY_DELEVER_THRESHOLD;
      if (hot && !x.delevering) {
        x.delevering = true;
        reduce(x, s.AUTO_DELEVER_FACTOR, 'delever', close);
      } else if (!hot) x.delevering = false;
    }
    if (
      x.trail !== null &&
      x.trail.open &&
      stepTrail(x.trail, x.trail.side === 1 ? high : low, s.TRAILING_STOP_BUFFER, s.TRAILING_STEP)
    ) {
      x.stop = { side: -x.trail.side as 1 | -1, price: x.trail.stop, reason: 'trailing-stop' };
    }

    // momentum → consensus → bandit → sizing → risk → stops → execution
    const direction = momentumDirection(f.lookbackReturn, s.MOMENTUM_THRESHOLD);
    if (direction === 0) continue;
    const pos = ledger.positions.get(x.name);
    if (pos !== undefined) {
      if (Math.sign(pos.qty) !== direction) {
        x.market.push({
          side: pos.qty > 0 ? -1 : 1,
          qty: Math.abs(pos.qty),
          reduceOnly: true,
          refPrice: close,
          maxSlip: 0,
          reason: 'exit',
          entryKey: 0,
        });
      }
      continue;
    }
    const draw = episodeDraw(x.arm, time, barMs, rng);
    const choice = chooseArm(x.arm, s.BANDIT_EPSILON, draw, s.BANDIT_MIN_TRADES);
    if (!choice.take) continue;
    x.armOpen = x.arm;
    if (!(equity > 0)) continue;
    const stopDistance = initialStopDistance(f.atr, s.ATR_STOP_MULTIPLE);
    if (!(stopDistance > 0)) continue;
    // an exploration gets BANDIT_PROBE_SHARE of the normal size, at least the exchange minimum
    const share = choice.explored ? s.BANDIT_PROBE_SHARE : 1;
    let explored = choice.explored;
    let qty: number;
    if (s.SIZING_MODE === 'kelly') {
      const fr = kellyFraction(
        kellyEstimate(record, s.EXPECTED_WIN_RATE, s.REWARD_TO_RISK, s.KELLY_PRIOR_TRADES),
        s.KELLY_FRACTION,
        s.KELLY_FRACTION_CAP,
      );
      qty = (Math.max(0, fr) * equity * share) / close;
      // no tradeable edge (not positive, or below the exchange minimum): only an exploring episode trades
      if (!(fr > 0) || qty < minimumMarketQuantity(x.filters, close)) {
        if (!(draw < s.BANDIT_EPSILON) && !explored) continue;
        explored = true;
      }
    } else if (s.SIZING_MODE === 'fixed') qty = (s.NOTIONAL_FRACTION * equity * share) / close;
    else qty = atrRiskQuantity(equity, s.RISK_PER_TRADE, stopDistance) * share;
    if (explored) qty = Math.max(qty, minimumMarketQuantity(x.filters, close));
    const sized = marketQuantity(x.filters, qty, close);
    if (!sized.ok) continue;
    x.stopDistanceAtEntry = stopDistance;
    // risk
    const bar = Math.floor(time / barMs);
    if (halted || x.inFlight !== 0) continue;
    if (bar <= lockedUntil) continue;
    if (!Number.isNaN(x.lastStopBar) && bar - x.lastStopBar < s.COOLDOWN_BARS) continue;
    const check = checkEntry({
      quantity: sized.quantity,
      price: close,
      stopDistance,
      equity,
      grossExposure: gross,
      pendingExposure: inFlightExposure,
      marginUsed: gross / s.LEVERAGE,
      leverage: s.LEVERAGE,
      openPositions: ledger.positions.size + inFlightCount,
      maxPositionRisk: s.MAX_POSITION_RISK,
      maxLeverage: s.MAX_PORTFOLIO_LEVERAGE,
      maxConcurrent: s.MAX_CONCURRENT_POSITIONS,
      sizeScale: x.delevering ? s.AUTO_DELEVER_FACTOR : 1,
    });
    if (!check.ok) continue;
    let finalQty = sized.quantity;
    if (check.quantity < sized.quantity) {
      const q = marketQuantity(x.filters, check.quantity, close);
      if (!q.ok) continue;
      finalQty = q.quantity;
    }
    const key = ++entryCounter;
    x.explored = explored;
    x.inFlight = key;
    inFlightCount++;
    x.inFlightNotional = finalQty * close;
    inFlightExposure += x.inFlightNotional;
    x.market.push({
      side: direction,
      qty: finalQty,
      reduceOnly: false,
      refPrice: close,
      maxSlip: s.MAX_SLIPPAGE_BPS,
      reason: 'entry',
      entryKey: key,
    });
    // stops: the bracket goes out with the entry
    const stop = initialStopPrice(close, direction, stopDistance);
    const tp = takeProfitPrice(close, direction, stopDistance, s.REWARD_TO_RISK);
    x.trail = { side: direction, entry: close, stop, best: close, trailing: false, open: false, entryKey: key, tp };
    x.stop = { side: -direction as 1 | -1, price: stop, reason: 'stop' };
    x.tp = { side: -direction as 1 | -1, price: tp };
  }
  return { trades, explored: exploredTrades, finalEquity: ledger.balance + ledger.unrealized(), bars };
}
