import { defer, identity, mergeWith, Subject, finalize, type Observable, type OperatorFunction } from 'rxjs';
import type { Decision, FundingRate, OperatorCommand, Order, PipelineEvent, SymbolFilters } from './model/index.ts';
import type { ExecutionPort, MarketDataPort } from './ports.ts';
import type { Settings } from './settings.ts';
import { portfolio } from '../operators/portfolio/portfolio.ts';
import { features } from '../operators/features/features.ts';
import { strategySignals } from '../operators/signals/strategy-signals.ts';
import { resolveStrategies } from '../strategies/registry.ts';
import type { LoadedStrategy } from '../strategies/kit/contract.ts';
import { consensus } from '../operators/consensus/consensus.ts';
import { defaultAgentStage } from '../operators/agents/agents.ts';
import { banditAllocation } from '../operators/allocation/bandit.ts';
import { sizing } from '../operators/sizing/sizing.ts';
import { risk } from '../operators/risk/risk.ts';
import { trailingStop } from '../operators/stops/trailing-stop.ts';
import { execution } from '../operators/execution/execution.ts';

export interface PipelinePorts {
  market: MarketDataPort;
  execution: ExecutionPort;
  /**
   * the agent stage (signals → signals with opinions); none = the embedded agents when
   * AGENTS_ENABLED (see defaultAgentStage), else momentum alone
   */
  agents?: OperatorFunction<PipelineEvent, PipelineEvent>;
  /**
   * Operator commands and external decisions (service, Telegram). They join after the signal
   * stages, so an external decision meets the same allocation, sizing and risk as any other.
   */
  control?: Observable<OperatorCommand | Decision>;
}

export interface PipelineDeps {
  filters: ReadonlyMap<string, SymbolFilters>;
  /** the strategies with their settings; none = STRATEGIES resolved from the settings (shipped names) */
  strategies?: readonly LoadedStrategy[];
  /** funding history the strategies may read (rates published at or before each bar) */
  fundingRates?: readonly FundingRate[];
}

/**
 * The composition root: the one pipeline that backtests, tuning, paper and live all run.
 *
 *   bars → venue (fills, funding) → portfolio → features → strategies → agents → consensus
 *        → bandit → sizing → risk → stops → execution ─┐
 *          ▲ orders (next bar at the earliest) ─────────┘
 *
 * The order loop is a Subject created per subscription: two subscriptions (two tuning trials)
 * never share orders or state. Every event of every stage comes out, in the order it happened.
 */
export function buildPipeline(settings: Settings, ports: PipelinePorts, deps: PipelineDeps): Observable<PipelineEvent> {
  const strategies = deps.strategies ?? resolveStrategies(settings);
  return defer(() => {
    const orders = new Subject<Order>();
    const signals: Observable<PipelineEvent> = ports.market
      .bars()
      .pipe(
        ports.execution.attach(orders),
        portfolio(settings),
        features(settings),
        strategySignals(strategies, settings, { fundingRates: deps.fundingRates }),
      );
    return signals.pipe(
      ports.agents ?? defaultAgentStage(settings),
      consensus(settings),
      ports.control ? mergeWith(ports.control) : identity,
      banditAllocation(settings),
      sizing(settings, deps),
      risk(settings, deps),
      trailingStop(settings),
      execution(settings, { submit: (o) => orders.next(o), maxSlippageBps: settings.MAX_SLIPPAGE_BPS }),
      finalize(() => orders.complete()),
    );
  });
}
