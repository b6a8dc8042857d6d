import { firstValueFrom, from, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { planAdoption, ADOPTION_SEQ_BASE, type ExchangeOrder } from '../../../live/engine/adoption.ts';
import { adoptedProtection } from '../../../operators/stops/stops.kernel.ts';
import { trailingStop } from '../../../operators/stops/trailing-stop.ts';
import { portfolio } from '../../../operators/portfolio/portfolio.ts';
import type { FeatureBar, PipelineEvent, PositionAdopted } from '../../../pipelines/model/index.ts';
import { parseSettings } from '../../../pipelines/settings.ts';
import { fixtureColumns } from '../../kit/fixture-bars.ts';

/**
 * A start from the exchange: what is taken over, cancelled and left alone (the planner), and how
 * the portfolio and the stops take an adopted position. Prices are real closes from the committed
 * fixture (test/fixtures/core).
 */

const btc = fixtureColumns('BTCUSDT');
const CLOSE = btc.close[200]!;
const TIME = btc.openTime[200]! + 300_000;

const order = (o: Partial<ExchangeOrder> & Pick<ExchangeOrder, 'clientOrderId' | 'type'>): ExchangeOrder => ({
  symbol: 'BTCUSDT',
  side: 'SELL',
  stopPrice: 0,
  origQty: 0,
  closePosition: true,
  reduceOnly: false,
  time: TIME - 600_000,
  ...o,
});

describe('planAdoption', () => {
  const opts = { botId: 'sapphire', symbols: ['BTCUSDT', 'ETHUSDT'], time: TIME };

  it('adopts a position with our newest stop and take-profit on its closing side; older ones are stale', () => {
    const oldStop = order({ clientOrderId: 'sapphire-BTCUSDT-a1s0', type: 'STOP_MARKET', stopPrice: CLOSE * 0.97 });
    const stop = order({
      clientOrderId: 'sapphire-BTCUSDT-a1s1',
      type: 'STOP_MARKET',
      stopPrice: CLOSE * 0.98,
      time: TIME - 300_000,
    });
    const tp = order({ clientOrderId: 'sapphire-BTCUSDT-a1t', type: 'TAKE_PROFIT_MARKET', stopPrice: CLOSE * 1.05 });
    const manual = order({ clientOrderId: 'web_abc', type: 'LIMIT', side: 'BUY', closePosition: false });
    const plan = planAdoption(
      {
        positions: [{ symbol: 'BTCUSDT', quantity: 0.012, entryPrice: CLOSE * 0.99 }],
        orders: [oldStop, stop, tp, manual],
      },
      opts,
    );
    expect(plan.adopted).toEqual([
      {
        kind: 'position-adopted',
        time: TIME,
        symbol: 'BTCUSDT',
        side: 'LONG',
        quantity: 0.012,
        entryPrice: CLOSE * 0.99,
        stopPrice: stop.stopPrice,
        takeProfitPrice: tp.stopPrice,
        seq: ADOPTION_SEQ_BASE + Math.floor(TIME / 60_000),
      },
    ]);
    expect(plan.working.map((o) => [o.clientOrderId, o.type, o.reason, o.quantity])).toEqual([
      [stop.clientOrderId, 'STOP_MARKET', 'stop', 0],
      [tp.clientOrderId, 'TAKE_PROFIT_MARKET', 'take-profit', 0],
    ]);
    expect(plan.stale).toEqual([oldStop]);
    expect(plan.foreign).toEqual([manual]);
  });

  it('a short keeps the BUY-side stop; a SELL stop of ours guards nothing there and is stale', () => {
    const buyStop = order({ clientOrderId: 'sapphire-BTCUSDT-b1s0', type: 'STOP_MARKET', side: 'BUY' });
    const sellStop = order({ clientOrderId: 'sapphire-BTCUSDT-b0s0', type: 'STOP_MARKET', side: 'SELL' });
    const plan = planAdoption(
      { positions: [{ symbol: 'BTCUSDT', quantity: -0.5, entryPrice: CLOSE }], orders: [buyStop, sellStop] },
      opts,
    );
    expect(plan.adopted.map((a) => [a.side, a.quantity])).toEqual([['SHORT', 0.5]]);
    expect(plan.working.map((o) => o.clientOrderId)).toEqual([buyStop.clientOrderId]);
    expect(plan.stale).toEqual([sellStop]);
  });

  it('no position: every order of ours is stale; other symbols and other bots are not touched', () => {
    const ours = order({ clientOrderId: 'sapphire-ETHUSDT-c1s0', type: 'STOP_MARKET', symbol: 'ETHUSDT' });
    const otherBot = order({ clientOrderId: 'grid-ETHUSDT-c1s0', type: 'STOP_MARKET', symbol: 'ETHUSDT' });
    const untraded = order({ clientOrderId: 'sapphire-SOLUSDT-c1s0', type: 'STOP_MARKET', symbol: 'SOLUSDT' });
    const plan = planAdoption(
      { positions: [{ symbol: 'SOLUSDT', quantity: 3, entryPrice: 150 }], orders: [ours, otherBot, untraded] },
      opts,
    );
    expect(plan.adopted).toEqual([]);
    expect(plan.working).toEqual([]);
    expect(plan.stale).toEqual([ours]);
    expect(plan.foreign).toEqual([otherBot]);
  });
});

describe('adoptedProtection', () => {
  const s = { ATR_STOP_MULTIPLE: 2, TRAILING_STOP_BUFFER: 0.01, REWARD_TO_RISK: 3 };

  it('keeps a found stop and take-profit that are still on their sides of the close', () => {
    const found = { side: 'LONG' as const, stopPrice: CLOSE - 100, takeProfitPrice: CLOSE + 500 };
    expect(adoptedProtection(found, CLOSE, 40, s)).toEqual({ stop: CLOSE - 100, takeProfit: CLOSE + 500 });
  });

  it('sets its own from the close when none was found or one is beyond the close (it would trigger at once)', () => {
    expect(adoptedProtection({ side: 'LONG', stopPrice: 0, takeProfitPrice: 0 }, CLOSE, 40, s)).toEqual({
      stop: CLOSE - 80,
      takeProfit: CLOSE + 240,
    });
    expect(
      adoptedProtection({ side: 'SHORT', stopPrice: CLOSE - 1, takeProfitPrice: CLOSE + 1 }, CLOSE, 40, s),
    ).toEqual({ stop: CLOSE + 80, takeProfit: CLOSE - 240 });
    // no ATR yet: the trailing buffer of the price is the distance
    const d = CLOSE * 0.01;
    expect(adoptedProtection({ side: 'LONG', stopPrice: 0, takeProfitPrice: 0 }, CLOSE, 0, s)).toEqual({
      stop: CLOSE - d,
      takeProfit: CLOSE + 3 * d,
    });
  });
});

describe('an adopted position in the stages', () => {
  const settings = parseSettings({ SYMBOLS: 'BTCUSDT', ATR_STOP_MULTIPLE: 2, REWARD_TO_RISK: 3 });
  const i = 200;
  const bar = {
    kind: 'bar' as const,
    symbol: 'BTCUSDT',
    openTime: btc.openTime[i]!,
    time: TIME,
    open: btc.open[i]!,
    high: btc.high[i]!,
    low: btc.low[i]!,
    close: CLOSE,
    volume: btc.volume[i]!,
  };
  const features: FeatureBar = {
    kind: 'features',
    time: TIME,
    symbol: 'BTCUSDT',
    bar,
    atr: 40,
    lookbackReturn: 0,
    volatility: 0.5,
    change24h: 0,
  };
  const adopted: PositionAdopted = {
    kind: 'position-adopted',
    time: TIME,
    symbol: 'BTCUSDT',
    side: 'LONG',
    quantity: 0.012,
    entryPrice: CLOSE * 0.99,
    stopPrice: 0,
    takeProfitPrice: 0,
    seq: 7,
  };

  it('the stops protect it from the last close and ATR seen, numbered under its sequence', async () => {
    const out = await firstValueFrom(
      from<PipelineEvent[]>([features, adopted]).pipe(trailingStop(settings), toArray()),
    );
    const protect = out.find((e) => e.kind === 'protect');
    expect(protect).toMatchObject({
      symbol: 'BTCUSDT',
      positionSide: 'LONG',
      stopPrice: CLOSE - 80,
      takeProfitPrice: CLOSE + 240,
      cause: 'initial',
      decisionSeq: 7,
      generation: 0,
    });
  });

  it('the portfolio books it at the exchange entry price; a symbol it already holds keeps its book', async () => {
    const out = await firstValueFrom(
      from<PipelineEvent[]>([adopted, { ...bar, time: TIME + 300_000 }]).pipe(portfolio(settings), toArray()),
    );
    const snap = out.find((e) => e.kind === 'portfolio');
    expect(snap?.kind === 'portfolio' && snap.positions).toEqual([
      expect.objectContaining({ symbol: 'BTCUSDT', quantity: 0.012, entryPrice: CLOSE * 0.99 }),
    ]);
    const twice = await firstValueFrom(
      from<PipelineEvent[]>([adopted, { ...adopted, quantity: 1 }, { ...bar, time: TIME + 300_000 }]).pipe(
        portfolio(settings),
        toArray(),
      ),
    );
    const last = twice.filter((e) => e.kind === 'portfolio').at(-1);
    expect(last?.kind === 'portfolio' && last.positions.map((p) => p.quantity)).toEqual([0.012]);
    expect(twice.filter((e) => e.kind === 'position-adopted')).toHaveLength(1);
  });
});
