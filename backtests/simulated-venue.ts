import type { Observable, OperatorFunction } from 'rxjs';
import { defineOperator } from '../pipelines/operator-kit.ts';
import type {
  Bar,
  Fill,
  FundingPayment,
  FundingRate,
  Order,
  OrderRejected,
  SymbolFilters,
} from '../pipelines/model/index.ts';
import type { ExecutionPort, VenueEvent, VenueRequest, VenueStateHooks } from '../pipelines/ports.ts';
import { CANCELLED_BY_OPERATOR } from '../pipelines/model/index.ts';
import { entriesToMap, mapToEntries } from '../pipelines/stage.ts';
import { marketQuantity } from '../operators/execution/precision.kernel.ts';
import { slippedInBar, slippageBps, stopTriggerPrice, takeProfitTriggerPrice } from './fill-model.kernel.ts';
import type { BacktestSettings } from './backtest.settings.ts';
import { fundingSchedule, type FundingSchedule } from './funding.kernel.ts';
import type { PortfolioSettings } from '../operators/portfolio/portfolio.settings.ts';
import { Ledger } from '../operators/portfolio/portfolio.kernel.ts';
import {
  accountMargin,
  bracketsOf,
  isLiquidatable,
  liquidationFee,
  liquidationFillPrice,
  liquidationPrice,
  maxLeverage,
  maxNotional,
  type BracketTable,
  type MarginPosition,
} from '../pipelines/margin/margin.kernel.ts';
import { leverageBrackets } from '../pipelines/margin/leverage-brackets.ts';
import { SapphireError } from '../pipelines/errors.ts';
import { DEFAULT_LIQUIDITY, type LiquiditySettings } from '../pipelines/liquidity/liquidity.settings.ts';
import { levelQuantity, liquidityParams, walkPrice } from '../pipelines/liquidity/liquidity.kernel.ts';

export interface SimulatedVenueDeps {
  filters: ReadonlyMap<string, SymbolFilters>;
  /** funding history; symbols or times it lacks use FUNDING_RATE */
  fundingRates?: readonly FundingRate[];
  /** when to settle funding (see funding.kernel.ts); default: built from fundingRates */
  funding?: FundingSchedule;
  /** leverage brackets; default: LEVERAGE_BRACKETS_FILE, else the shipped table */
  brackets?: BracketTable;
}

interface SymbolBook {
  position: number;
  market: Order[];
  /** the working protective orders */
  stop: Order | null;
  takeProfit: Order | null;
  /** replacements sent but not yet live (LATENCY_MS): the working ones protect until they are */
  pendingStop: Order | null;
  pendingTakeProfit: Order | null;
  lastOpenTime: number;
  /** traded volume of the symbol's last bar: the book depth the next fills walk (liquidity kernel) */
  lastVolume: number | undefined;
  /** orders an operator withdrew, told (order-rejected) at the symbol's next bar, before its fills */
  withdrawn?: Order[];
}

/**
 * The backtest venue. An order decided at a bar's close reaches the venue LATENCY_MS later and
 * fills at the open of the first bar of its symbol that starts at or after that moment — never on
 * the bar that produced it. Protective stop/take-profit orders work inside each bar (after any
 * entry at its open), conservatively; a replaced one keeps working until its replacement is live.
 * Slippage never prints outside the bar's [low, high] (it is clamped to the range); market impact
 * comes on top (pipelines/liquidity, the simulator's kernel): a fill walks a book modelled on the
 * symbol's previous bar volume, so a large order can pay beyond the range. Funding is
 * settled by funding.kernel.ts's rule (a rate applies at the first bar opening at or after its time).
 *
 * Margin (pipelines/margin): the venue keeps the account's wallet balance. On each bar of a held
 * symbol it checks the cross-margin liquidation price of that position (the other positions at
 * their last close) against the bar's adverse extreme; reached before the stop, the account is
 * liquidated: this position at its liquidation price (the open on a gap), then, while margin
 * balance stays at or below maintenance, the others at their last close; each pays LIQUIDATION_FEE.
 *
 * An operator's cancel-order takes a working order off the book at once (it can no longer fill);
 * the venue says so at the symbol's next bar, before that bar's fills, with an order-rejected
 * event (reason CANCELLED_BY_OPERATOR). A cancel for an order not on the book does nothing.
 */
