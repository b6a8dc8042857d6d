/**
 * The liquidity model, derived from real bars (one kernel for the backtest/paper venue and the
 * exchange simulator, so both price the same order the same way).
 *
 * Book: from the touch price outwards, level k (k = 0, 1, …) sits k × LEVEL_BPS basis points away
 * and holds L = LEVEL_SHARE × V, where V is the traded volume of the last completed bar (never the
 * bar being traded in: no look-ahead). A taker order of quantity Q walks the levels: with n = ⌊Q / L⌋
 * full levels and r = Q − nL on level n, its average distance from the touch is
 *   LEVEL_BPS × (L × n(n − 1)/2 + r × n) / Q  basis points,
 * so an order within the first level pays nothing extra and a large one pays about LEVEL_BPS × Q / 2L.
 * A bar with no volume leaves one `minLevelQty` (the symbol's minimum quantity) per level.
 *
 * Queue (resting limits): the bar's volume is taken as spread evenly over its range, the order's
 * own price level counting one tick wide; of the volume traded at or through the limit price, the
 * share QUEUE_SHARE reaches the order (the rest fills the queue ahead of it). A bar that opens
 * beyond the limit has moved through the order: it fills whole.
 */

export interface LiquidityParams {
  /** share of the last bar's volume on each level; 0 = unlimited depth */
  levelShare: number;
  /** basis points between levels */
  levelBps: number;
  /** share of the volume traded through a resting limit's price that reaches it; 0 = all */
  queueShare: number;
}

export type TakerSide = 'BUY' | 'SELL';

/** the kernel's parameters from the LIQUIDITY_* settings */
export function liquidityParams(s: {
  LIQUIDITY_LEVEL_SHARE: number;
  LIQUIDITY_LEVEL_BPS: number;
  LIQUIDITY_QUEUE_SHARE: number;
}): LiquidityParams {
  return { levelShare: s.LIQUIDITY_LEVEL_SHARE, levelBps: s.LIQUIDITY_LEVEL_BPS, queueShare: s.LIQUIDITY_QUEUE_SHARE };
}

/** quantity resting on each modelled level (Infinity when depth is unlimited) */
export function levelQuantity(p: LiquidityParams, lastBarVolume: number, minLevelQty: number): number {
  if (!(p.levelShare > 0)) return Infinity;
  return Math.max(p.levelShare * Math.max(0, lastBarVolume), minLevelQty > 0 ? minLevelQty : Number.MIN_VALUE);
}

/** average distance from the touch, in basis points, of a taker order walking `qty` through the levels */
export function impactBps(p: LiquidityParams, qty: number, levelQty: number): number {
  if (!(qty > 0) || !Number.isFinite(levelQty) || !(p.levelBps > 0)) return 0;
  const n = Math.floor(qty / levelQty + 1e-12);
  const rest = Math.max(0, qty - n * levelQty);
  return (p.levelBps * ((levelQty * n * (n - 1)) / 2 + rest * n)) / qty;
}

/** the touch moved against the taker by `bps` */
export function movedAgainst(touch: number, side: TakerSide, bps: number): number {
  return side === 'BUY' ? touch * (1 + bps / 10_000) : touch * (1 - bps / 10_000);
}

/** average fill price of a taker order of `qty` from `touch` */
export function walkPrice(p: LiquidityParams, touch: number, side: TakerSide, qty: number, levelQty: number): number {
  return movedAgainst(touch, side, impactBps(p, qty, levelQty));
}

/** how much a taker can buy (sell) from `touch` without any level beyond `limit` (IOC/FOK limits) */
export function quantityWithin(
  p: LiquidityParams,
  touch: number,
  side: TakerSide,
  limit: number,
  levelQty: number,
): number {
  const room = side === 'BUY' ? (limit / touch - 1) * 10_000 : (1 - limit / touch) * 10_000;
  if (room < -1e-9) return 0;
  if (!Number.isFinite(levelQty) || !(p.levelBps > 0)) return Infinity;
  return (Math.floor(room / p.levelBps + 1e-9) + 1) * levelQty;
}

export interface BarTrade {
  open: number;
  high: number;
  low: number;
  volume: number;
}

/**
 * Quantity of a resting limit order that fills in a bar that reached its price (see the queue
 * note above); `tick` is the symbol's tick size. Infinity = the whole order.
 */
export function restingFillQuantity(
  p: LiquidityParams,
  side: TakerSide,
  limit: number,
  bar: BarTrade,
  tick: number,
): number {
  if (!(p.queueShare > 0)) return Infinity;
  const gappedThrough = side === 'BUY' ? bar.open < limit : bar.open > limit;
  if (gappedThrough) return Infinity;
  const width = bar.high - bar.low + tick;
  const through = side === 'BUY' ? limit - bar.low + tick : bar.high - limit + tick;
  const share = width > 0 ? Math.min(1, Math.max(0, through / width)) : 1;
  return p.queueShare * Math.max(0, bar.volume) * share;
}
