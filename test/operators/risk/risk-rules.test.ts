import { describe, expect, it } from 'vitest';
import type {
  FeatureBar,
  OperatorCommand,
  OrderIntent,
  PortfolioSnapshot,
  TradeClosed,
} from '../../../pipelines/model/index.ts';
import { RiskBook } from '../../../operators/risk/risk-book.ts';
import { entryBlock } from '../../../operators/risk/entry-gate.ts';
import { recordStopOut } from '../../../operators/risk/stop-outs.ts';
import { drawdownHalt, operatorCommand, volatilityDelever } from '../../../operators/risk/trading-state.ts';

/** The risk stage's rules, each called directly on a RiskBook (no pipeline, no operator). */

const BAR = 300_000;
const T0 = 1_700_000_100_000 - (1_700_000_100_000 % BAR);
const at = (bar: number): number => T0 + bar * BAR;
const s = {
  MAX_DRAWDOWN: 0.2,
  COOLDOWN_BARS: 12,
  STOPLOSS_GUARD_TRADES: 3,
  STOPLOSS_GUARD_WINDOW_BARS: 288,
  STOPLOSS_GUARD_LOCK_BARS: 144,
  VOLATILITY_DELEVER_THRESHOLD: 1.5,
};

function entry(symbol: string, bar: number, clientOrderId = `${symbol}-${bar}e`): OrderIntent {
  return {
    kind: 'intent',
    time: at(bar),
    symbol,
    clientOrderId,
    decisionSeq: bar,
    side: 'BUY',
    quantity: 0.01,
    reduceOnly: false,
    reason: 'entry',
    refPrice: 90_000,
    stopDistance: 900,
  };
}

function closed(symbol: string, bar: number, exitReason: TradeClosed['exitReason'], netPnl: number): TradeClosed {
  return {
    kind: 'trade-closed',
    time: at(bar),
    symbol,
    side: 'LONG',
    quantity: 0.01,
    entryPrice: 90_000,
    exitPrice: 89_000,
    openedAt: at(bar - 5),
    pnl: netPnl,
    fees: 0,
    funding: 0,
    netPnl,
    returnPct: netPnl / 900,
    exitReason,
    explored: false,
  };
}

const portfolio = (drawdown: number): PortfolioSnapshot => ({
  kind: 'portfolio',
  time: at(0),
  balance: 10_000 * (1 - drawdown),
  equity: 10_000 * (1 - drawdown),
  peakEquity: 10_000,
  drawdown,
  realizedPnl: 0,
  unrealizedPnl: 0,
  feesPaid: 0,
  fundingPaid: 0,
  grossExposure: 0,
  marginUsed: 0,
  maintenanceMargin: 0,
  positions: [],
});

const command = (c: OperatorCommand['command']): OperatorCommand => ({
  kind: 'command',
  time: at(0),
  command: c,
  origin: 'operator',
  reason: 'test',
});

describe('cooldown', () => {
  it('rests only the stopped-out symbol for COOLDOWN_BARS after a losing stop', () => {
    const book = new RiskBook();
    recordStopOut(book, closed('BTCUSDT', 100, 'stop', -9), s, BAR);
    expect(entryBlock(book, entry('BTCUSDT', 111), s, BAR)).toMatchObject({ rule: 'cooldown', value: 11, limit: 12 });
    expect(entryBlock(book, entry('BTCUSDT', 112), s, BAR)).toBeNull();
    expect(entryBlock(book, entry('ETHUSDT', 101), s, BAR)).toBeNull();
  });

  it('does not count a stop that made money, or an exit other than the stop', () => {
    const book = new RiskBook();
    recordStopOut(book, closed('BTCUSDT', 100, 'stop', 4), s, BAR);
    recordStopOut(book, closed('BTCUSDT', 100, 'trailing-stop', -4), s, BAR);
    recordStopOut(book, closed('BTCUSDT', 100, 'signal', -4), s, BAR);
    expect(entryBlock(book, entry('BTCUSDT', 101), s, BAR)).toBeNull();
    expect(book.stopBars).toEqual([]);
  });
});

