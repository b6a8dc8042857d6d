import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { OpenOrderView } from '../../../live/service/dashboard-view.ts';
import { auth, testService } from '../../kit/service-kit.ts';

type Service = Awaited<ReturnType<typeof testService>>;
const services: Service[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
});

async function start(options: Parameters<typeof testService>[0] = {}): Promise<Service> {
  const s = await testService({ ...options, settings: { MAX_CONCURRENT_POSITIONS: 2, ...options.settings } });
  services.push(s);
  return s;
}

const orders = async (s: Service): Promise<OpenOrderView[]> =>
  (await s.app.inject({ method: 'GET', url: '/orders' })).json<{ orders: OpenOrderView[] }>().orders;

/**
 * Forces an entry on a flat symbol with no entry in flight: its MARKET order waits for the
 * symbol's next bar. Bars are fed until some symbol is free (the strategy trades too).
 */
async function workingEntry(s: Service): Promise<OpenOrderView> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const busy = new Set([
      ...(s.engine.portfolio?.positions.map((p) => p.symbol) ?? []),
      ...(await orders(s)).filter((o) => o.type === 'MARKET').map((o) => o.symbol),
    ]);
    for (const symbol of s.settings.SYMBOLS.filter((x) => !busy.has(x))) {
      const r = await s.app.inject({
        method: 'POST',
        url: '/inference/decisions',
        headers: auth,
        payload: { symbol, action: 'enter-long', confidence: 1, reason: 'cancel test' },
      });
      if (r.statusCode !== 202) continue;
      const entry = (await orders(s)).find((o) => o.symbol === symbol && o.reason === 'entry');
      expect(entry, JSON.stringify(await orders(s))).toBeDefined();
      return entry!;
    }
    await s.feed(1);
  }
  throw new Error('no symbol took a forced entry in 200 bars');
}

describe('DELETE /orders/:clientOrderId (admin API, real engine and paper venue)', () => {
  it('202 withdraws a working entry before it fills; 409 once cancelled; journaled and audited', async () => {
    const s = await start({ settings: { JOURNAL_SNAPSHOT_EVERY: 1_000_000 } });
    await s.feed(4);
    const entry = await workingEntry(s);
    expect(entry.cancellable).toBe(true);
    expect(entry.notCancellable).toBeNull();
    const id = entry.clientOrderId!;

    const refused = await s.app.inject({ method: 'DELETE', url: `/orders/${id}` });
    expect(refused.statusCode).toBe(401);

    const r = await s.app.inject({ method: 'DELETE', url: `/orders/${id}`, headers: auth });
    expect(r.statusCode, r.body).toBe(202);
    expect(r.json().message).toContain(`cancelling ${entry.symbol} entry BUY`);
    // asked, not yet answered: listed, no longer cancellable, with the reason
    const asked = (await orders(s)).find((o) => o.clientOrderId === id)!;
    expect(asked.cancellable).toBe(false);
    expect(asked.notCancellable).toMatch(/cancel was requested/);

    // the next bars: the venue says it withdrew the order; it never fills
    await s.feed(4);
    const rejected = s.sent.find((e) => e.kind === 'order-rejected' && e.clientOrderId === id);
    expect(rejected).toMatchObject({ reason: 'cancelled by the operator', symbol: entry.symbol });
    expect(s.sent.some((e) => e.kind === 'fill' && e.clientOrderId === id)).toBe(false);
    expect((await orders(s)).some((o) => o.clientOrderId === id)).toBe(false);

    const again = await s.app.inject({ method: 'DELETE', url: `/orders/${id}`, headers: auth });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toContain('is not open any more: cancelled');

    // journaled as a control input
    const lines = readFileSync(s.journalPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const control = lines.find((l) => l.type === 'control' && l.data.kind === 'cancel-order');
    expect(control.data).toMatchObject({ clientOrderId: id, symbol: entry.symbol, origin: 'operator' });

    // audited like any operator action, refused ones too
    const audit = (await s.app.inject({ method: 'GET', url: '/audit' })).json().audit as {
      action: string;
      status: number;
    }[];
    const mine = audit.filter((a) => a.action === `DELETE /orders/${id}`).map((a) => a.status);
    expect(mine.sort()).toEqual([202, 401, 409]);
  });

  it('a restart replays the cancel: the withdrawn order does not fill on replay', async () => {
    const first = await start({ settings: { JOURNAL_SNAPSHOT_EVERY: 1_000_000 } });
    await first.feed(4);
    const entry = await workingEntry(first);
    const id = entry.clientOrderId!;
    expect((await first.app.inject({ method: 'DELETE', url: `/orders/${id}`, headers: auth })).statusCode).toBe(202);
    await first.feed(4);
    const fillsBefore = first.engine.fills.length;
    await first.close();
    services.splice(services.indexOf(first), 1);

    const second = await start({ settings: { JOURNAL_SNAPSHOT_EVERY: 1_000_000 }, journalPath: first.journalPath });
    expect(second.engine.counts.replayed).toBeGreaterThan(8);
    expect(second.engine.fills.some((f) => f.clientOrderId === id)).toBe(false);
    expect(second.engine.fills.length).toBe(fillsBefore);
    expect(second.engine.portfolio?.positions).toEqual(first.engine.portfolio?.positions);
  });

  it('400 malformed id, 404 unknown id, 409 for the protective stop of an open position', async () => {
    const s = await start();
    await s.feed(2);
    const bad = await s.app.inject({ method: 'DELETE', url: '/orders/not%20an%20id!', headers: auth });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('client order id');
    const long = await s.app.inject({ method: 'DELETE', url: `/orders/${'x'.repeat(37)}`, headers: auth });
    expect(long.statusCode).toBe(400);
    const unknown = await s.app.inject({ method: 'DELETE', url: '/orders/sapphire-BTCUSDT-zzzze', headers: auth });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toBe('no order sapphire-BTCUSDT-zzzze is known to this service');

    // an entry that fills gets its stop: listed with its id, not cancellable, and why
    const entry = await workingEntry(s);
    for (let i = 0; i < 6 && !s.engine.portfolio!.positions.some((p) => p.symbol === entry.symbol); i++)
      await s.feed(1);
    const stop = (await orders(s)).find((o) => o.symbol === entry.symbol && o.type === 'STOP_MARKET');
    expect(stop, JSON.stringify(await orders(s))).toBeDefined();
    expect(stop!.clientOrderId).toMatch(/s0$/);
    expect(stop!.cancellable).toBe(false);
    expect(stop!.notCancellable).toContain('close the position instead');
    const kept = await s.app.inject({ method: 'DELETE', url: `/orders/${stop!.clientOrderId}`, headers: auth });
    expect(kept.statusCode).toBe(409);
    expect(kept.json().message).toContain('protective stop of an open position');
    // the filled entry itself: 409, it is not open any more
    const filled = await s.app.inject({ method: 'DELETE', url: `/orders/${entry.clientOrderId}`, headers: auth });
    expect(filled.statusCode).toBe(409);
    expect(filled.json().message).toContain('not open any more: filled');
    expect(s.engine.portfolio!.positions.some((p) => p.symbol === entry.symbol)).toBe(true);
  });

  it('503 when no admin token is configured', async () => {
    const s = await start({ settings: { ADMIN_API_TOKEN: '' } });
    const r = await s.app.inject({ method: 'DELETE', url: '/orders/sapphire-BTCUSDT-1e', headers: auth });
    expect(r.statusCode).toBe(503);
  });
});
