import { afterEach, describe, expect, it } from 'vitest';
import type { DashboardView } from '../../live/service/dashboard-view.ts';
import { ADMIN, auth, testService } from '../kit/service-kit.ts';

type Service = Awaited<ReturnType<typeof testService>>;
let service: Service | null = null;
afterEach(async () => {
  await service?.close();
  service = null;
});

/** Feeds live bars until `done` holds (bounded by the fixture's length). */
async function feedUntil(s: Service, done: () => boolean, max = 2000): Promise<void> {
  for (let i = 0; i < max && !done(); i++) await s.feed(1);
  expect(done()).toBe(true);
}

const view = async (s: Service): Promise<DashboardView> =>
  (await s.app.inject({ method: 'GET', url: '/dashboard' })).json();

describe('POST /positions/:symbol/close', () => {
  it('closes one position with a reduce-only market order at the next bar; others stay open', async () => {
    service = await testService({ settings: { MAX_CONCURRENT_POSITIONS: 2 } });
    const s = service;
    await feedUntil(s, () => (s.engine.portfolio?.positions.length ?? 0) > 0);
    const target = s.engine.portfolio!.positions[0]!;
    const others = s.engine.portfolio!.positions.filter((p) => p.symbol !== target.symbol).map((p) => p.symbol);

    const refused = await s.app.inject({ method: 'POST', url: `/positions/${target.symbol}/close` });
    expect(refused.statusCode).toBe(401);
    const unknown = await s.app.inject({ method: 'POST', url: '/positions/DOGEUSDT/close', headers: auth });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toContain('DOGEUSDT is not traded');

    const r = await s.app.inject({ method: 'POST', url: `/positions/${target.symbol}/close`, headers: auth });
    expect(r.statusCode).toBe(202);
    expect(r.json().message).toContain(`closing ${target.symbol}`);
    // the order fills at the next bar of its symbol (the merged feed alternates symbols)
    await feedUntil(s, () => !s.engine.portfolio!.positions.some((p) => p.symbol === target.symbol), 4);
    const still = s.engine.portfolio!.positions.map((p) => p.symbol);
    expect(still).not.toContain(target.symbol);
    for (const o of others) expect(still).toContain(o);
    const closed = s.engine.trades.at(-1)!;
    expect(closed.symbol).toBe(target.symbol);
    expect(closed.exitReason).toBe('signal');

    const flat = await s.app.inject({ method: 'POST', url: `/positions/${target.symbol}/close`, headers: auth });
    expect(flat.statusCode).toBe(409);
    expect(flat.json().message).toBe(`no open position on ${target.symbol}: nothing to close`);
  });
});

describe('operator audit trail', () => {
  it('records what, when (wall time) and from where for every admin action, refused ones too; no token in it', async () => {
    service = await testService();
    const s = service;
    await s.feed(5);
    await s.app.inject({ method: 'POST', url: '/stop', headers: { authorization: 'Bearer wrong-token' } });
    await s.app.inject({ method: 'POST', url: '/stop', headers: auth, remoteAddress: '10.1.2.3' });
    await s.app.inject({ method: 'POST', url: '/start', headers: auth });
    const audit = (await s.app.inject({ method: 'GET', url: '/audit' })).json().audit as DashboardView['audit'];
    expect(audit.map((a) => `${a.action} ${a.status}`)).toEqual([
      'POST /start 200',
      'POST /stop 200',
      'POST /stop 403',
    ]);
    expect(audit[1]!.from).toBe('10.1.2.3');
    expect(audit[1]!.outcome).toContain('new entries stopped');
    expect(audit[1]!.wallTime).toBe(Date.parse('2025-01-30T00:00:00Z'));
    const v = await view(s);
    expect(v.audit.map((a) => a.action)).toEqual(['POST /start', 'POST /stop', 'POST /stop']);
    expect(JSON.stringify(v)).not.toContain(ADMIN);
    // reads are not operator actions
    expect(audit.some((a) => a.action.startsWith('GET'))).toBe(false);
  });
});

describe('the view states the truth about the engine', () => {
  it('carries /healthz last bar and last error, config without secrets, open orders and the risk headline', async () => {
    service = await testService();
    const s = service;
    await feedUntil(s, () => (s.engine.portfolio?.positions.length ?? 0) > 0);
    const v = await view(s);
    const health = (await s.app.inject({ method: 'GET', url: '/healthz' })).json();
    expect(v.health.lastBarTime).toBe(Date.parse(health.last_bar_time));
    expect(v.health.lastError).toBe(health.last_error);
    expect(v.config.symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(v.config.adminConfigured).toBe(true);
    expect(v.config.replay).toEqual({
      sample: s.settings.SIMULATOR_DATA_DIR,
      msPerBar: s.settings.SIMULATOR_REPLAY_MS,
    });
    expect(JSON.stringify(v.config)).not.toContain(ADMIN);
    // the open position's protective orders are working orders
    const p = s.engine.portfolio!.positions[0]!;
    expect(v.openOrders).toContainEqual(
      expect.objectContaining({ symbol: p.symbol, type: 'STOP_MARKET', reason: 'stop' }),
    );
    expect(v.risk.headline).toMatch(/^ACTIVE/);
    // an operator stop: the headline says HALTED with the lock, never "trading normally"
    await s.app.inject({ method: 'POST', url: '/stop', headers: auth });
    const halted = await view(s);
    expect(halted.risk.entriesOpen).toBe(false);
    expect(halted.risk.headline).toMatch(/^HALTED/);
    expect(halted.risk.locks).toContainEqual(expect.objectContaining({ kind: 'operator-halt', symbol: null }));
  });
});

describe('trade history', () => {
  it('pages newest first and exports every kept trade as CSV with ISO times', async () => {
    service = await testService();
    const s = service;
    await feedUntil(s, () => s.engine.trades.length >= 3);
    const n = s.engine.trades.length;
    const p1 = (await s.app.inject({ method: 'GET', url: '/trades?page=1&size=2' })).json();
    expect(p1).toMatchObject({ page: 1, size: 2, total: n, pages: Math.ceil(n / 2) });
    expect(p1.trades[0].time).toBe(s.engine.trades.at(-1)!.time);
    const p2 = (await s.app.inject({ method: 'GET', url: '/trades?page=2&size=2' })).json();
    expect(p2.trades[0].time).toBe(s.engine.trades.at(-3)!.time);
    const bad = await s.app.inject({ method: 'GET', url: '/trades?size=0' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/^query\.size:/);
    const csv = await s.app.inject({ method: 'GET', url: '/trades.csv' });
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.body.trim().split('\n');
    expect(lines[0]).toBe(
      'openedAt,time,symbol,side,quantity,entryPrice,exitPrice,netPnl,returnPct,exitReason,entryReason',
    );
    expect(lines).toHaveLength(n + 1);
    expect(lines[1]!.split(',')[1]).toBe(new Date(s.engine.trades.at(-1)!.time).toISOString());
  });
});
