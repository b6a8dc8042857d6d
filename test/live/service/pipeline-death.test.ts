import { map, type OperatorFunction } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { PipelineEvent } from '../../../pipelines/model/index.ts';
import { auth, testService } from '../../kit/service-kit.ts';

type Service = Awaited<ReturnType<typeof testService>>;
let service: Service | null = null;
afterEach(async () => {
  await service?.close();
  service = null;
});

/**
 * A stage that throws once armed, standing in for any operator that breaks an invariant on a
 * live input (the case: a bar with `close: null` reaching the features). It sits where
 * the agent stage goes, so everything before it (venue, portfolio, features) is the real thing.
 */
function failingStage(): { stage: OperatorFunction<PipelineEvent, PipelineEvent>; arm: () => void } {
  let armed = false;
  return {
    stage: (source) =>
      source.pipe(
        map((e) => {
          if (armed && e.kind === 'bar') throw new Error('INVARIANT_NAN: close is not a finite number');
          return e;
        }),
      ),
    arm: () => {
      armed = true;
    },
  };
}

async function withPosition(s: Service): Promise<void> {
  let guard = 0;
  while ((s.engine.portfolio?.positions.length ?? 0) === 0 && guard++ < 60) await s.feed(10);
  expect(s.engine.portfolio!.positions.length).toBeGreaterThan(0);
}

describe('a dead pipeline is loud (issue 14 item 9)', () => {
  it('healthz answers 503 with the reason and an emergency stop that cannot act answers 503, not "flattening"', async () => {
    const fault = failingStage();
    const failures: string[] = [];
    service = await testService({ engine: { agents: fault.stage, onFailure: (r) => failures.push(r) } });
    await withPosition(service);
    const open = service.engine.portfolio!.positions.map((p) => p.symbol);
    const healthy = await service.app.inject({ method: 'GET', url: '/healthz' });
    expect(healthy.statusCode).toBe(200);

    fault.arm();
    await service.feed(1);
    const ordersBefore = service.sent.filter((e) => e.kind === 'order').length;
    const r = await service.app.inject({ method: 'POST', url: '/emergency_stop', headers: auth });
    expect(r.statusCode).toBe(503);
    expect(r.json().flattening).toBe(0);
    expect(r.json().message).toContain('nothing was flattened');
    for (const symbol of open) expect(r.json().message).toContain(symbol);
    // and indeed nothing was produced
    expect(service.sent.filter((e) => e.kind === 'order').length).toBe(ordersBefore);

    const health = await service.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ ok: false, running: false });
    expect(health.json().reason).toContain('the pipeline has stopped: INVARIANT_NAN');
    expect(failures).toEqual(['INVARIANT_NAN: close is not a finite number']);
    const stop = await service.app.inject({ method: 'POST', url: '/stop', headers: auth });
    expect(stop.statusCode).toBe(503);
  });

  it('an emergency stop on a live pipeline lists the flatten orders it produced, one per open position', async () => {
    service = await testService();
    await withPosition(service);
    const open = service.engine.portfolio!.positions.map((p) => p.symbol).sort();
    const r = await service.app.inject({ method: 'POST', url: '/emergency_stop', headers: auth });
    expect(r.statusCode).toBe(200);
    const body = r.json() as { flattening: number; orders: { symbol: string; client_order_id: string }[] };
    expect(body.orders.map((o) => o.symbol).sort()).toEqual(open);
    expect(body.flattening).toBe(open.length);
    const produced = service.sent.filter((e) => e.kind === 'order' && e.reason === 'halt-flatten');
    expect(body.orders.map((o) => o.client_order_id).sort()).toEqual(
      produced.map((o) => (o.kind === 'order' ? o.clientOrderId : '')).sort(),
    );
    // a second emergency stop before the fills: the positions are covered by the orders in flight
    const again = await service.app.inject({ method: 'POST', url: '/emergency_stop', headers: auth });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ flattening: open.length, orders: [], uncovered: [] });
  });

  it('a live bar the journal would refuse is dropped before it is journaled, and the pipeline lives on', async () => {
    service = await testService();
    await service.feed(5);
    const bar = service.live[1000]!;
    const journaled = service.journal.readAll().length;
    service.market.next({ ...bar, close: null as unknown as number });
    await service.engine.idle();
    expect(service.journal.readAll().length).toBe(journaled);
    expect(service.engine.lastError).toContain('bar dropped');
    expect(service.engine.failure).toBeNull();
    await service.feed(5);
    expect(service.engine.alive).toBe(true);
  });
});
