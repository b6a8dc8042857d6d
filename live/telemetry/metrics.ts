import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentHealth } from '../../operators/agents/agent-health.ts';
import type { PipelineEvent } from '../../pipelines/model/index.ts';

/**
 * The Prometheus metrics of SPEC §5, each updated somewhere: pipeline events through
 * `observe`, the exchange client, agents, Redis and Telegram through their hooks.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly botId: string;

  readonly decisions: Counter<'bot_id' | 'symbol' | 'action'>;
  readonly executionSuccess: Counter;
  readonly executionFailure: Counter<'reason'>;
  readonly riskBreaches: Counter<'limit_type'>;
  readonly balance: Gauge;
  readonly equity: Gauge;
  readonly leverage: Gauge;
  readonly positionSize: Gauge<'symbol'>;
  readonly asterRequests: Counter<'path' | 'status'>;
  readonly asterLatency: Histogram<'path'>;
  readonly rateLimitEvents: Counter<'kind'>;
  readonly marketFeedLatency: Histogram;
  readonly llmInferenceTime: Histogram<'agent'>;
  readonly llmConfidence: Gauge<'agent'>;
  readonly agentFaults: Counter<'agent' | 'fault'>;
  /** read at scrape time: the agent stage's health figures (null: agents off) */
  private agentHealth: () => AgentHealth | null = () => null;
  readonly slippageViolations: Counter;
  readonly redisStreamFailures: Counter;
  readonly exchangeIssues: Counter;
  readonly telegramNotifications: Counter<'outcome'>;
  readonly decisionLatency: Histogram;
  private heldSymbols = new Set<string>();

  constructor(botId: string) {
    this.botId = botId;
    const r = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // gauges named like counters fail `promtool check metrics`; the per-type gauges they sum
    // (nodejs_active_handles, nodejs_active_requests, nodejs_active_resources) stay
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      this.registry.removeSingleMetric(name);
    this.decisions = new Counter({
      name: 'trading_decisions_total',
      help: 'decisions taken by the strategy',
      labelNames: ['bot_id', 'symbol', 'action'],
      registers: r,
    });
    this.executionSuccess = new Counter({
      name: 'trade_execution_success_total',
      help: 'orders filled',
      registers: r,
    });
    this.executionFailure = new Counter({
      name: 'trade_execution_failure_total',
      help: 'orders rejected by the venue or the exchange',
      labelNames: ['reason'],
      registers: r,
    });
    this.riskBreaches = new Counter({
      name: 'risk_limits_breached_total',
      help: 'entries denied by a risk, sizing or allocation rule',
      labelNames: ['limit_type'],
      registers: r,
    });
    this.balance = new Gauge({ name: 'portfolio_balance_usd', help: 'wallet balance', registers: r });
    this.equity = new Gauge({ name: 'portfolio_equity_usd', help: 'balance + unrealised PnL', registers: r });
    this.leverage = new Gauge({ name: 'portfolio_leverage_ratio', help: 'gross exposure / equity', registers: r });
    this.positionSize = new Gauge({
      name: 'position_size_usd',
      help: 'absolute notional per open position at mark',
      labelNames: ['symbol'],
      registers: r,
    });
    this.asterRequests = new Counter({
      name: 'aster_api_requests_total',
      help: 'REST requests to the exchange',
      labelNames: ['path', 'status'],
      registers: r,
    });
    this.asterLatency = new Histogram({
      name: 'aster_api_latency_seconds',
      help: 'REST request latency',
      labelNames: ['path'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    });
    this.rateLimitEvents = new Counter({
      name: 'rate_limit_events_total',
      help: '429/418 answers from the exchange and 429s served by the API',
      labelNames: ['kind'],
      registers: r,
    });
    this.marketFeedLatency = new Histogram({
      name: 'market_feed_latency_seconds',
      help: 'bar close time to arrival at the service',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: r,
    });
    this.llmInferenceTime = new Histogram({
      name: 'llm_inference_time_seconds',
      help: 'agent call duration',
      labelNames: ['agent'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30],
      registers: r,
    });
    this.llmConfidence = new Gauge({
      name: 'llm_confidence',
      help: 'last confidence reported by each agent',
      labelNames: ['agent'],
      registers: r,
    });
    this.agentFaults = new Counter({
      name: 'agent_faults_total',
      help: 'agent calls that ended without a usable opinion, by agent and fault kind',
      labelNames: ['agent', 'fault'],
      registers: r,
    });
    const health = () => this.agentHealth();
    new Gauge({
      name: 'agent_available',
      help: '1 when the agent answered its latest call, 0 when that call faulted',
      labelNames: ['agent'],
      registers: r,
      collect() {
        this.reset();
        for (const [agent, row] of Object.entries(health()?.agents ?? {})) this.set({ agent }, row.available ? 1 : 0);
      },
    });
    new Gauge({
      name: 'agent_decisions_without_ratio',
      help: 'share of agent-gated signals decided without this agent (it faulted)',
      labelNames: ['agent'],
      registers: r,
      collect() {
        this.reset();
        for (const [agent, row] of Object.entries(health()?.agents ?? {})) this.set({ agent }, row.shareWithout);
      },
    });
    this.slippageViolations = new Counter({
      name: 'slippage_violations_total',
      help: 'orders refused by the slippage guard',
      registers: r,
    });
    this.exchangeIssues = new Counter({
      name: 'exchange_issues_total',
      help: 'what the exchange connection could not settle by itself (unknown order outcomes, failed cancels, stream errors)',
      labelNames: ['source', 'kind'],
      registers: r,
    });
    this.redisStreamFailures = new Counter({
      name: 'redis_stream_failures_total',
      help: 'failed telemetry writes to Redis (retried from the buffer)',
      registers: r,
    });
    this.telegramNotifications = new Counter({
      name: 'telegram_notifications_total',
      help: 'Telegram messages sent or failed',
      labelNames: ['outcome'],
      registers: r,
    });
    this.decisionLatency = new Histogram({
      name: 'decision_latency_seconds',
      help: 'bar arrival to order sent, through the whole pipeline',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1],
      registers: r,
    });
  }

  /** Updates the metrics a pipeline event speaks to. Cheap: no allocation on the common path. */
  /** Where the agent gauges read their figures from. */
  watchAgents(health: () => AgentHealth | null): void {
    this.agentHealth = health;
  }

  observe(e: PipelineEvent): void {
    switch (e.kind) {
      case 'agent-fault':
        this.agentFaults.inc({ agent: e.agent, fault: e.fault });
        return;
      case 'decision':
        this.decisions.inc({ bot_id: this.botId, symbol: e.symbol, action: e.action });
        for (const o of e.opinions) this.llmConfidence.set({ agent: o.agent }, o.confidence);
        return;
      case 'fill':
        this.executionSuccess.inc();
        return;
      case 'order-rejected':
        this.executionFailure.inc({ reason: e.reason.split(':')[0]!.slice(0, 40) });
        if (/slippage/i.test(e.reason)) this.slippageViolations.inc();
        return;
      case 'denied':
        if (e.stage === 'risk' || e.stage === 'sizing') this.riskBreaches.inc({ limit_type: e.rule });
        if (e.rule === 'slippage-guard') this.slippageViolations.inc();
        return;
      case 'portfolio': {
        this.balance.set(e.balance);
        this.equity.set(e.equity);
        this.leverage.set(e.equity > 0 ? e.grossExposure / e.equity : 0);
        const now = new Set<string>();
        for (const p of e.positions) {
          now.add(p.symbol);
          this.positionSize.set({ symbol: p.symbol }, Math.abs(p.quantity * p.markPrice));
        }
        for (const s of this.heldSymbols) if (!now.has(s)) this.positionSize.set({ symbol: s }, 0);
        this.heldSymbols = now;
        return;
      }
      default:
        return;
    }
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