export function simulatedVenue(s: VenueSettings, deps: SimulatedVenueDeps): ExecutionPort {
  const liquidity = liquidityParams({ ...DEFAULT_LIQUIDITY, ...definedOnly(s) });
  /** the taker's average price for `qty` from `touch` through the book modelled on the symbol's last bar */
  const withImpact = (touch: number, side: 'BUY' | 'SELL', qty: number, b: SymbolBook, symbol: string): number => {
    if (b.lastVolume === undefined) return touch; // no bar seen yet: no depth to model
    const minQty = deps.filters.get(symbol)?.minQty ?? 0;
    return walkPrice(liquidity, touch, side, qty, levelQuantity(liquidity, b.lastVolume, minQty));
  };
  const brackets = deps.brackets ?? leverageBrackets(s.LEVERAGE_BRACKETS_FILE ?? '');
  const bracketSource = s.LEVERAGE_BRACKETS_FILE || 'the shipped leverage brackets (pipelines/margin)';
  const liquidationRate = s.LIQUIDATION_FEE ?? 0.025;
  const leverage = s.LEVERAGE ?? 5;
  // the exchange refuses a leverage above the symbol's first bracket: so does the backtest
  for (const symbol of deps.filters.keys()) {
    const b = brackets.get(symbol);
    if (b !== undefined && leverage > maxLeverage(b, 0))
      throw new SapphireError(
        'SETTINGS_INVALID',
        `LEVERAGE=${leverage} is above ${symbol}'s maximum of ${maxLeverage(b, 0)}× (${bracketSource})`,
      );
  }
  const funding = deps.funding ?? fundingSchedule(deps.fundingRates ?? [], s.FUNDING_RATE);

  return {
    attach(orders: Observable<VenueRequest>, state?: VenueStateHooks): OperatorFunction<Bar, Bar | VenueEvent> {
      return defineOperator<Bar, Bar | VenueEvent>((emit) => {
        const books = new Map<string, SymbolBook>();
        // the account as the exchange sees it: wallet balance and positions (for margin)
        const ledger = new Ledger(s.INITIAL_BALANCE ?? 10_000);
        if (state?.restore !== undefined && state.restore !== null) restoreVenue(state.restore, books, ledger);
        state?.onOpen?.(() => ({ books: mapToEntries(books, (b) => ({ ...b })), ledger: ledger.snapshot() }));
        const ctx: VenueContext = {
          s,
          deps,
          books,
          ledger,
          emit,
          withImpact,
          brackets,
          bracketSource,
          liquidationRate,
          leverage,
          funding,
        };
        const { book, reject, fill, fillMarket } = orderFills(ctx);
        const { runProtective, promote } = protection(ctx, fill, book);
        const { settleFunding, withdraw } = bookkeeping(ctx);

        const orderSubscription = orders.subscribe({
          next(o) {
            const b = book(o.symbol);
            if (o.kind === 'cancel-order') {
              const gone = withdraw(b, o.clientOrderId);
              if (gone !== null) (b.withdrawn ??= []).push(gone);
            } else if (o.type === 'MARKET') b.market.push(o);
            else if (o.type === 'STOP_MARKET') b.pendingStop = o;
            else b.pendingTakeProfit = o;
          },
        });

        return {
          next(bar) {
            const b = book(bar.symbol);
            if (b.position !== 0) settleFunding(b, bar);
            b.lastOpenTime = bar.openTime;
            if (b.withdrawn !== undefined && b.withdrawn.length > 0) {
              for (const o of b.withdrawn) reject(o, bar.openTime, CANCELLED_BY_OPERATOR);
              b.withdrawn = [];
            }
            promote(b, bar);
            if (b.market.length > 0) {
              const due: Order[] = [];
              const later: Order[] = [];
              for (const o of b.market) (o.time + s.LATENCY_MS <= bar.openTime ? due : later).push(o);
              b.market = later;
              for (const o of due) fillMarket(o, b, bar);
            }
            if (b.position === 0 && b.market.length === 0) {
              // the position they guarded is gone (or never filled): protective orders expire once live
              b.stop = null;
              b.takeProfit = null;
            } else {
              runProtective(b, bar);
            }
            ledger.mark(bar.symbol, bar.close);
            b.lastVolume = bar.volume;
            emit(bar);
          },
          teardown: () => orderSubscription.unsubscribe(),
        };
      });
    },
  };
}

