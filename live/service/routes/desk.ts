import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Settings } from '../../../pipelines/settings.ts';
import type { ClockPort } from '../../../pipelines/ports.ts';
import type { TradeRow } from '../dashboard-view.ts';
import type { TradingEngine } from '../../engine/trading-engine.ts';
import type { Desk } from '../desk.ts';
import { tradeRows } from '../views.ts';
import { badRequest } from '../http/errors.ts';

export interface DeskRouteOptions {
  engine: TradingEngine;
  settings: Settings;
  desk: Desk;
  clock: ClockPort;
}

/** Admin routes whose every answer is an operator action for the audit trail. */
const ACTIONS = [
  /^DELETE \/orders\/[^/]+$/,
  /^POST \/start$/,
  /^POST \/stop$/,
  /^POST \/emergency_stop$/,
  /^POST \/inference\/decisions$/,
  /^POST \/positions\/[^/]+\/close$/,
];

const TradesQuery = z.strictObject({
  page: z.coerce.number().int().min(1).default(1),
  size: z.coerce.number().int().min(1).max(200).default(25),
});
const CloseParams = z.strictObject({ symbol: z.string().min(1).max(40) });
/** the exchange's client order id alphabet and length (operators/execution/client-order-id.ts) */
const CancelParams = z.strictObject({
  clientOrderId: z.string().regex(/^[.A-Z:/a-z0-9_-]{1,36}$/, 'a client order id is 1 to 36 of A-Z a-z 0-9 . : / _ -'),
});

const CSV_COLUMNS: (keyof TradeRow)[] = [
  'openedAt',
  'time',
  'symbol',
  'side',
  'quantity',
  'entryPrice',
  'exitPrice',
  'netPnl',
  'returnPct',
  'exitReason',
  'entryReason',
];

function csvCell(key: keyof TradeRow, v: unknown): string {
  if (v === null || v === undefined) return '';
  if (key === 'openedAt' || key === 'time') return new Date(v as number).toISOString();
  const text = String(v);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** What an answer body says, in one short line (for the audit trail). */
function outcomeOf(payload: unknown): string {
  if (typeof payload !== 'string') return '';
  try {
    const body = JSON.parse(payload) as Record<string, unknown>;
    const said = body.message ?? body.note ?? body.reason ?? (body.accepted === true ? 'accepted' : undefined);
    const running = typeof body.running === 'boolean' ? `running=${String(body.running)}` : '';
    return [typeof said === 'string' ? said : '', running].filter(Boolean).join('; ').slice(0, 300);
  } catch {
    return '';
  }
}

/**
 * The desk's routes: close one position, the trade history (paged and as CSV), the working
 * orders and the operator audit trail. Registered on the app itself (not encapsulated) so the
 * audit hook sees every admin route, and request logs go out at debug level.
 */
export function registerDeskRoutes(app: FastifyInstance, o: DeskRouteOptions): void {
  const { engine, desk } = o;

  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const path = request.url.split('?')[0]!;
    if (ACTIONS.some((r) => r.test(`${request.method} ${path}`))) {
      const line = {
        wallTime: o.clock.now(),
        action: `${request.method} ${path}`,
        status: reply.statusCode,
        from: request.ip,
        outcome: outcomeOf(payload),
      };
      desk.record(line);
      request.log.info({ audit: line }, `operator ${line.action} from ${line.from} → ${line.status} ${line.outcome}`);
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
  });

  app.get('/trades', async (request, reply) => {
    const query = TradesQuery.safeParse(request.query);
    if (!query.success) return badRequest(reply, 'query', query.error);
    const rows = tradeRows(engine);
    const { page, size } = query.data;
    return {
      page,
      size,
      total: rows.length,
      pages: Math.max(1, Math.ceil(rows.length / size)),
      trades: rows.slice((page - 1) * size, page * size),
    };
  });

  app.get('/trades.csv', async (_request, reply) => {
    const rows = tradeRows(engine);
    const lines = [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((k) => csvCell(k, r[k])).join(','))];
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="sapphire-trades.csv"')
      .send(`${lines.join('\n')}\n`);
  });

  app.get('/orders', async () => ({ orders: desk.openOrders() }));
  app.get('/audit', async () => ({ audit: desk.audit.slice().reverse() }));
}

