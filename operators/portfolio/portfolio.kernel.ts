import type { ExitReason, OrderReason, PositionView, Side } from '../../pipelines/model/index.ts';

/**
 * Perpetual-futures accounting for one account, in quote currency (USDT).
 * balance = initial + realised − fees − funding; equity = balance + unrealised.
 * Positions use the average-entry method, as the exchange does.
 */

export interface OpenPosition {
  symbol: string;
  /** signed quantity */
  qty: number;
  entry: number;
  mark: number;
  openedAt: number;
  /** largest |qty| held during this trade: the base of its return */
  peakQty: number;
  realized: number;
  fees: number;
  funding: number;
}

export interface ClosedTrade {
  symbol: string;
  side: 'LONG' | 'SHORT';
  quantity: number;
  entryPrice: number;
  exitPrice: number;
  openedAt: number;
  closedAt: number;
  pnl: number;
  fees: number;
  funding: number;
  exitReason: ExitReason;
}

const EXIT_REASON: Record<OrderReason, ExitReason> = {
  entry: 'signal',
  exit: 'signal',
  delever: 'delever',
  'halt-flatten': 'halt-flatten',
  stop: 'stop',
  'trailing-stop': 'trailing-stop',
  'take-profit': 'take-profit',
  liquidation: 'liquidation',
  'end-of-data': 'end-of-data',
};

export interface LedgerState {
  balance: number;
  realized: number;
  fees: number;
  funding: number;
  peakEquity: number;
  positions: OpenPosition[];
}

/** quantities are exchange steps ≥ 1e-8; anything smaller is floating dust */
const DUST = 1e-10;

export class Ledger {
  balance: number;
  realized = 0;
  fees = 0;
  funding = 0;
  peakEquity: number;
  readonly positions = new Map<string, OpenPosition>();

  constructor(readonly initialBalance: number) {
    this.balance = initialBalance;
    this.peakEquity = initialBalance;
  }

  /** Applies a fill; returns the trade it closed, if any. A flip closes one trade and opens another. */
  applyFill(
    symbol: string,
    side: Side,
    quantity: number,
    price: number,
    fee: number,
    time: number,
    reason: OrderReason,
  ): ClosedTrade | null {
    if (!(quantity > 0) || !(price > 0) || !Number.isFinite(fee)) {
      throw new Error(`fill ${symbol} ${side} ${quantity} @ ${price} fee ${fee} is not a valid fill`);
    }
    const signed = side === 'BUY' ? quantity : -quantity;
    this.fees += fee;
    this.balance -= fee;
    let pos = this.positions.get(symbol);
    if (pos === undefined || pos.qty === 0 || Math.sign(pos.qty) === Math.sign(signed)) {
      if (pos === undefined) {
        pos = { symbol, qty: 0, entry: 0, mark: price, openedAt: time, peakQty: 0, realized: 0, fees: 0, funding: 0 };
        this.positions.set(symbol, pos);
      }
      const newQty = pos.qty + signed;
      pos.entry = (pos.entry * Math.abs(pos.qty) + price * quantity) / Math.abs(newQty);
      pos.qty = newQty;
      pos.peakQty = Math.max(pos.peakQty, Math.abs(newQty));
      pos.fees += fee;
      pos.mark = price;
      return null;
    }
    // reducing, closing or flipping
    const closeQty = Math.min(quantity, Math.abs(pos.qty));
    const closeFee = (fee * closeQty) / quantity;
    const pnl = (price - pos.entry) * closeQty * Math.sign(pos.qty);
    this.realized += pnl;
    this.balance += pnl;
    pos.realized += pnl;
    pos.fees += closeFee;
    pos.qty += Math.sign(signed) * closeQty;
    pos.mark = price;
    if (Math.abs(pos.qty) > DUST * Math.max(1, pos.peakQty)) return null;

    const trade: ClosedTrade = {
      symbol,
      side: signed < 0 ? 'LONG' : 'SHORT',
      quantity: pos.peakQty,
      entryPrice: pos.entry,
      exitPrice: price,
      openedAt: pos.openedAt,
      closedAt: time,
      pnl: pos.realized,
      fees: pos.fees,
      funding: pos.funding,
      exitReason: EXIT_REASON[reason],
    };
    this.positions.delete(symbol);
    const rest = quantity - closeQty;
    if (rest > DUST * quantity) {
      this.positions.set(symbol, {
        symbol,
        qty: Math.sign(signed) * rest,
        entry: price,
        mark: price,
        openedAt: time,
        peakQty: rest,
        realized: 0,
        fees: fee - closeFee,
        funding: 0,
      });
    }
    return trade;
  }

  /** Funding settled on a position: positive amount = paid by us. */
  applyFunding(symbol: string, amount: number): void {
    this.funding += amount;
    this.balance -= amount;
    const pos = this.positions.get(symbol);
    if (pos !== undefined) pos.funding += amount;
  }

  mark(symbol: string, price: number): boolean {
    const pos = this.positions.get(symbol);
    if (pos === undefined) return false;
    pos.mark = price;
    return true;
  }

  unrealized(): number {
    let u = 0;
    for (const p of this.positions.values()) u += (p.mark - p.entry) * p.qty;
    return u;
  }

  grossExposure(): number {
    let g = 0;
    for (const p of this.positions.values()) g += Math.abs(p.qty) * p.mark;
    return g;
  }

  /** the books as JSON data (positions in insertion order, which views and exposure iterate in) */
  snapshot(): LedgerState {
    return {
      balance: this.balance,
      realized: this.realized,
      fees: this.fees,
      funding: this.funding,
      peakEquity: this.peakEquity,
      positions: [...this.positions.values()].map((p) => ({ ...p })),
    };
  }

  restore(state: LedgerState): void {
    this.balance = state.balance;
    this.realized = state.realized;
    this.fees = state.fees;
    this.funding = state.funding;
    this.peakEquity = state.peakEquity;
    this.positions.clear();
    for (const p of state.positions) this.positions.set(p.symbol, { ...p });
  }

  views(): PositionView[] {
    const out: PositionView[] = [];
    for (const p of this.positions.values()) {
      out.push({
        symbol: p.symbol,
        quantity: p.qty,
        entryPrice: p.entry,
        markPrice: p.mark,
        unrealizedPnl: (p.mark - p.entry) * p.qty,
        openedAt: p.openedAt,
      });
    }
    return out;
  }
}