type VenueSettings = Pick<BacktestSettings, 'TAKER_FEE' | 'SLIPPAGE_BPS' | 'LATENCY_MS' | 'FUNDING_RATE'> &
  Partial<Pick<PortfolioSettings, 'INITIAL_BALANCE' | 'LEVERAGE' | 'LEVERAGE_BRACKETS_FILE' | 'LIQUIDATION_FEE'>> &
  Partial<LiquiditySettings>;

/** One subscription's venue: its books and account, and what it emits into; shared by its parts below. */
interface VenueContext {
  s: VenueSettings;
  deps: SimulatedVenueDeps;
  books: Map<string, SymbolBook>;
  ledger: Ledger;
  emit: (e: Bar | VenueEvent) => void;
  withImpact: (touch: number, side: 'BUY' | 'SELL', qty: number, b: SymbolBook, symbol: string) => number;
  brackets: BracketTable;
  bracketSource: string;
  liquidationRate: number;
  leverage: number;
  funding: FundingSchedule;
}

type FillFn = (
  o: Order,
  b: SymbolBook,
  side: 'BUY' | 'SELL',
  qty: number,
  price: number,
  time: number,
  fee?: number,
) => void;

/** Orders reaching the book: the symbol's book, rejections, fills and market-order fills at a bar's open. */
function orderFills(ctx: VenueContext) {
  const { s, deps, books, ledger, emit, withImpact, brackets, bracketSource, leverage } = ctx;
  const book = (symbol: string): SymbolBook => {
    let b = books.get(symbol);
    if (b === undefined)
      books.set(
        symbol,
        (b = {
          position: 0,
          market: [],
          stop: null,
          takeProfit: null,
          pendingStop: null,
          pendingTakeProfit: null,
          lastOpenTime: -Infinity,
          lastVolume: undefined,
        }),
      );
    return b;
  };
  const reject = (o: Order, time: number, reason: string): void => {
    const r: OrderRejected = {
      kind: 'order-rejected',
      time,
      symbol: o.symbol,
      clientOrderId: o.clientOrderId,
      reason,
    };
    emit(r);
  };
  const fill = (
    o: Order,
    b: SymbolBook,
    side: 'BUY' | 'SELL',
    qty: number,
    price: number,
    time: number,
    fee = qty * price * s.TAKER_FEE,
  ): void => {
    b.position += side === 'BUY' ? qty : -qty;
    if (Math.abs(b.position) < 1e-12) b.position = 0;
    if (b.position !== 0) bracketsOf(brackets, o.symbol, bracketSource); // no margin model, no trading
    const f: Fill = {
      kind: 'fill',
      time,
      symbol: o.symbol,
      clientOrderId: o.clientOrderId,
      side,
      quantity: qty,
      price,
      fee,
      liquidity: 'taker',
      reason: o.reason,
      explored: o.explored === true,
    };
    ledger.applyFill(o.symbol, side, qty, price, fee, time, o.reason);
    emit(f);
  };
  const fillMarket = (o: Order, b: SymbolBook, bar: Bar): void => {
    let qty = o.quantity;
    if (o.reduceOnly) {
      const closing = o.side === 'BUY' ? -b.position : b.position;
      if (closing <= 0) return reject(o, bar.openTime, 'reduce-only order with no position to reduce');
      qty = Math.min(qty, closing);
    }
    const price = withImpact(slippedInBar(bar.open, o.side, s.SLIPPAGE_BPS, bar), o.side, qty, b, o.symbol);
    // no slippage guard on a reduce-only order: it must get out
    if (!o.reduceOnly && o.maxSlippageBps > 0 && slippageBps(price, o.refPrice) > o.maxSlippageBps) {
      return reject(
        o,
        bar.openTime,
        `slippage guard: fill ${price} is ${slippageBps(price, o.refPrice).toFixed(1)} bps from ${o.refPrice}, limit ${o.maxSlippageBps}`,
      );
    }
    const filters = deps.filters.get(o.symbol);
    if (filters !== undefined && !o.reduceOnly) {
      const q = marketQuantity(filters, qty, price);
      if (!q.ok) return reject(o, bar.openTime, q.reason);
    }
    if (!o.reduceOnly) {
      // a position may not outgrow the brackets that allow the leverage it is held at
      const after = Math.abs(b.position + (o.side === 'BUY' ? qty : -qty)) * price;
      const cap = maxNotional(bracketsOf(brackets, o.symbol, bracketSource), leverage);
      if (after > cap)
        return reject(
          o,
          bar.openTime,
          `position notional ${after.toFixed(2)} above ${cap} allowed at ${leverage}× (leverage brackets)`,
        );
    }
    fill(o, b, o.side, qty, price, bar.openTime);
  };
  return { book, reject, fill, fillMarket };
}

