import { appendFileSync, readFileSync } from 'node:fs';
import { AsterRestClient } from '../../../live/aster/rest-client.ts';
import type { AddressInfo } from 'node:net';
import { OrchestratorClient } from '../../../live/orchestrator/orchestrator-client.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { auth, order, realCloses, startRig, TOKEN, type Rig } from './kit/orchestrator-kit.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const post = (r: Rig, url: string, payload: unknown, headers: Record<string, string> = auth) =>
  r.app.inject({ method: 'POST', url, payload: payload as object, headers });

describe('orchestrator routes', () => {
  it('routes an order to the venue and reports the wallet', async () => {
    rig = await startRig();
    const res = await post(rig, '/order/bot1', order());
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.status).toBe('routed');
    expect(body.venueStatus).toBe('FILLED');
    expect(rig.orderCalls()).toBe(1);
    const sent = rig.peer.calls.find((c) => c.path === '/fapi/v1/order' && c.method === 'POST')!;
    expect(sent.params.newClientOrderId).toBe('bot1-BTCUSDT-1');
    expect(sent.params.type).toBe('MARKET');
    expect(rig.peer.positions.get('BTCUSDT')?.amt).toBeCloseTo(0.01, 12);

    const p = await rig.app.inject({ method: 'GET', url: '/portfolio', headers: auth });
    expect(p.statusCode).toBe(200);
    const pf = p.json();
    expect(pf.walletBalance).toBe(10_000);
    expect(pf.halted).toBe(false);
    expect(pf.positions).toHaveLength(1);
    expect(pf.bots.bot1.positions.BTCUSDT).toBeCloseTo(0.01, 12);
    expect(pf.bots.bot1.exposureUsd).toBeCloseTo(0.01 * realCloses('BTCUSDT').last, 6);

    const h = await rig.app.inject({ method: 'GET', url: '/healthz' });
    expect(h.json()).toMatchObject({ ok: true, halted: false, routed_orders: 1 });
  });

  it('asks for the admin token: 401 missing, 403 wrong, 400 in the query string, never reaching the venue', async () => {
    rig = await startRig();
    for (const url of ['/order/bot1', '/cancel/bot1', '/emergency_stop', '/register_decision', '/resume']) {
      expect((await post(rig, url, order(), {})).statusCode).toBe(401);
      expect((await post(rig, url, order(), { authorization: 'Bearer nope' })).statusCode).toBe(403);
      expect((await post(rig, url, order(), { 'x-admin-token': `${TOKEN}x` })).statusCode).toBe(403);
      expect((await post(rig, `${url}?token=${TOKEN}`, order(), {})).statusCode).toBe(400);
      expect((await post(rig, `${url}?admin_token=${TOKEN}`, order(), auth)).statusCode).toBe(400);
    }
    const getWithToken = await rig.app.inject({ method: 'GET', url: `/portfolio?token=${TOKEN}` });
    expect(getWithToken.statusCode).toBe(400);
    expect(getWithToken.body).not.toContain(TOKEN);
    expect(rig.peer.calls).toHaveLength(0);
    // both header forms work
    const viaHeader = await post(rig, '/order/bot1', order(), { 'x-admin-token': TOKEN });
    expect(viaHeader.json().status).toBe('routed');
  });

  it('closes admin routes when no token is configured', async () => {
    rig = await startRig({ ADMIN_API_TOKEN: '' });
    const res = await post(rig, '/order/bot1', order(), { authorization: 'Bearer ' });
    expect(res.statusCode).toBe(503);
    expect(rig.peer.calls).toHaveLength(0);
  });

  it('rejects bad bodies with 400 and sanitised errors', async () => {
    rig = await startRig();
    const bad: unknown[] = [
      order({ quantity: -1 }),
      order({ quantity: 0 }),
      order({ side: 'HOLD' }),
      order({ type: 'LIMIT' }),
      order({ type: 'STOP_MARKET' }),
      order({ clientOrderId: 'has spaces and is far too long for the exchange id rule' }),
      order({ extra: 1 }),
      order({ closePosition: true, type: 'MARKET', quantity: 0 }),
      { symbol: 'BTCUSDT' },
    ];
    for (const b of bad) {
      const res = await post(rig, '/order/bot1', b);
      expect(res.statusCode, JSON.stringify(b)).toBe(400);
      expect(res.json().error).toBe('bad request');
    }
    const notJson = await rig.app.inject({
      method: 'POST',
      url: '/order/bot1',
      payload: '{"symbol":',
      headers: { ...auth, 'content-type': 'application/json' },
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.body).not.toMatch(/at .*\.ts|stack|Body is not valid/);
    expect((await post(rig, '/order/bad bot!', order())).statusCode).toBe(400);
    expect(rig.peer.calls).toHaveLength(0);
  });

  it('routes one client order id once: duplicate on replay, concurrently, and after a restart', async () => {
    rig = await startRig();
    expect((await post(rig, '/order/bot1', order())).json().status).toBe('routed');
    const again = await post(rig, '/order/bot1', order());
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ status: 'duplicate', clientOrderId: 'bot1-BTCUSDT-1' });
    // concurrent twins: one goes, one is a duplicate
    const twins = await Promise.all([
      post(rig, '/order/bot2', order({ clientOrderId: 'bot2-ETH-1', symbol: 'ETHUSDT', quantity: 0.1 })),
      post(rig, '/order/bot2', order({ clientOrderId: 'bot2-ETH-1', symbol: 'ETHUSDT', quantity: 0.1 })),
    ]);
    expect(twins.map((t) => t.json().status).sort()).toEqual(['duplicate', 'routed']);
    expect(rig.orderCalls()).toBe(2);
    // the ids are on disk before the venue saw them
    const lines = readFileSync(rig.journalPath, 'utf8').trim().split('\n');
    expect(lines.filter((l) => l.includes('"t":"routed"'))).toHaveLength(2);
    // restart: a new process over the same journal still knows them
    await rig.restart();
    const afterRestart = await post(rig, '/order/bot1', order());
    expect(afterRestart.json().status).toBe('duplicate');
    expect(rig.orderCalls()).toBe(2);
    const pf = (await rig.app.inject({ method: 'GET', url: '/portfolio', headers: auth })).json();
    expect(pf.bots.bot1.positions.BTCUSDT).toBeCloseTo(0.01, 12);
    expect(pf.bots.bot2.positions.ETHUSDT).toBeCloseTo(0.1, 12);
  });

  it('denies orders beyond the Kelly cap, the per-position cap and the leverage cap', async () => {
    rig = await startRig({ KELLY_FRACTION_CAP: 0.5, MAX_PORTFOLIO_LEVERAGE: 0.6 });
    const btc = realCloses('BTCUSDT').last;
    const kelly = await post(rig, '/order/bot1', order({ clientOrderId: 'k1', kellyFraction: 0.9 }));
    expect(kelly.statusCode).toBe(422);
    expect(kelly.json()).toMatchObject({ status: 'denied', rule: 'kelly-cap', value: 0.9, limit: 0.5 });

    // 0.06 BTC is ~61 % of a 10 000 USDT wallet at the real close: above the 50 % position cap
    const big = await post(rig, '/order/bot1', order({ clientOrderId: 'p1', quantity: 0.06 }));
    expect(big.json()).toMatchObject({ status: 'denied', rule: 'position-cap' });
    expect(big.json().value).toBeCloseTo((0.06 * btc) / 10_000, 9);

    // 0.04 BTC (~41 %) fits; then 0.7 ETH (~23 %) would take the wallet over 0.6x
    expect((await post(rig, '/order/bot1', order({ clientOrderId: 'ok1', quantity: 0.04 }))).json().status).toBe(
      'routed',
    );
    const lev = await post(
      rig,
      '/order/bot2',
      order({ clientOrderId: 'l1', symbol: 'ETHUSDT', quantity: 0.7, side: 'SELL' }),
    );
    expect(lev.statusCode).toBe(422);
    expect(lev.json()).toMatchObject({ status: 'denied', rule: 'leverage-cap', limit: 0.6 });
    // a denied id was never sent, so it may be sent again once it fits
    expect(rig.orderCalls()).toBe(1);
    // reduce-only exits always pass the entry caps
    const exit = await post(
      rig,
      '/order/bot1',
      order({ clientOrderId: 'x1', side: 'SELL', quantity: 0.04, reduceOnly: true }),
    );
    expect(exit.json().status).toBe('routed');
    expect(rig.peer.positions.has('BTCUSDT')).toBe(false);
  });

  it('halts at the drawdown floor from peak wallet equity but lets exits through', async () => {
    const btc = realCloses('BTCUSDT');
    // a long at the fixture's highest close marked down to its lowest close (real prices)
    const qty = 0.04;
    const loss = qty * (btc.max - btc.min);
    const floor = loss / 10_000 / 2;
    rig = await startRig({ MAX_DRAWDOWN: floor });
    rig.peer.marks.set('BTCUSDT', btc.max);
    expect((await post(rig, '/order/bot1', order({ clientOrderId: 'e1', quantity: qty }))).json().status).toBe(
      'routed',
    );
    rig.peer.marks.set('BTCUSDT', btc.min);
    const next = await post(rig, '/order/bot1', order({ clientOrderId: 'e2', symbol: 'ETHUSDT', quantity: 0.1 }));
    expect(next.statusCode).toBe(423);
    expect(next.json()).toMatchObject({ status: 'halted', reason: 'drawdown' });
    const pf = (await rig.app.inject({ method: 'GET', url: '/portfolio', headers: auth })).json();
    expect(pf.halted).toBe(true);
    expect(pf.drawdown).toBeGreaterThanOrEqual(floor);
    // exits only
    const exit = await post(
      rig,
      '/order/bot1',
      order({ clientOrderId: 'e3', side: 'SELL', quantity: qty, reduceOnly: true }),
    );
    expect(exit.json().status).toBe('routed');
    expect(rig.orderCalls()).toBe(2);
  });

  it('emergency stop cancels every open order, flattens every position reduce-only, then halts all bots', async () => {
    rig = await startRig();
    const btc = realCloses('BTCUSDT').last;
    const eth = realCloses('ETHUSDT').last;
    expect((await post(rig, '/order/bot1', order({ clientOrderId: 'a1', quantity: 0.01 }))).json().status).toBe(
      'routed',
    );
    expect(
      (
        await post(rig, '/order/bot2', order({ clientOrderId: 'b1', symbol: 'ETHUSDT', side: 'SELL', quantity: 0.5 }))
      ).json().status,
    ).toBe('routed');
    // resting orders: a protective stop on BTC, a limit on ETH
    const stop = Math.round(btc * 0.97 * 10) / 10;
    expect(
      (
        await post(
          rig,
          '/order/bot1',
          order({
            clientOrderId: 'a2',
            type: 'STOP_MARKET',
            side: 'SELL',
            quantity: 0,
            closePosition: true,
            stopPrice: stop,
          }),
        )
      ).json().status,
    ).toBe('routed');
    const limit = Math.round(eth * 1.02 * 100) / 100;
    expect(
      (
        await post(
          rig,
          '/order/bot2',
          order({ clientOrderId: 'b2', symbol: 'ETHUSDT', type: 'LIMIT', side: 'SELL', quantity: 0.1, price: limit }),
        )
      ).json().status,
    ).toBe('routed');
    expect(rig.peer.openOrders).toHaveLength(2);
    expect(rig.peer.positions.size).toBe(2);

    const res = await post(rig, '/emergency_stop', {});
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ status: 'halted', complete: true, cancelled: ['BTCUSDT', 'ETHUSDT'] });
    expect(body.flattened.map((f: { symbol: string; side: string }) => `${f.symbol}:${f.side}`)).toEqual([
      'BTCUSDT:SELL',
      'ETHUSDT:BUY',
    ]);
    // on the peer: nothing open, nothing held, the flattening orders were reduce-only MARKETs
    expect(rig.peer.openOrders).toHaveLength(0);
    expect(rig.peer.positions.size).toBe(0);
    const flat = rig.peer.calls.filter((c) => c.method === 'POST' && c.params.newClientOrderId?.startsWith('estop-'));
    expect(flat).toHaveLength(2);
    for (const c of flat) expect(c.params).toMatchObject({ type: 'MARKET', reduceOnly: 'true' });
    expect(rig.peer.calls.filter((c) => c.method === 'DELETE' && c.path === '/fapi/v1/allOpenOrders')).toHaveLength(2);

    // every bot is halted, and stays halted across a restart
    const calls = rig.orderCalls();
    const refused = await post(rig, '/order/bot3', order({ clientOrderId: 'c1' }));
    expect(refused.statusCode).toBe(423);
    expect(refused.json()).toMatchObject({ status: 'halted', reason: 'emergency_stop' });
    const exitRefused = await post(rig, '/order/bot1', order({ clientOrderId: 'c2', reduceOnly: true, side: 'SELL' }));
    expect(exitRefused.statusCode).toBe(423);
    await rig.restart();
    expect((await post(rig, '/order/bot3', order({ clientOrderId: 'c3' }))).statusCode).toBe(423);
    expect(rig.orderCalls()).toBe(calls);
    const pf = (await rig.app.inject({ method: 'GET', url: '/portfolio', headers: auth })).json();
    expect(pf).toMatchObject({ halted: true, halt_reason: 'emergency_stop', positions: [] });
    // resume is explicit and admin-only
    expect((await post(rig, '/resume', {})).json()).toEqual({ status: 'active' });
    expect((await post(rig, '/order/bot3', order({ clientOrderId: 'c4' }))).json().status).toBe('routed');
  });

  it('records decisions without executing them', async () => {
    rig = await startRig();
    const res = await post(rig, '/register_decision', {
      botId: 'bot1',
      symbol: 'ETHUSDT',
      action: 'ENTER_LONG',
      confidence: 0.7,
      price: realCloses('ETHUSDT').last,
      thesis: 'momentum over the last 4 h',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'recorded', decisionId: 'bot1:1' });
    expect(rig.peer.calls.filter((c) => c.path.includes('order') || c.path.includes('Order'))).toHaveLength(0);
    expect((await post(rig, '/register_decision', { botId: 'bot1', symbol: 'ETHUSDT' })).statusCode).toBe(400);
    expect((await post(rig, '/register_decision', { botId: 'bot1', symbol: 'x', action: 'HOLD' })).statusCode).toBe(
      400,
    );
    await rig.restart();
    const pf = (await rig.app.inject({ method: 'GET', url: '/portfolio', headers: auth })).json();
    expect(pf.recentDecisions).toHaveLength(1);
    expect(pf.recentDecisions[0]).toMatchObject({
      botId: 'bot1',
      action: 'ENTER_LONG',
      thesis: 'momentum over the last 4 h',
    });
  });

  it('reports an unreachable venue as 502 without consuming the id, and a venue refusal as rejected', async () => {
    rig = await startRig();
    rig.peer.failNext('/fapi/v2/balance', 503);
    const res = await post(rig, '/order/bot1', order());
    expect(res.statusCode).toBe(502);
    expect(res.json()).toEqual({ status: 'error', clientOrderId: 'bot1-BTCUSDT-1', error: 'EXCHANGE_UNAVAILABLE' });
    expect(res.body).not.toContain(rig.peer.url);
    expect((await post(rig, '/order/bot1', order())).json().status).toBe('routed');
    // reduce-only with nothing to reduce: the exchange refuses (-2022)
    const refused = await post(rig, '/order/bot1', order({ clientOrderId: 'r1', symbol: 'ETHUSDT', reduceOnly: true }));
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toEqual({ status: 'rejected', clientOrderId: 'r1', error: 'EXCHANGE_REJECTED' });
    expect(refused.body).not.toContain('ReduceOnly');
    // a symbol the exchange does not list: refused before anything is sent
    const unlisted = await post(rig, '/order/bot1', order({ clientOrderId: 'u1', symbol: 'NOPEUSDT' }));
    expect(unlisted.statusCode).toBe(422);
    expect(unlisted.json()).toEqual({ status: 'rejected', clientOrderId: 'u1', error: 'EXCHANGE_REJECTED' });
    const p = rig.peer;
    p.failNext('/fapi/v2/positionRisk', 500);
    const pf = await rig.app.inject({ method: 'GET', url: '/portfolio', headers: auth });
    expect(pf.statusCode).toBe(502);
    expect(pf.json()).toMatchObject({ error: 'EXCHANGE_UNAVAILABLE' });
    expect((await rig.app.inject({ method: 'GET', url: '/nope' })).statusCode).toBe(404);
  });
});