describe('stop-loss guard', () => {
  it('locks every symbol for STOPLOSS_GUARD_LOCK_BARS after STOPLOSS_GUARD_TRADES stop-outs in the window', () => {
    const book = new RiskBook();
    recordStopOut(book, closed('BTCUSDT', 0, 'stop', -1), s, BAR);
    recordStopOut(book, closed('ETHUSDT', 100, 'stop', -1), s, BAR);
    expect(book.lockedUntilBar).toBe(-1);
    recordStopOut(book, closed('SOLUSDT', 200, 'stop', -1), s, BAR);
    expect(book.lockedUntilBar).toBe(T0 / BAR + 200 + 144);
    expect(entryBlock(book, entry('XRPUSDT', 344), s, BAR)).toMatchObject({ rule: 'stoploss-guard', value: 0 });
    expect(entryBlock(book, entry('XRPUSDT', 345), s, BAR)).toBeNull();
  });

  it('does not lock when the stop-outs are spread wider than the window', () => {
    const book = new RiskBook();
    for (const bar of [0, 200, 400]) recordStopOut(book, closed('BTCUSDT', bar, 'stop', -1), s, BAR);
    expect(book.lockedUntilBar).toBe(-1);
  });

  it('is off with STOPLOSS_GUARD_TRADES = 0', () => {
    const book = new RiskBook();
    for (const bar of [0, 1, 2, 3])
      recordStopOut(book, closed('BTCUSDT', bar, 'stop', -1), { ...s, STOPLOSS_GUARD_TRADES: 0 }, BAR);
    expect(book.lockedUntilBar).toBe(-1);
  });
});

describe('entry in flight', () => {
  it('refuses a second entry on a symbol until the first is filled, then calls it already positioned', () => {
    const book = new RiskBook();
    book.addInFlight('BTCUSDT', 'BTCUSDT-1e', 900);
    expect(entryBlock(book, entry('BTCUSDT', 2), s, BAR)).toMatchObject({ rule: 'entry-in-flight' });
    expect(entryBlock(book, entry('ETHUSDT', 2), s, BAR)).toBeNull();
    book.inFlight.get('BTCUSDT')!.filled = true;
    expect(entryBlock(book, entry('BTCUSDT', 3), s, BAR)).toMatchObject({ rule: 'already-positioned' });
  });

  it('gives back the pending exposure when settled, to exactly zero once nothing is in flight', () => {
    const book = new RiskBook();
    book.addInFlight('BTCUSDT', 'a', 0.1 + 0.2);
    book.addInFlight('ETHUSDT', 'b', 0.3);
    book.settle('BTCUSDT');
    expect(book.pendingExposure).toBeCloseTo(0.3, 12);
    book.settle('ETHUSDT');
    expect(book.pendingExposure).toBe(0);
  });
});

describe('drawdown halt', () => {
  it('halts and flattens at MAX_DRAWDOWN, refuses entries, and an operator resume does not lift it', () => {
    const book = new RiskBook();
    expect(drawdownHalt(book, portfolio(0.19), s)).toBeNull();
    const change = drawdownHalt(book, portfolio(0.2), s);
    expect(change).toMatchObject({ to: 'HALTED' });
    expect(change!.reason).toContain('MAX_DRAWDOWN');
    book.state = change!.to;
    expect(book.flattenAll).toBe(true);
    expect(entryBlock(book, entry('BTCUSDT', 1), s, BAR)).toMatchObject({ rule: 'drawdown-halt', limit: 0.2 });
    expect(operatorCommand(book, command('resume'))).toBeNull();
    expect(book.haltedBy).toBe('drawdown');
  });

  it('an operator halt refuses entries as operator-halt and is lifted by resume, back to REDUCING while delevering', () => {
    const book = new RiskBook();
    book.state = operatorCommand(book, command('halt'))!.to;
    expect(entryBlock(book, entry('BTCUSDT', 1), s, BAR)).toMatchObject({ rule: 'operator-halt' });
    book.delevering.add('ETHUSDT');
    expect(operatorCommand(book, command('resume'))).toMatchObject({ to: 'REDUCING' });
  });
});

describe('volatility delever', () => {
  const features = (symbol: string, volatility: number): FeatureBar =>
    ({ kind: 'features', time: at(1), symbol, volatility }) as FeatureBar;

  it('cuts a symbol once per high-volatility episode and goes back to ACTIVE when it calms', () => {
    const book = new RiskBook();
    expect(volatilityDelever(book, features('BTCUSDT', 2), s)).toMatchObject({ cut: true, change: { to: 'REDUCING' } });
    expect(volatilityDelever(book, features('BTCUSDT', 2), s)).toMatchObject({ cut: false });
    expect(volatilityDelever(book, features('BTCUSDT', 1), s)).toMatchObject({ cut: false, change: { to: 'ACTIVE' } });
    expect(volatilityDelever(book, features('BTCUSDT', 2), s)).toMatchObject({ cut: true });
  });
});
