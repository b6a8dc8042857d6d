import { afterEach, describe, expect, it } from 'vitest';
import type { DashboardView } from '../../../live/service/dashboard-view.ts';
import { CandleBytes, DashboardBody } from '../../../live/service/dashboard-body.ts';
import { candleViews } from '../../../live/service/views.ts';
import { fixtureBars } from '../../kit/fixture-bars.ts';
import { auth, testService } from '../../kit/service-kit.ts';

type Service = Awaited<ReturnType<typeof testService>>;
let service: Service | null = null;
afterEach(async () => {
  await service?.close();
  service = null;
});

const get = async (s: Service): Promise<DashboardView> =>
  (await s.app.inject({ method: 'GET', url: '/dashboard' })).json();

describe('DashboardBody', () => {
  it('builds the state part once per key, the clock part per read, and joins them into one JSON object', () => {
    const body = new DashboardBody();
    let states = 0;
    let clocks = 0;
    const state = (n: number) => () => {
      states++;
      return { portfolio: { equity: n }, note: 'non-ASCII — kept as bytes' };
    };
    const clock = () => ({ time: ++clocks, config: { uptimeS: clocks * 10 } });
    const a = JSON.parse(body.read('v1', state(1), clock).toString('utf8'));
    const b = JSON.parse(body.read('v1', state(2), clock).toString('utf8'));
    expect(states).toBe(1);
    expect(body.builds).toBe(1);
    expect(a).toEqual({
      time: 1,
      config: { uptimeS: 10 },
      portfolio: { equity: 1 },
      note: 'non-ASCII — kept as bytes',
    });
    // same key: the kept state, a new clock
    expect(b).toEqual({ ...a, time: 2, config: { uptimeS: 20 } });
    const c = JSON.parse(body.read('v2', state(3), clock).toString('utf8'));
    expect(states).toBe(2);
    expect(c.portfolio).toEqual({ equity: 3 });
    expect(JSON.parse(body.read('v3', () => ({}), clock).toString('utf8'))).toEqual({
      time: 4,
      config: { uptimeS: 40 },
    });
  });
});

describe('CandleBytes', () => {
  it('gives the same bytes as serialising everything, and serialises a symbol again only when it has a new bar', () => {
    const btc = fixtureBars('BTCUSDT').slice(0, 300);
    const eth = fixtureBars('ETHUSDT').slice(0, 300);
    const bars = new Map([
      ['BTCUSDT', btc],
      ['ETHUSDT', eth],
    ]);
    const state = (candles: typeof candleViews) => ({
      before: 'x — y',
      prices: [...bars].map(([symbol, list]) => ({ symbol, candles: candles(symbol, list), markers: [] })),
      after: [1, 2, 3],
    });
    const cb = new CandleBytes();
    const whole = () => Buffer.from(JSON.stringify(state(candleViews)));
    expect(cb.join(state(cb.mark)).equals(whole())).toBe(true);
    expect(cb.made).toBe(2);
    expect(cb.join(state(cb.mark)).equals(whole())).toBe(true);
    expect(cb.made).toBe(2);
    // a new ETH bar (the list trimmed at the front as the projections do): ETH only is made again
    bars.set('ETHUSDT', [...eth.slice(1), fixtureBars('ETHUSDT')[300]!]);
    expect(cb.join(state(cb.mark)).equals(whole())).toBe(true);
    expect(cb.made).toBe(3);
  });
});

describe('GET /dashboard is never older than the state it is asked in', () => {
  it('shows every bar, fill and closed trade in the next response, and the wall clock on every one', async () => {
    service = await testService();
    const s = service;
    let fillsSeen = 0;
    for (let i = 0; i < 1500 && s.engine.trades.length < 2; i++) {
      await s.feed(1);
      const v = await get(s);
      const read = s.engine.read;
      expect(v.health.lastBarTime).toBe(read.lastBarTime);
      expect(v.portfolio.equity).toBe(read.portfolio?.equity ?? s.settings.INITIAL_BALANCE);
      expect(v.positions.map((p) => [p.symbol, p.quantity])).toEqual(
        (read.portfolio?.positions ?? []).map((p) => [p.symbol, Math.abs(p.quantity)]),
      );
      expect(v.trades).toHaveLength(Math.min(100, read.trades.length));
      if (read.trades.length > 0) expect(v.trades[0]!.time).toBe(read.trades.at(-1)!.time);
      expect(v.equityCurve.at(-1)?.equity).toBe(read.equityCurve.at(-1)?.equity);
      for (const p of v.prices) expect(p.candles.at(-1)?.time).toBe(read.bars.get(p.symbol)?.at(-1)?.openTime);
      fillsSeen = read.counts.fills;
    }
    expect(s.engine.trades.length).toBeGreaterThanOrEqual(2);
    expect(fillsSeen).toBeGreaterThan(0);
    // nothing moved but the wall clock: the time and uptime still do
    const before = await get(s);
    s.advanceClock(5000);
    const after = await get(s);
    expect(after.time - before.time).toBe(5000);
    expect(after.config.uptimeS - before.config.uptimeS).toBe(5);
    expect(after.trades).toEqual(before.trades);
  }, 120_000);

  it('shows an operator command and its audit line in the next response', async () => {
    service = await testService();
    const s = service;
    await s.feed(5);
    const before = await get(s);
    expect(before.risk.locks.some((l) => l.kind === 'operator-halt')).toBe(false);
    const r = await s.app.inject({ method: 'POST', url: '/stop', headers: auth });
    expect(r.statusCode).toBe(200);
    const v = await get(s);
    expect(v.risk.state).toBe(s.engine.read.riskState);
    expect(v.risk.locks.some((l) => l.kind === 'operator-halt')).toBe(true);
    expect(v.audit[0]).toMatchObject({ action: 'POST /stop', status: 200 });
    const started = await s.app.inject({ method: 'POST', url: '/start', headers: auth });
    expect(started.statusCode).toBe(200);
    const again = await get(s);
    expect(again.risk.locks.some((l) => l.kind === 'operator-halt')).toBe(false);
    expect(again.audit.map((a) => a.action).slice(0, 2)).toEqual(['POST /start', 'POST /stop']);
  }, 60_000);
});
