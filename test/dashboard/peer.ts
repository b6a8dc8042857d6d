import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import type { BacktestResult } from '../../backtests/run-backtest.ts';
import type {
  AnalyticsView,
  DashboardView,
  GateView,
  MarkerView,
  PositionRow,
  TradeRow,
} from '../../live/service/dashboard-view.ts';
import { formatSse } from '../../live/service/dashboard-view.ts';
import { dashboardPlugin, listReports } from '../../dashboard/plugin.ts';
import { sseMessages, type SseMessage } from '../../live/service/views.ts';
import type {
  BarColumns,
  Decision,
  Denied,
  PipelineEvent,
  PortfolioSnapshot,
  ProtectIntent,
  TradeClosed,
} from '../../pipelines/model/index.ts';
import type { Settings } from '../../pipelines/settings.ts';
import { armKeys, banditArms, entryLocks, performance } from '../../live/service/desk.kernel.ts';

/*
 * TEST PEER — not the Sapphire service. It stands in for live/service/ in the dashboard's own
 * tests: the real dashboardPlugin plus GET /dashboard, GET /events and the three admin POSTs,
 * serving a DashboardView built from a real runBacktest result over the fixture bars (as the
 * portfolio stood at the last moment a position was open). The lead's e2e tests use the real service.
 */

const num = (v: number): number | null => (Number.isFinite(v) ? v : null);
const gates = (d: Decision): GateView[] =>
  d.gates.map((g) => ({ gate: g.gate, passed: g.passed, value: num(g.value), limit: num(g.limit) }));

/** The entry decision of a position opened at `openedAt`, in words (the latest entry decision before it). */
export function entryReason(decisions: readonly Decision[], symbol: string, openedAt: number): string | null {
  let found: Decision | null = null;
  for (const d of decisions) {
    if (d.time > openedAt) break;
    if (d.symbol === symbol && d.action !== 'exit') found = d;
  }
  if (!found) return null;
  const gates = found.gates.map((g) => `${g.gate} ${g.passed ? 'passed' : 'failed'}`);
  return [`${found.source} signal ${found.action} at ${found.price}, confidence ${found.confidence}`, ...gates].join(
    '; ',
  );
}

export function tradeRow(t: TradeClosed, decisions: readonly Decision[] = []): TradeRow {
  return {
    entryReason: entryReason(decisions, t.symbol, t.openedAt),
    time: t.time,
    symbol: t.symbol,
    side: t.side,
    quantity: t.quantity,
    entryPrice: t.entryPrice,
    exitPrice: t.exitPrice,
    openedAt: t.openedAt,
    netPnl: t.netPnl,
    returnPct: t.returnPct,
    exitReason: t.exitReason,
  };
}

/**
 * A moment to show: the first time step whose final portfolio snapshot holds a position after at
 * least one trade has closed (so the view has positions, trades and later events to stream).
 */
export function lastOpenTime(events: readonly PipelineEvent[]): number {
  const finalAt = new Map<number, number>();
  let closed = 0;
  const closedBy = new Map<number, number>();
  for (const e of events) {
    if (e.kind === 'portfolio') finalAt.set(e.time, e.positions.length);
    else if (e.kind === 'trade-closed') closedBy.set(e.time, ++closed);
  }
  let seen = 0;
  for (const [time, open] of finalAt) {
    seen = Math.max(seen, closedBy.get(time) ?? 0);
    if (open > 0 && seen > 0) return time;
  }
  throw new Error('test peer: no time step with an open position after a closed trade');
}

