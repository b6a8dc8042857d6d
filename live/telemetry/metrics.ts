import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentHealth } from '../../operators/agents/agent-health.ts';
import type { PipelineEvent } from '../../pipelines/model/index.ts';

/**
 * The Prometheus metrics of SPEC §5, each updated somewhere: pipeline events through
 * `observe`, the exchange client, agents, Redis and Telegram through their hooks.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  /** read at scrape time: the agent stage's health figures (null: agents off) */
  private agentHealth: () => AgentHealth | null = () => null;
  private heldSymbols = new Set<string>();

  private counter<L extends string = string>(name: string, help: string, labelNames: L[] = []): Counter<L> {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }
  private gauge<L extends string = string>(name: string, help: string, labelNames: L[] = []): Gauge<L> {
    return new Gauge<L>({ name, help, labelNames, registers: [this.registry] });
  }
  private histogram<L extends string = string>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: L[] = [],
  ): Histogram<L> {
    return new Histogram<L>({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  // trading
  readonly decisions = this.counter('trading_decisions_total', 'decisions taken by the strategy', [
    'bot_id',
    'symbol',
    'action',
  ]);
  readonly executionSuccess = this.counter('trade_execution_success_total', 'orders filled');
  readonly executionFailure = this.counter(
    'trade_execution_failure_total',
    'orders rejected by the venue or the exchange',
    ['reason'],
  );
  readonly riskBreaches = this.counter(
    'risk_limits_breached_total',
    'entries denied by a risk, sizing or allocation rule',
    ['limit_type'],
  );
  readonly slippageViolations = this.counter('slippage_violations_total', 'orders refused by the slippage guard');
  readonly decisionLatency = this.histogram(
    'decision_latency_seconds',
    'bar arrival to order sent, through the whole pipeline',
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1],
  );

  // portfolio
  readonly balance = this.gauge('portfolio_balance_usd', 'wallet balance');
  readonly equity = this.gauge('portfolio_equity_usd', 'balance + unrealised PnL');
  readonly leverage = this.gauge('portfolio_leverage_ratio', 'gross exposure / equity');
  readonly positionSize = this.gauge('position_size_usd', 'absolute notional per open position at mark', ['symbol']);

  // the exchange
  readonly asterRequests = this.counter('aster_api_requests_total', 'REST requests to the exchange', [
    'path',
    'status',
  ]);
  readonly asterLatency = this.histogram(
    'aster_api_latency_seconds',
    'REST request latency',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    ['path'],
  );
  readonly rateLimitEvents = this.counter(
    'rate_limit_events_total',
    '429/418 answers from the exchange and 429s served by the API',
    ['kind'],
  );
  readonly marketFeedLatency = this.histogram(
    'market_feed_latency_seconds',
    'bar close time to arrival at the service',
    [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
  );
  readonly exchangeIssues = this.counter(
    'exchange_issues_total',
    'what the exchange connection could not settle by itself (unknown order outcomes, failed cancels, stream errors)',
    ['source', 'kind'],
  );

  // agents
  readonly llmInferenceTime = this.histogram(
    'llm_inference_time_seconds',
    'agent call duration',
    [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30],
    ['agent'],
  );
  readonly llmConfidence = this.gauge('llm_confidence', 'last confidence reported by each agent', ['agent']);
  readonly agentFaults = this.counter(
    'agent_faults_total',
    'agent calls that ended without a usable opinion, by agent and fault kind',
    ['agent', 'fault'],
  );

  // the service's own peers
  readonly redisStreamFailures = this.counter(
    'redis_stream_failures_total',
    'failed telemetry writes to Redis (retried from the buffer)',
  );
  readonly telegramNotifications = this.counter('telegram_notifications_total', 'Telegram messages sent or failed', [
    'outcome',
  ]);

  constructor(private readonly botId: string) {
    collectDefaultMetrics({ register: this.registry });
    // gauges named like counters fail `promtool check metrics`; the per-type gauges they sum
    // (nodejs_active_handles, nodejs_active_requests, nodejs_active_resources) stay
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      this.registry.removeSingleMetric(name);
    this.agentGauge('agent_available', '1 when the agent answered its latest call, 0 when that call faulted', (row) =>
      row.available ? 1 : 0,
    );
    this.agentGauge(
      'agent_decisions_without_ratio',
      'share of agent-gated signals decided without this agent (it faulted)',
      (row) => row.shareWithout,
    );
  }

  /** a per-agent gauge read from the agent stage's health figures at scrape time */
  private agentGauge(name: string, help: string, value: (row: AgentHealth['agents'][string]) => number): void {
    const health = () => this.agentHealth();
    new Gauge({
      name,
      help,
      labelNames: ['agent'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [agent, row] of Object.entries(health()?.agents ?? {})) this.set({ agent }, value(row));
      },
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