/**
 * POST /positions/:symbol/close: an exit decision through the pipeline (a reduce-only market
 * order, filled at the next bar). DELETE /orders/:clientOrderId: withdraw one working entry order
 * (see cancelOrder below). Registered inside the admin scope, so they need the token.
 */
export const deskAdminRoutes: FastifyPluginAsync<{ engine: TradingEngine; settings: Settings; desk: Desk }> = async (
  app,
  { engine, settings, desk },
) => {
  /**
   * DELETE /orders/:clientOrderId — 400 a malformed id, 404 an order the service does not know,
   * 409 one that is finished (filled, cancelled, rejected) or one the engine keeps (the stop or
   * take-profit of an open position, an exit or flatten order: see notCancellable), 503 when the
   * engine takes no commands, else 202: the cancel is journaled as a control input and the
   * execution stage hands it to the venue, which withdraws the order before it can fill (an
   * order-rejected event, reason "cancelled by the operator"; the paper venue at the next bar).
   */
  app.delete('/orders/:clientOrderId', async (request, reply) => {
    const params = CancelParams.safeParse(request.params);
    if (!params.success) return badRequest(reply, 'params', params.error);
    const id = params.data.clientOrderId;
    const known = desk.find(id);
    if (known === null) {
      return reply.code(404).send({ error: 'not_found', message: `no order ${id} is known to this service` });
    }
    if (known.state === 'finished') {
      return reply
        .code(409)
        .send({ error: 'conflict', message: `order ${id} (${known.symbol}) is not open any more: ${known.outcome}` });
    }
    const order = known.order;
    if (!order.cancellable) {
      return reply
        .code(409)
        .send({ error: 'conflict', message: `order ${id} cannot be cancelled: ${order.notCancellable}` });
    }
    const why = engine.unavailable;
    if (why !== null)
      return reply.code(503).send({ error: 'engine_unavailable', message: `${why}: nothing was cancelled` });
    await engine.cancelOrder(order.symbol, id, `DELETE /orders/${id}`);
    return reply.code(202).send({
      accepted: true,
      message: `cancelling ${order.symbol} ${order.reason} ${order.side} ${order.quantity} (${id}): withdrawn before it can fill, told at the next bar`,
    });
  });

  app.post('/positions/:symbol/close', async (request, reply) => {
    const params = CloseParams.safeParse(request.params);
    if (!params.success) return badRequest(reply, 'params', params.error);
    const symbol = params.data.symbol.toUpperCase();
    if (!settings.SYMBOLS.includes(symbol)) {
      return reply.code(404).send({
        error: 'not_found',
        message: `params.symbol: ${symbol} is not traded (SYMBOLS=${settings.SYMBOLS.join(',')})`,
      });
    }
    const position = engine.portfolio?.positions.find((p) => p.symbol === symbol && p.quantity !== 0);
    if (!position) {
      return reply.code(409).send({ error: 'conflict', message: `no open position on ${symbol}: nothing to close` });
    }
    const outcome = await engine.submitDecision({
      symbol,
      action: 'exit',
      confidence: 1,
      reason: 'operator close from the dashboard',
    });
    const order = outcome.events.find((e) => e.kind === 'order');
    if (!outcome.accepted || order === undefined) {
      return reply.code(409).send({
        error: 'not_closed',
        message: `${symbol} was not closed: ${outcome.reason ?? 'the pipeline produced no exit order'}`,
      });
    }
    return reply.code(202).send({
      accepted: true,
      message: `closing ${symbol} ${position.quantity > 0 ? 'LONG' : 'SHORT'} ${Math.abs(position.quantity)}: reduce-only market order ${order.kind === 'order' ? order.clientOrderId : ''}, filled at the next bar`,
    });
  });
};
