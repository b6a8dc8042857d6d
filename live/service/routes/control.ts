import type { FastifyPluginAsync } from 'fastify';
import type { AppOptions } from '../app-options.ts';

/** Operator controls (admin scope): POST /start, /stop, /emergency_stop. */
export const controlRoutes: FastifyPluginAsync<AppOptions> = async (app, { engine }) => {
  app.post('/start', async (_request, reply) => {
    if (!engine.started) return reply.code(409).send({ error: 'conflict', message: 'the engine has not started yet' });
    if (engine.riskState === 'HALTED' && !engine.operatorHalted) {
      return reply.code(409).send({
        error: 'conflict',
        message: `halted by the risk stage (${engine.riskReason}); an operator start does not lift the drawdown floor`,
      });
    }
    await engine.resume('POST /start');
    return { running: engine.running, risk_state: engine.riskState };
  });

  app.post('/stop', async () => {
    await engine.stop('POST /stop');
    return {
      running: engine.running,
      risk_state: engine.riskState,
      note: 'new entries stopped; stops and exits still run',
    };
  });

  app.post('/emergency_stop', async (_request, reply) => {
    const why = engine.unavailable;
    if (why !== null) {
      // never a 200 that did nothing: the operator must close the positions at the exchange
      const open = engine.portfolio?.positions.map((p) => p.symbol) ?? [];
      return reply.code(503).send({
        error: 'engine_unavailable',
        message: `${why}: nothing was flattened${open.length > 0 ? `; positions last known open: ${open.join(', ')} — close them at the exchange` : ''}`,
        flattening: 0,
        positions: open,
      });
    }
    const outcome = await engine.emergencyStop('POST /emergency_stop');
    const body = {
      running: engine.running,
      risk_state: engine.riskState,
      flattening: outcome.orders.length + outcome.alreadyFlattening.length,
      orders: outcome.orders.map((o) => ({
        client_order_id: o.clientOrderId,
        symbol: o.symbol,
        side: o.side,
        quantity: o.quantity,
      })),
      already_flattening: outcome.alreadyFlattening,
      uncovered: outcome.uncovered,
    };
    if (engine.failure !== null || outcome.uncovered.length > 0) {
      const what =
        engine.failure !== null
          ? `the pipeline stopped during the emergency stop (${engine.failure})`
          : `no flatten order was produced for ${outcome.uncovered.join(', ')}`;
      return reply.code(500).send({
        error: 'emergency_stop_incomplete',
        message: `${what}: close those positions at the exchange`,
        ...body,
      });
    }
    return { ...body, note: 'halted; every position has a reduce-only market order, filled at the next bar' };
  });
};
