import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ClockPort } from '../../pipelines/ports.ts';
import { isSapphireError } from '../../pipelines/errors.ts';
import { adminGuard, tokenInQuery } from './admin-auth.ts';
import { checkGuardrails, drawdownOf, type WalletLimits } from './guardrails.ts';
import { RoutingJournal, type JournalEntry } from './routing-journal.ts';
import { walletEquity, type VenuePosition, type WalletVenue } from './wallet-venue.ts';

export type OrchestratorSettings = WalletLimits & { readonly ADMIN_API_TOKEN: string };

export interface OrchestratorOptions {
  readonly settings: OrchestratorSettings;
  readonly venue: WalletVenue;
  readonly clock: ClockPort;
  /** append-only JSONL of routed ids, decisions and halts; omitted = memory only */
  readonly journalPath?: string;
  /** Fastify logger (off by default). Request lines carry method, path (never the query string) and IP only */
  readonly logger?: boolean;
  /** where log lines go when `logger` is on (default stdout) */
  readonly logStream?: { write(line: string): void };
  /** how many registered decisions GET /portfolio keeps (default 200) */
  readonly keepDecisions?: number;
}

const CLIENT_ORDER_ID = /^[.A-Z:/a-z0-9_-]{1,36}$/;
const BOT_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const SYMBOL = /^[A-Z0-9]{2,30}$/;

export const OrderRequestSchema = z
  .strictObject({
    symbol: z.string().regex(SYMBOL),
    side: z.enum(['BUY', 'SELL']),
    /** 0 only with closePosition */
    quantity: z.number().nonnegative().finite(),
    type: z.enum(['MARKET', 'LIMIT', 'STOP_MARKET', 'TAKE_PROFIT_MARKET']),
    clientOrderId: z.string().regex(CLIENT_ORDER_ID),
    reduceOnly: z.boolean(),
    /** protective STOP_MARKET / TAKE_PROFIT_MARKET closing the whole position (quantity 0) */
    closePosition: z.boolean().optional(),
    price: z.number().positive().finite().optional(),
    stopPrice: z.number().positive().finite().optional(),
    /** LIMIT only (a slippage-guarded MARKET is sent as LIMIT IOC); default GTC */
    timeInForce: z.enum(['GTC', 'IOC', 'FOK', 'GTX']).optional(),
    kellyFraction: z.number().nonnegative().finite().optional(),
    equity: z.number().nonnegative().finite().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.closePosition === true) {
      if (o.type !== 'STOP_MARKET' && o.type !== 'TAKE_PROFIT_MARKET')
        ctx.addIssue({
          code: 'custom',
          path: ['closePosition'],
          message: 'closePosition needs a STOP_MARKET or TAKE_PROFIT_MARKET',
        });
      if (o.quantity !== 0)
        ctx.addIssue({ code: 'custom', path: ['quantity'], message: 'closePosition orders carry quantity 0' });
    } else if (!(o.quantity > 0)) {
      ctx.addIssue({ code: 'custom', path: ['quantity'], message: 'quantity must be positive' });
    }
    if (o.type === 'LIMIT' && o.price === undefined) {
      ctx.addIssue({ code: 'custom', path: ['price'], message: 'LIMIT orders need a price' });
    }
    if (o.timeInForce !== undefined && o.type !== 'LIMIT') {
      ctx.addIssue({ code: 'custom', path: ['timeInForce'], message: 'timeInForce is for LIMIT orders' });
    }
    if ((o.type === 'STOP_MARKET' || o.type === 'TAKE_PROFIT_MARKET') && o.stopPrice === undefined) {
      ctx.addIssue({ code: 'custom', path: ['stopPrice'], message: `${o.type} orders need a stopPrice` });
    }
  });
export type OrderRequest = z.infer<typeof OrderRequestSchema>;

export const CancelRequestSchema = z.strictObject({
  symbol: z.string().regex(SYMBOL),
  clientOrderId: z.string().regex(CLIENT_ORDER_ID),
});
export type CancelRequest = z.infer<typeof CancelRequestSchema>;