/** Stops, take-profits and liquidation on each bar of a held symbol, and replacements going live. */
function protection(ctx: VenueContext, fill: FillFn, book: (symbol: string) => SymbolBook) {
  const { s, ledger, withImpact, brackets, liquidationRate, leverage } = ctx;
  const positionsForMargin = (): MarginPosition[] => {
    const out: MarginPosition[] = [];
    for (const p of ledger.positions.values()) out.push({ symbol: p.symbol, qty: p.qty, entry: p.entry, mark: p.mark });
    return out;
  };
  /** closes `symbol`'s whole position as a liquidation at `price` */
  const liquidate = (symbol: string, price: number, time: number): void => {
    const b = book(symbol);
    const pos = ledger.positions.get(symbol);
    if (pos === undefined || b.position === 0) return;
    const qty = Math.abs(b.position);
    const side = b.position > 0 ? 'SELL' : 'BUY';
    // margin balance left once this position is closed at `price`: what the fee may take
    const after = ledger.balance + ledger.unrealized() + pos.qty * (price - pos.mark);
    const order: Order = {
      kind: 'order',
      time,
      symbol,
      clientOrderId: `autoclose-${symbol}-${time}`,
      side,
      type: 'MARKET',
      quantity: qty,
      reduceOnly: true,
      stopPrice: 0,
      refPrice: price,
      maxSlippageBps: 0,
      reason: 'liquidation',
    };
    fill(order, b, side, qty, price, time, liquidationFee(qty * price, liquidationRate, after));
    // the exchange cancels the account's working orders on liquidation
    b.stop = null;
    b.takeProfit = null;
  };
  const runProtective = (b: SymbolBook, bar: Bar): void => {
    if (b.position === 0) return;
    const side: 1 | -1 = b.position > 0 ? 1 : -1;
    const closeSide = side === 1 ? 'SELL' : 'BUY';
    const live = (o: Order | null): o is Order => o !== null && o.side === closeSide;
    const stopAt = live(b.stop) ? stopTriggerPrice(side, b.stop.stopPrice, bar) : Number.NaN;
    const tpAt = live(b.takeProfit) ? takeProfitTriggerPrice(side, b.takeProfit.stopPrice, bar) : Number.NaN;
    // liquidation on the adverse path: reached before the stop (higher for a long), it comes first
    const liqAt = liquidationFillPrice(
      side,
      liquidationPrice(ledger.balance, positionsForMargin(), bar.symbol, brackets),
      bar,
    );
    if (!Number.isNaN(liqAt) && (Number.isNaN(stopAt) || side * (liqAt - stopAt) > 0)) {
      liquidate(bar.symbol, liqAt, bar.time);
      ledger.mark(bar.symbol, liqAt);
      for (const other of [...ledger.positions.keys()]) {
        const m = accountMargin(ledger.balance, positionsForMargin(), brackets, () => leverage);
        if (!isLiquidatable(m)) break;
        liquidate(other, ledger.positions.get(other)!.mark, bar.time);
      }
      return;
    }
    // both touched inside one bar: the path is unknown, so assume the stop came first
    const order = !Number.isNaN(stopAt) ? b.stop : !Number.isNaN(tpAt) ? b.takeProfit : null;
    if (order === null) return;
    const trigger = !Number.isNaN(stopAt) ? stopAt : tpAt;
    const qty = Math.abs(b.position);
    const price = withImpact(slippedInBar(trigger, closeSide, s.SLIPPAGE_BPS, bar), closeSide, qty, b, bar.symbol);
    fill(order, b, closeSide, qty, price, bar.time);
    b.stop = null;
    b.takeProfit = null;
  };
  /** a replacement becomes the working order once it has reached the venue */
  const promote = (b: SymbolBook, bar: Bar): void => {
    if (b.pendingStop !== null && isDue(b.pendingStop, bar)) {
      b.stop = b.pendingStop;
      b.pendingStop = null;
    }
    if (b.pendingTakeProfit !== null && isDue(b.pendingTakeProfit, bar)) {
      b.takeProfit = b.pendingTakeProfit;
      b.pendingTakeProfit = null;
    }
  };
  const isDue = (o: Order | null, bar: Bar): boolean => o !== null && o.time + s.LATENCY_MS <= bar.openTime;
  return { runProtective, promote };
}