describe('orchestrator restart with an order in doubt', () => {
  it('looks an unanswered id up on the exchange: absent is routed once, present stays a duplicate', async () => {
    rig = await startRig();
    const line = (id: string) =>
      `${JSON.stringify({ t: 'routed', time: rig!.clock.t, id, botId: 'bot1', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: 0.01, reduceOnly: false })}\n`;
    // crash-1: journaled, then the process died before the exchange saw it
    appendFileSync(rig.journalPath, line('crash-1'));
    // crash-2: journaled and placed, then the process died before the answer was journaled
    appendFileSync(rig.journalPath, line('crash-2'));
    const direct = new AsterRestClient({
      baseUrl: rig.peer.url,
      credentials: { kind: 'hmac', apiKey: rig.peer.apiKey, secretKey: rig.peer.secretKey },
    });
    expect(
      (
        await direct.newOrder({
          symbol: 'BTCUSDT',
          side: 'BUY',
          type: 'MARKET',
          quantity: 0.01,
          newClientOrderId: 'crash-2',
        })
      ).status,
    ).toBe('accepted');
    // a torn last line from the crash is cut off (nothing after it was acknowledged)
    appendFileSync(rig.journalPath, '{"t":"routed","id":"torn');
    await rig.restart();
    const before = rig.orderCalls();

    const again1 = await post(rig, '/order/bot1', order({ clientOrderId: 'crash-1' }));
    expect(again1.json().status).toBe('routed');
    expect(rig.orderCalls()).toBe(before + 1);
    expect((await post(rig, '/order/bot1', order({ clientOrderId: 'crash-1' }))).json().status).toBe('duplicate');

    const again2 = await post(rig, '/order/bot1', order({ clientOrderId: 'crash-2' }));
    expect(again2.json().status).toBe('duplicate');
    expect(rig.orderCalls()).toBe(before + 1);
    expect(rig.peer.positions.get('BTCUSDT')?.amt).toBeCloseTo(0.02, 12);

    // after one more restart both are settled: no lookups, no sends
    await rig.restart();
    const lookups = rig.peer.calls.filter((c) => c.method === 'GET' && c.path === '/fapi/v1/order').length;
    expect((await post(rig, '/order/bot1', order({ clientOrderId: 'crash-1' }))).json().status).toBe('duplicate');
    expect((await post(rig, '/order/bot1', order({ clientOrderId: 'crash-2' }))).json().status).toBe('duplicate');
    expect(rig.peer.calls.filter((c) => c.method === 'GET' && c.path === '/fapi/v1/order')).toHaveLength(lookups);
    expect(rig.orderCalls()).toBe(before + 1);
    // the torn line was cut off on the first restart: every line on disk is a whole entry
    const unreadable = readFileSync(rig.journalPath, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .filter((l) => {
        try {
          JSON.parse(l);
          return false;
        } catch {
          return true;
        }
      });
    expect(unreadable).toEqual([]);
  });
});

describe('orchestrator logs', () => {
  it('never logs a query string, a header or a body', async () => {
    const { AsterRestClient } = await import('../../../live/aster/rest-client.ts');
    const { AsterWalletVenue } = await import('../../../live/orchestrator/aster-wallet-venue.ts');
    const { buildOrchestratorApp } = await import('../../../live/orchestrator/orchestrator-app.ts');
    const { DEFAULT_SETTINGS, withOverrides } = await import('../../../pipelines/settings.ts');
    rig = await startRig();
    const lines: string[] = [];
    const app = buildOrchestratorApp({
      settings: withOverrides(DEFAULT_SETTINGS, { ADMIN_API_TOKEN: TOKEN }),
      venue: new AsterWalletVenue(
        new AsterRestClient({
          baseUrl: rig.peer.url,
          credentials: { kind: 'hmac', apiKey: rig.peer.apiKey, secretKey: rig.peer.secretKey },
        }),
      ),
      clock: rig.clock,
      logger: true,
      logStream: { write: (l) => void lines.push(l) },
    });
    await app.inject({ method: 'GET', url: `/portfolio?token=${TOKEN}` });
    await app.inject({ method: 'POST', url: '/order/bot1', headers: auth, payload: order() });
    await app.inject({
      method: 'POST',
      url: '/order/bot1',
      headers: { authorization: 'Bearer wrong-guess' },
      payload: order(),
    });
    await app.close();
    expect(lines.length).toBeGreaterThan(0);
    const all = lines.join('\n');
    expect(all).toContain('/portfolio');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('wrong-guess');
    expect(all).not.toContain(rig.peer.secretKey);
  });
});

describe('orchestrator cancels', () => {
  it('lets a bot cancel only the orders it routed', async () => {
    rig = await startRig();
    const limit = Math.round(realCloses('BTCUSDT').last * 0.95 * 10) / 10;
    const placed = await post(rig, '/order/bot1', order({ clientOrderId: 'L1', type: 'LIMIT', price: limit }));
    expect(placed.json()).toMatchObject({ status: 'routed', venueStatus: 'NEW' });
    expect(rig.peer.openOrders).toHaveLength(1);
    const foreign = await post(rig, '/cancel/bot2', { symbol: 'BTCUSDT', clientOrderId: 'L1' });
    expect(foreign.statusCode).toBe(404);
    expect((await post(rig, '/cancel/bot1', { symbol: 'ETHUSDT', clientOrderId: 'L1' })).statusCode).toBe(404);
    expect((await post(rig, '/cancel/bot1', { symbol: 'BTCUSDT' })).statusCode).toBe(400);
    expect(rig.peer.openOrders).toHaveLength(1);
    const ok = await post(rig, '/cancel/bot1', { symbol: 'BTCUSDT', clientOrderId: 'L1' });
    expect(ok.json()).toEqual({ status: 'cancelled', clientOrderId: 'L1' });
    expect(rig.peer.openOrders).toHaveLength(0);
    // already gone on the exchange: refused there
    const again = await post(rig, '/cancel/bot1', { symbol: 'BTCUSDT', clientOrderId: 'L1' });
    expect(again.statusCode).toBe(422);
    expect(again.json()).toMatchObject({ status: 'rejected', error: 'EXCHANGE_REJECTED' });
  });
});

describe('orchestrator over a real socket', () => {
  it('listens on 127.0.0.1:0 and serves a bot client, a wrong token and a bad body', async () => {
    rig = await startRig();
    await rig.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(rig.app.server.address() as AddressInfo).port}`;
    const bot = new OrchestratorClient({ baseUrl: url, botId: 'sock', adminToken: TOKEN });
    const req = {
      symbol: 'BTCUSDT',
      side: 'BUY' as const,
      type: 'MARKET' as const,
      quantity: 0.01,
      clientOrderId: 'sock-1',
      reduceOnly: false,
    };
    expect(await bot.placeOrder(req)).toMatchObject({ status: 'routed', clientOrderId: 'sock-1' });
    expect(await bot.placeOrder(req)).toMatchObject({ status: 'duplicate' });
    expect(await bot.placeOrder({ ...req, clientOrderId: 'sock-2', kellyFraction: 0.99 })).toMatchObject({
      status: 'denied',
      rule: 'kelly-cap',
    });
    const invalid = await bot.placeOrder({ ...req, clientOrderId: 'sock-3', quantity: -1 });
    expect(invalid.status).toBe('invalid');
    const missing = await fetch(`${url}/order/sock`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(missing.status).toBe(401);
    const wrong = await fetch(`${url}/emergency_stop`, { method: 'POST', headers: { authorization: 'Bearer x' } });
    expect(wrong.status).toBe(403);
    expect(rig.orderCalls()).toBe(1);
  });
});