export const DecisionRecordSchema = z.strictObject({
  botId: z.string().regex(BOT_ID),
  symbol: z.string().regex(SYMBOL),
  action: z.string().min(1).max(40),
  confidence: z.number().min(0).max(1).optional(),
  price: z.number().positive().finite().optional(),
  time: z.number().int().nonnegative().optional(),
  seq: z.number().int().nonnegative().optional(),
  thesis: z.string().max(4000).optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type DecisionRecord = z.infer<typeof DecisionRecordSchema>;

class BadRequest extends Error {
  readonly issues: { path: string; message: string }[];
  constructor(issues: { path: string; message: string }[]) {
    super('bad request');
    this.issues = issues;
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new BadRequest(r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
}

function errorCode(e: unknown): string {
  return isSapphireError(e) ? e.code : 'EXCHANGE_UNAVAILABLE';
}

interface RoutedInfo {
  readonly botId: string;
  readonly symbol: string;
}

type HaltReason = 'emergency_stop' | 'drawdown';

/**
 * The multi-bot orchestrator: one wallet, several bots. Every order passes wallet-level
 * guardrails and is routed at most once per client order id (the id is fsync'd to the journal
 * before the venue sees it, so restarts keep the promise). Emergency stop cancels every open
 * order, flattens every position with reduce-only MARKET orders and halts all bots.
 */
export function buildOrchestratorApp(opts: OrchestratorOptions): FastifyInstance {
  const { settings, venue, clock } = opts;
  const keep = opts.keepDecisions ?? 200;
  const app = Fastify({
    logger:
      opts.logger === true
        ? {
            level: 'info',
            ...(opts.logStream !== undefined ? { stream: opts.logStream } : {}),
            serializers: {
              req: (r: { method?: string; url?: string; ip?: string }) => ({
                method: r.method,
                path: (r.url ?? '').split('?')[0],
                ip: r.ip,
              }),
            },
          }
        : false,
    bodyLimit: 64 * 1024,
  });
  const journal = new RoutingJournal(opts.journalPath);
  const startedAt = clock.now();

  const routed = new Map<string, RoutedInfo>();
  const pending = new Set<string>();
  /**
   * ids whose outcome is unknown: journaled as routed but with no answer recorded (a crash
   * between the journal line and the venue's answer) or no answer from the venue. A repeat of
   * such an id looks it up on the exchange first; only a confirmed absence routes it again.
   */
  const inDoubt = new Set<string>();
  /** botId → symbol → signed quantity routed by that bot */
  const exposure = new Map<string, Map<string, number>>();
  const decisions: (DecisionRecord & { decisionId: string; recordedAt: number })[] = [];
  let decisionCount = 0;
  let halt: HaltReason | undefined;
  let peakEquity = 0;

  const addExposure = (botId: string, symbol: string, qty: number): void => {
    if (qty === 0) return;
    let m = exposure.get(botId);
    if (m === undefined) exposure.set(botId, (m = new Map()));
    const next = (m.get(symbol) ?? 0) + qty;
    if (Math.abs(next) < 1e-12) m.delete(symbol);
    else m.set(symbol, next);
  };
  const pushDecision = (d: DecisionRecord, recordedAt: number): string => {
    decisionCount += 1;
    const decisionId = `${d.botId}:${decisionCount}`;
    decisions.push({ ...d, decisionId, recordedAt });
    if (decisions.length > keep) decisions.splice(0, decisions.length - keep);
    return decisionId;
  };

  // replay: routed ids, exposure, halts, peak
  for (const e of journal.replayed()) apply(e);
  function apply(e: JournalEntry): void {
    switch (e.t) {
      case 'routed':
        routed.set(e.id, { botId: e.botId, symbol: e.symbol });
        inDoubt.add(e.id);
        return;
      case 'resolved':
        inDoubt.delete(e.id);
        if (!e.found) routed.delete(e.id);
        return;
      case 'ack': {
        inDoubt.delete(e.id);
        const r = routed.get(e.id);
        if (r !== undefined) addExposure(r.botId, r.symbol, e.exposureQty);
        return;
      }
      case 'halt':
        halt = e.reason;
        if (e.reason === 'emergency_stop') exposure.clear();
        return;
      case 'resume':
        halt = undefined;
        peakEquity = 0;
        return;
      case 'peak':
        peakEquity = Math.max(peakEquity, e.equity);
        return;
      case 'decision': {
        const d = DecisionRecordSchema.safeParse(e.decision);
        if (d.success) pushDecision(d.data, e.time);
        return;
      }
      case 'failed':
        if (e.error !== 'EXCHANGE_UNAVAILABLE') inDoubt.delete(e.id);
        return;
    }
  }
  const record = (e: JournalEntry): void => {
    journal.append(e);
    apply(e);
  };
  const notePeak = (equity: number): void => {
    if (equity > peakEquity) record({ t: 'peak', time: clock.now(), equity });
  };
  const haltNow = (reason: HaltReason): void => {
    if (halt === 'emergency_stop') return;
    if (halt === reason) return;
    record({ t: 'halt', time: clock.now(), reason });
  };

  app.addHook('onClose', async () => journal.close());
  // a credential in a URL lands in access logs and browser history: refused on every route
  app.addHook('onRequest', async (req, reply) => {
    if (tokenInQuery(req)) await reply.code(400).send({ error: 'credentials are not accepted in the query string' });
  });

  app.setNotFoundHandler(async (_req, reply) => reply.code(404).send({ error: 'not found' }));
  app.setErrorHandler(async (err: unknown, _req, reply: FastifyReply) => {
    if (err instanceof BadRequest) return reply.code(400).send({ error: 'bad request', issues: err.issues });
    if (isSapphireError(err)) return reply.code(err.status).send({ error: err.code });
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const text = status === 413 ? 'body too large' : status === 415 ? 'unsupported media type' : 'bad request';
      return reply.code(status).send({ error: text });
    }
    return reply.code(500).send({ error: 'internal error' });
  });

  /** emergency stop refuses everything; the drawdown halt lets exits (reduce-only) through */
  const blocks = (reduceOnly: boolean): boolean => halt === 'emergency_stop' || (halt === 'drawdown' && !reduceOnly);
  const admin = adminGuard(settings.ADMIN_API_TOKEN);
  const halted423 = (reply: FastifyReply, clientOrderId?: string) =>
    reply.code(423).send({ status: 'halted', reason: halt, ...(clientOrderId ? { clientOrderId } : {}) });

  app.get('/healthz', async () => ({
    ok: true,
    halted: halt !== undefined,
    halt_reason: halt ?? null,
    routed_orders: routed.size,
    uptime_s: Math.max(0, Math.round((clock.now() - startedAt) / 1000)),
  }));

  app.post<{ Params: { botId: string } }>('/order/:botId', { preHandler: admin }, async (req, reply) => {
    const botId = req.params.botId;
    if (!BOT_ID.test(botId)) throw new BadRequest([{ path: 'botId', message: 'invalid bot id' }]);
    const o = parse(OrderRequestSchema, req.body);
    const id = o.clientOrderId;
    const exitOnly = o.reduceOnly || o.closePosition === true;
    if (pending.has(id)) return { status: 'duplicate', clientOrderId: id, botId };
    const seen = routed.get(id);
    if (seen !== undefined) {
      if (!inDoubt.has(id) || seen.botId !== botId || seen.symbol !== o.symbol) {
        return { status: 'duplicate', clientOrderId: id, botId: seen.botId };
      }
      pending.add(id);
      let found: 'present' | 'absent' | undefined;
      try {
        found = await venue.findOrder(o.symbol, id);
      } catch {
        found = undefined; // cannot tell: stay in doubt, never send blind
      } finally {
        pending.delete(id);
      }
      if (found !== undefined) record({ t: 'resolved', time: clock.now(), id, found: found === 'present' });
      if (found !== 'absent') return { status: 'duplicate', clientOrderId: id, botId: seen.botId };
      // confirmed never placed: route it like a new order
    }
    if (blocks(exitOnly)) return halted423(reply, id);
    pending.add(id);
    try {
      let positions: VenuePosition[];
      let equity: number;
      let price: number;
      try {
        const [b, p, mark] = await Promise.all([
          venue.balance(),
          venue.positions(),
          o.price !== undefined ? Promise.resolve(o.price) : venue.markPrice(o.symbol),
        ]);
        positions = p.filter((x) => x.positionAmt !== 0);
        equity = walletEquity(b);
        price = mark;
      } catch (e) {
        // e.g. a symbol the exchange does not list (premiumIndex refused): nothing was sent
        const code = errorCode(e);
        const rejected = code === 'EXCHANGE_REJECTED';
        return reply
          .code(rejected ? 422 : 502)
          .send({ status: rejected ? 'rejected' : 'error', clientOrderId: id, error: code });
      }
      notePeak(equity);
      // an emergency stop may have started while we were reading the wallet
      if (blocks(exitOnly)) return halted423(reply, id);
      const verdict = checkGuardrails(
        {
          symbol: o.symbol,
          side: o.side,
          quantity: o.quantity,
          reduceOnly: exitOnly,
          price,
          kellyFraction: o.kellyFraction,
          equity,
          peakEquity,
          positions,
        },
        settings,
      );
      if (!verdict.ok) {
        if (verdict.rule === 'drawdown-floor') {
          haltNow('drawdown');
          return halted423(reply, id);
        }
        const { rule, value, limit, detail } = verdict;
        return reply.code(422).send({ status: 'denied', clientOrderId: id, rule, value, limit, detail });
      }
      // on disk before the venue sees it: a crash after this line can never send the id twice
      record({
        t: 'routed',
        time: clock.now(),
        id,
        botId,
        symbol: o.symbol,
        side: o.side,
        type: o.type,
        quantity: o.quantity,
        reduceOnly: o.reduceOnly,
      });
      try {
        const ack = await venue.placeOrder({
          symbol: o.symbol,
          side: o.side,
          type: o.type,
          quantity: o.quantity,
          newClientOrderId: id,
          reduceOnly: o.reduceOnly,
          ...(o.closePosition === true ? { closePosition: true } : {}),
          ...(o.price !== undefined && o.type === 'LIMIT' ? { price: o.price } : {}),
          ...(o.stopPrice !== undefined ? { stopPrice: o.stopPrice } : {}),
          ...(o.timeInForce !== undefined ? { timeInForce: o.timeInForce } : {}),
        });
        const filled = o.type === 'MARKET' ? o.quantity : ack.executedQty;
        const exposureQty = o.side === 'BUY' ? filled : -filled;
        record({ t: 'ack', time: clock.now(), id, orderId: ack.orderId, status: ack.status, exposureQty });
        return {
          status: 'routed',
          clientOrderId: id,
          botId,
          orderId: ack.orderId,
          venueStatus: ack.status,
          executedQty: ack.executedQty,
          avgPrice: ack.avgPrice,
        };
      } catch (e) {
        const code = errorCode(e);
        record({ t: 'failed', time: clock.now(), id, error: code });
        const rejected = code === 'EXCHANGE_REJECTED';
        return reply
          .code(rejected ? 422 : 502)
          .send({ status: rejected ? 'rejected' : 'error', clientOrderId: id, error: code });
      }
    } finally {
      pending.delete(id);
    }
  });

  // a bot may cancel only what it routed itself; allowed while halted (a cancel only lowers risk)
  app.post<{ Params: { botId: string } }>('/cancel/:botId', { preHandler: admin }, async (req, reply) => {
    const botId = req.params.botId;
    if (!BOT_ID.test(botId)) throw new BadRequest([{ path: 'botId', message: 'invalid bot id' }]);
    const c = parse(CancelRequestSchema, req.body);
    const mine = routed.get(c.clientOrderId);
    if (mine === undefined || mine.botId !== botId || mine.symbol !== c.symbol) {
      return reply.code(404).send({ status: 'unknown', clientOrderId: c.clientOrderId });
    }
    try {
      await venue.cancelOrder(c.symbol, c.clientOrderId);
    } catch (e) {
      const code = errorCode(e);
      const rejected = code === 'EXCHANGE_REJECTED';
      return reply
        .code(rejected ? 422 : 502)
        .send({ status: rejected ? 'rejected' : 'error', clientOrderId: c.clientOrderId, error: code });
    }
    return { status: 'cancelled', clientOrderId: c.clientOrderId };
  });

  app.post('/emergency_stop', { preHandler: admin }, async (_req, reply) => {
    // halt first: every order arriving from now on is refused
    if (halt !== 'emergency_stop') record({ t: 'halt', time: clock.now(), reason: 'emergency_stop' });
    const errors: string[] = [];
    const cancelled: string[] = [];
    const flattened: { symbol: string; side: 'BUY' | 'SELL'; quantity: number; clientOrderId: string }[] = [];
    let positions: VenuePosition[] = [];
    let positionsKnown = true;
    try {
      positions = (await venue.positions()).filter((p) => p.positionAmt !== 0);
    } catch (e) {
      positionsKnown = false;
      errors.push(`positions: ${errorCode(e)}`);
    }
    let symbols: string[];
    try {
      symbols = [...new Set((await venue.openOrders()).map((o) => o.symbol))];
    } catch (e) {
      errors.push(`openOrders: ${errorCode(e)}`);
      symbols = positions.map((p) => p.symbol); // at least clear the protective orders of open positions
    }
    await Promise.all(
      symbols.map((s) =>
        venue.cancelAll(s).then(
          () => void cancelled.push(s),
          (e: unknown) => void errors.push(`cancelAll ${s}: ${errorCode(e)}`),
        ),
      ),
    );
    const stamp = clock.now().toString(36);
    await Promise.all(
      positions.map((p) => {
        const side = p.positionAmt > 0 ? 'SELL' : 'BUY';
        const quantity = Math.abs(p.positionAmt);
        const clientOrderId = `estop-${stamp}-${p.symbol}`.slice(0, 36);
        return venue
          .placeOrder({
            symbol: p.symbol,
            side,
            type: 'MARKET',
            quantity,
            reduceOnly: true,
            newClientOrderId: clientOrderId,
          })
          .then(
            () => void flattened.push({ symbol: p.symbol, side, quantity, clientOrderId }),
            (e: unknown) => void errors.push(`flatten ${p.symbol}: ${errorCode(e)}`),
          );
      }),
    );
    exposure.clear();
    const complete = errors.length === 0 && positionsKnown;
    return reply.code(complete ? 200 : 502).send({
      status: 'halted',
      complete,
      cancelled: cancelled.sort(),
      flattened: flattened.sort((a, b) => a.symbol.localeCompare(b.symbol)),
      errors,
    });
  });

  app.post('/resume', { preHandler: admin }, async () => {
    if (halt !== undefined) record({ t: 'resume', time: clock.now() });
    return { status: 'active' };
  });

  app.post('/register_decision', { preHandler: admin }, async (req) => {
    const d = parse(DecisionRecordSchema, req.body);
    const time = clock.now();
    journal.append({ t: 'decision', time, botId: d.botId, decision: d });
    const decisionId = pushDecision(d, time);
    return { status: 'recorded', decisionId };
  });

  app.get('/portfolio', async (_req, reply) => {
    let positions: VenuePosition[];
    let balance;
    try {
      [balance, positions] = await Promise.all([venue.balance(), venue.positions()]);
    } catch (e) {
      return reply.code(502).send({ error: errorCode(e), halted: halt !== undefined, halt_reason: halt ?? null });
    }
    positions = positions.filter((p) => p.positionAmt !== 0);
    const equity = walletEquity(balance);
    notePeak(equity);
    const marks = new Map(positions.map((p) => [p.symbol, p.markPrice]));
    const gross = positions.reduce((a, p) => a + Math.abs(p.positionAmt * p.markPrice), 0);
    const bots: Record<string, { positions: Record<string, number>; exposureUsd: number }> = {};
    for (const [botId, m] of exposure) {
      let usd = 0;
      const pos: Record<string, number> = {};
      for (const [symbol, qty] of m) {
        pos[symbol] = qty;
        usd += Math.abs(qty * (marks.get(symbol) ?? 0));
      }
      bots[botId] = { positions: pos, exposureUsd: usd };
    }
    return {
      time: clock.now(),
      asset: balance.asset,
      walletBalance: balance.walletBalance,
      availableBalance: balance.availableBalance,
      unrealizedPnl: balance.unrealizedPnl,
      equity,
      peakEquity,
      drawdown: drawdownOf(equity, peakEquity),
      grossExposureUsd: gross,
      leverage: equity > 0 ? gross / equity : 0,
      positions,
      bots,
      halted: halt !== undefined,
      halt_reason: halt ?? null,
      recentDecisions: decisions.slice(-20),
    };
  });

  return app;
}