/** Funding at its times, and an operator's cancel taking an order off the book. */
function bookkeeping(ctx: VenueContext) {
  const { ledger, emit, funding } = ctx;
  const settleFunding = (b: SymbolBook, bar: Bar): void => {
    // a row applies at the first bar opening at or after its funding time
    for (const { time: t, rate } of funding.due(bar.symbol, b.lastOpenTime, bar.openTime)) {
      const payment: FundingPayment = {
        kind: 'funding',
        time: t,
        symbol: bar.symbol,
        rate,
        positionQty: b.position,
        markPrice: bar.open,
        amount: rate * b.position * bar.open,
      };
      ledger.applyFunding(bar.symbol, payment.amount);
      emit(payment);
    }
  };
  /** takes `id` off the symbol's book; the order withdrawn, or null when it is not there */
  const withdraw = (b: SymbolBook, id: string): Order | null => {
    const i = b.market.findIndex((o) => o.clientOrderId === id);
    if (i >= 0) return b.market.splice(i, 1)[0]!;
    for (const key of ['stop', 'takeProfit', 'pendingStop', 'pendingTakeProfit'] as const) {
      const o = b[key];
      if (o !== null && o.clientOrderId === id) {
        b[key] = null;
        return o;
      }
    }
    return null;
  };
  return { settleFunding, withdraw };
}

/** Puts a simulated venue's snapshot (books and account) back into a fresh subscription. */
function restoreVenue(state: unknown, books: Map<string, SymbolBook>, ledger: Ledger): void {
  const st = state as { books: [string, SymbolBook][]; ledger: Parameters<Ledger['restore']>[0] };
  entriesToMap<SymbolBook, SymbolBook>(
    st.books,
    (b) => ({ ...b, market: [...b.market], withdrawn: [...(b.withdrawn ?? [])] }),
    books,
  );
  ledger.restore(st.ledger);
}

/** the settings given, without keys set to undefined (so defaults apply to them) */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