/** The view as the service would have shown it at `asOf`, from the backtest's kept events. */
export function viewFromBacktest(
  result: BacktestResult,
  settings: Settings,
  series: readonly BarColumns[],
  opts: { asOf: number; reportsDir: string; analytics: AnalyticsView; running: boolean },
): DashboardView {
  const events = (result.events ?? []).filter((e) => e.time <= opts.asOf);
  let snap: PortfolioSnapshot | null = null;
  const protect = new Map<string, ProtectIntent>();
  const denials: Denied[] = [];
  let lastDecision: Decision | null = null;
  let riskState: DashboardView['risk']['state'] = 'ACTIVE';
  for (const e of events) {
    if (e.kind === 'portfolio') snap = e;
    else if (e.kind === 'protect') protect.set(e.symbol, e);
    else if (e.kind === 'denied') denials.push(e);
    else if (e.kind === 'decision') lastDecision = e;
    else if (e.kind === 'risk-state') riskState = e.to;
  }
  if (!snap) throw new Error('test peer: no portfolio snapshot before asOf');
  const trades = result.trades.filter((t) => t.time <= opts.asOf);
  const positions: PositionRow[] = snap.positions.map((p) => {
    const pr = protect.get(p.symbol);
    return {
      symbol: p.symbol,
      side: p.quantity > 0 ? 'LONG' : 'SHORT',
      quantity: Math.abs(p.quantity),
      entryPrice: p.entryPrice,
      markPrice: p.markPrice,
      unrealizedPnl: p.unrealizedPnl,
      stopPrice: pr ? pr.stopPrice : null,
      takeProfitPrice: pr && pr.takeProfitPrice > 0 ? pr.takeProfitPrice : null,
      reason: entryReason(result.decisions, p.symbol, p.openedAt),
    };
  });
  const prices = series.map((c) => {
    const candles = [];
    for (let i = 0; i < c.length && c.openTime[i]! <= opts.asOf; i++) {
      candles.push({ time: c.openTime[i]!, open: c.open[i]!, high: c.high[i]!, low: c.low[i]!, close: c.close[i]! });
    }
    const markers: MarkerView[] = [];
    for (const t of trades.filter((x) => x.symbol === c.symbol)) {
      markers.push({
        time: t.openedAt,
        kind: 'entry',
        side: t.side,
        price: t.entryPrice,
        text: t.side === 'LONG' ? 'Long' : 'Short',
      });
      markers.push({ time: t.time, kind: 'exit', side: t.side, price: t.exitPrice, text: t.exitReason });
    }
    for (const p of snap.positions.filter((x) => x.symbol === c.symbol)) {
      const side = p.quantity > 0 ? 'LONG' : 'SHORT';
      markers.push({
        time: p.openedAt,
        kind: 'entry',
        side,
        price: p.entryPrice,
        text: side === 'LONG' ? 'Long' : 'Short',
      });
    }
    return { symbol: c.symbol, candles: candles.slice(-400), markers: markers.sort((a, b) => a.time - b.time) };
  });
  const wins = trades.filter((t) => t.netPnl > 0).length;
  const d = lastDecision as Decision | null;
  return {
    time: opts.asOf,
    portfolio: {
      balance: snap.balance,
      equity: snap.equity,
      exposure: snap.grossExposure,
      leverage: snap.equity > 0 ? snap.grossExposure / snap.equity : 0,
      drawdown: snap.drawdown,
      maxDrawdownLimit: settings.MAX_DRAWDOWN,
    },
    equityCurve: result.equity.filter((p) => p.time <= opts.asOf),
    positions,
    trades: trades
      .slice()
      .reverse()
      .map((t) => tradeRow(t, result.decisions)),
    prices,
    agents: d
      ? [
          {
            name: d.source,
            status: 'ok',
            lastThesis: [
              `${d.action} ${d.symbol} at ${d.price}`,
              ...d.gates.map((g) => `${g.gate} ${g.passed ? 'passed' : 'failed'}`),
            ].join('; '),
            lastGates: gates(d),
            winRate: trades.length ? wins / trades.length : null,
          },
        ]
      : [],
    risk: {
      state: riskState,
      headline: riskState === 'ACTIVE' ? 'ACTIVE — trading normally' : riskState,
      entriesOpen: riskState !== 'HALTED',
      locks: entryLocks(trades, [], settings, opts.asOf),
      arms: banditArms(trades, () => 'momentum', armKeys(result.decisions), settings),
      recentDenials: denials
        .slice(-20)
        .reverse()
        .map((x) => ({ time: x.time, symbol: x.symbol, stage: x.stage, rule: x.rule, detail: x.detail })),
    },
    system: { running: opts.running, mode: 'paper', exchange: 'simulated (test peer)', redis: 'in-memory', models: [] },
    reports: listReports(opts.reportsDir),
    analytics: opts.analytics,
    performance: performance(trades, snap.realizedPnl, () => 'momentum'),
    openOrders: [],
    config: {
      version: '0.0.0-peer',
      commit: '',
      startedAt: opts.asOf,
      uptimeS: 0,
      symbols: [...settings.SYMBOLS],
      interval: settings.BAR_INTERVAL,
      strategies: ['momentum'],
      agentsEnabled: settings.AGENTS_ENABLED,
      sizing: settings.SIZING_MODE,
      leverage: settings.LEVERAGE,
      limits: [{ name: 'MAX_DRAWDOWN', value: `${settings.MAX_DRAWDOWN * 100} %` }],
      dataSource: 'test peer (backtest fixture)',
      replay: null,
      adminConfigured: true,
    },
    health: { lastError: null, lastBarTime: opts.asOf },
    audit: [],
  };
}

