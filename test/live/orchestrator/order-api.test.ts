import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  OrchestratorClient,
  orchestratorOrderApi,
  orderRequestOf,
} from '../../../live/orchestrator/orchestrator-client.ts';
import type { Order } from '../../../pipelines/model/index.ts';
import { realCloses, startRig, TOKEN, type Rig } from './kit/orchestrator-kit.ts';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function listening(r: Rig): Promise<string> {
  await r.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(r.app.server.address() as AddressInfo).port}`;
}

describe('orchestratorOrderApi (the execution port routed through ORCHESTRATOR_URL)', () => {
  it('maps routed, duplicate, halted and unsupported orders onto the Aster client results', async () => {
    rig = await startRig();
    const url = await listening(rig);
    const api = orchestratorOrderApi(new OrchestratorClient({ baseUrl: url, botId: 'live-1', adminToken: TOKEN }));
    const eth = realCloses('ETHUSDT').last;
    // a slippage-guarded entry: LIMIT IOC at 25 bps through the real close
    const entry = {
      symbol: 'ETHUSDT',
      side: 'BUY' as const,
      type: 'LIMIT' as const,
      timeInForce: 'IOC' as const,
      price: Math.round(eth * 1.0025 * 100) / 100,
      quantity: 0.2,
      newClientOrderId: 'live-1-ETH-1',
    };
    const r1 = await api.newOrder(entry);
    expect(r1).toMatchObject({
      status: 'accepted',
      order: { status: 'FILLED', executedQty: 0.2, clientOrderId: 'live-1-ETH-1' },
    });
    const sent = rig.peer.calls.find((c) => c.method === 'POST' && c.path === '/fapi/v1/order')!;
    expect(sent.params).toMatchObject({ type: 'LIMIT', timeInForce: 'IOC' });
    expect(await api.newOrder(entry)).toMatchObject({ status: 'unknown' });

    const stop = await api.newOrder({
      symbol: 'ETHUSDT',
      side: 'SELL',
      type: 'STOP_MARKET',
      stopPrice: Math.round(eth * 0.95 * 100) / 100,
      closePosition: true,
      newClientOrderId: 'live-1-ETH-1-s0',
    });
    expect(stop.status).toBe('accepted');
    expect(rig.peer.openOrders.map((o) => o.clientOrderId)).toEqual(['live-1-ETH-1-s0']);
    await api.cancelOrder({ symbol: 'ETHUSDT', origClientOrderId: 'live-1-ETH-1-s0' });
    expect(rig.peer.openOrders).toHaveLength(0);
    await expect(api.cancelOrder({ symbol: 'ETHUSDT', origClientOrderId: 'nope' })).rejects.toThrow(
      /EXCHANGE_REJECTED/,
    );

    expect(
      await api.newOrder({
        symbol: 'ETHUSDT',
        side: 'SELL',
        type: 'TRAILING_STOP_MARKET',
        callbackRate: 1,
        quantity: 0.2,
        newClientOrderId: 't1',
      }),
    ).toMatchObject({ status: 'rejected' });

    await rig.app.inject({ method: 'POST', url: '/emergency_stop', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await api.newOrder({ ...entry, newClientOrderId: 'live-1-ETH-2' })).toMatchObject({
      status: 'rejected',
      reason: 'orchestrator halted (emergency_stop)',
    });
  });

  it('turns a pipeline order into a request', () => {
    const base: Order = {
      kind: 'order',
      time: 0,
      symbol: 'BTCUSDT',
      clientOrderId: 'b-1',
      side: 'SELL',
      type: 'STOP_MARKET',
      quantity: 0,
      reduceOnly: true,
      stopPrice: realCloses('BTCUSDT').min,
      refPrice: realCloses('BTCUSDT').last,
      maxSlippageBps: 0,
      reason: 'stop',
    };
    expect(orderRequestOf(base)).toEqual({
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'STOP_MARKET',
      quantity: 0,
      clientOrderId: 'b-1',
      reduceOnly: false,
      closePosition: true,
      stopPrice: realCloses('BTCUSDT').min,
    });
    expect(
      orderRequestOf({ ...base, type: 'MARKET', quantity: 0.01, reduceOnly: false }, { kellyFraction: 0.2 }),
    ).toEqual({
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'MARKET',
      quantity: 0.01,
      clientOrderId: 'b-1',
      reduceOnly: false,
      kellyFraction: 0.2,
    });
  });
});