type Message = SseMessage;

/**
 * The SSE messages of a pipeline event: the service's own mapping (live/service/views.ts), fed
 * with a flat book, so the page is tested on exactly what the service sends.
 */
export function toMessages(e: PipelineEvent, settings: Settings): Message[] {
  return sseMessages(e, { riskState: 'ACTIVE', positions: () => [], entryReason: () => null }, settings);
}

export interface Peer {
  app: FastifyInstance;
  url: string;
  view: DashboardView;
  /** admin calls received: path and the Authorization header's validity (never its value) */
  calls: { path: string; status: number }[];
  emit(message: Message): void;
  clients(): number;
  /** ends every open event stream (as a restart or a proxy timeout would) */
  dropClients(): void;
  /** GET /dashboard requests served */
  loads(): number;
  close(): Promise<void>;
}

export const PEER_TOKEN = 'test-peer-admin-token-0123456789';

export async function startPeer(view: DashboardView, reportsDir: string): Promise<Peer> {
  const app = Fastify({ logger: false });
  const clients = new Set<ServerResponse>();
  const calls: Peer['calls'] = [];
  await app.register(dashboardPlugin, { reportsDir });
  let loads = 0;
  app.get('/dashboard', async () => {
    loads++;
    return view;
  });
  app.get('/events', (request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    reply.raw.write(': test peer stream\n\n');
    clients.add(reply.raw);
    request.raw.on('close', () => clients.delete(reply.raw));
  });
  for (const path of ['/start', '/stop', '/emergency_stop']) {
    app.post(path, async (request, reply) => {
      const auth = request.headers.authorization;
      const status = !auth ? 401 : auth === `Bearer ${PEER_TOKEN}` ? 200 : 403;
      calls.push({ path, status });
      if (status === 401) return reply.code(401).send({ error: 'unauthorized', message: 'admin token required' });
      if (status === 403) return reply.code(403).send({ error: 'forbidden', message: 'wrong admin token' });
      view.system = { ...view.system, running: path === '/start' };
      return { running: view.system.running, note: `test peer: ${path} accepted` };
    });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('test peer: no port');
  return {
    app,
    url: `http://127.0.0.1:${addr.port}`,
    view,
    calls,
    emit(m) {
      const text = formatSse(m.event, m.data as never);
      for (const c of clients) c.write(text);
    },
    clients: () => clients.size,
    dropClients() {
      for (const c of clients) c.end();
      clients.clear();
    },
    loads: () => loads,
    async close() {
      for (const c of clients) c.end();
      clients.clear();
      await app.close();
    },
  };
}
