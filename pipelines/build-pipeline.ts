import { defer, identity, Subject, finalize, type Observable, type OperatorFunction } from 'rxjs';
import type {
  CancelOrder,
  Decision,
  FundingRate,
  OperatorCommand,
  PipelineEvent,
  SymbolFilters,
} from './model/index.ts';
import type { ExecutionPort, MarketDataPort, VenueRequest } from './ports.ts';
import type { Settings } from './settings.ts';
import { portfolioStage } from '../operators/portfolio/portfolio.ts';
import { featuresStage } from '../operators/features/features.ts';
import { strategySignalsStage } from '../operators/signals/strategy-signals.stage.ts';
import { resolveStrategies } from '../strategies/registry.ts';
import type { LoadedStrategy } from '../strategies/kit/contract.ts';
import { consensusStage } from '../operators/consensus/consensus.stage.ts';
import { defaultAgentStage } from '../operators/agents/agents.ts';
import { AGENT_STATE, isStatefulAgentStage } from '../operators/agents/agent-state.ts';
import { banditStage } from '../operators/allocation/bandit.stage.ts';
import { sizingStage } from '../operators/sizing/sizing.ts';
import { riskStage } from '../operators/risk/risk.ts';
import { trailingStopStage } from '../operators/stops/trailing-stop.ts';
import { executionStage } from '../operators/execution/execution.ts';
import type { AnyStage } from './stage.ts';
import { runStages, type RunningStages, type StageStates } from './stage-runner.ts';

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
  control?: Observable<OperatorCommand | CancelOrder | Decision>;
}

export interface PipelineDeps {
  filters: ReadonlyMap<string, SymbolFilters>;
  /** the strategies with their settings; none = STRATEGIES resolved from the settings (shipped names) */
  strategies?: readonly LoadedStrategy[];
  /** funding history the strategies may read (rates published at or before each bar) */
  fundingRates?: readonly FundingRate[];
  /** stage states to start from (a restart from a journal snapshot), by stage name */
  restore?: StageStates;
  /** receives, per subscription, the running stages (the journal store snapshots them) */
  onOpen?: (running: RunningStages) => void;
}

/** The key of the venue's own state among the stage states of a snapshot (no stage has this name). */
export const VENUE_STATE = 'venue';

/** The pipeline's stages, in order: signal stages (before the agents), then the rest. */
export function pipelineStages(
  settings: Settings,
  deps: PipelineDeps,
  submit: (request: VenueRequest) => void,
): { signals: AnyStage[]; decisions: AnyStage[] } {
  return {
    signals: [
      portfolioStage(settings),
      featuresStage(settings),
      strategySignalsStage(deps.strategies ?? resolveStrategies(settings), settings, {
        fundingRates: deps.fundingRates,
      }),
    ],
    decisions: [
      consensusStage(settings),
      banditStage(settings),
      sizingStage(settings, deps),
      riskStage(settings, deps),
      trailingStopStage(settings),
      executionStage(settings, { submit, maxSlippageBps: settings.MAX_SLIPPAGE_BPS }),
    ],
  };
}

/** Several runs of stages seen as one for snapshots: their states merged by stage name. */
function joinedRuns(
  onOpen: ((running: RunningStages) => void) | undefined,
  runs: number,
): (running: RunningStages) => void {
  const open: RunningStages[] = [];
  return (running) => {
    open.push(running);
    if (open.length === runs)
      onOpen?.({ snapshot: () => Object.assign({}, ...open.map((r) => r.snapshot())) as StageStates });
  };
}

/**
 * The composition root: the one pipeline that backtests, tuning, paper and live all run.
 *
 *   bars → venue (fills, funding) → [portfolio → features → strategies] → agents
 *        → [consensus → bandit → sizing → risk → stops → execution] ─┐
 *          ▲ orders (next bar at the earliest) ───────────────────────┘
 *
 * Each [ … ] is one stage runner: one RxJS hop per event for all its stages. The agent stage is
 * an operator of its own (it may hold events back while remote agents answer); with no agents
 * the two runs are one. Operator commands and external decisions join at the bandit, so an
 * external decision meets the same allocation, sizing and risk as any other.
 *
 * The order loop is a Subject created per subscription: two subscriptions (two tuning trials)
 * never share orders or state. Every event of every stage comes out, in the order it happened.
 */
export function buildPipeline(settings: Settings, ports: PipelinePorts, deps: PipelineDeps): Observable<PipelineEvent> {
  const agents = ports.agents ?? defaultAgentStage(settings);
  return defer(() => {
    const orders = new Subject<VenueRequest>();
    const stages = pipelineStages(settings, deps, (o) => orders.next(o));
    const inject = ports.control ? { at: 'bandit', events: ports.control } : undefined;
    // the venue's own state (the simulated venue's books) travels in snapshots as `venue`
    let venueState: (() => unknown) | null = null;
    const venueHooks =
      deps.onOpen || deps.restore
        ? { restore: deps.restore?.[VENUE_STATE], onOpen: (snap: () => unknown) => (venueState = snap) }
        : undefined;
    const bars = ports.market.bars().pipe(ports.execution.attach(orders, venueHooks));
    // the agent stage's own state (recent closes) travels as `agents`, null while an ask is pending
    let agentState: (() => unknown) | null = null;
    const agentStage =
      (deps.onOpen || deps.restore) && isStatefulAgentStage(agents)
        ? agents.withState({ restore: deps.restore?.[AGENT_STATE], onOpen: (snap) => (agentState = snap) })
        : agents;
    const withVenue = (running: RunningStages): void =>
      deps.onOpen?.({
        snapshot: () => ({
          ...running.snapshot(),
          [VENUE_STATE]: venueState?.() ?? null,
          ...(agentState ? { [AGENT_STATE]: agentState() } : {}),
        }),
      });
    if (agents === identity) {
      return bars.pipe(
        runStages([...stages.signals, ...stages.decisions], {
          inject,
          restore: deps.restore,
          onOpen: deps.onOpen && withVenue,
        }),
        finalize(() => orders.complete()),
      );
    }
    const onOpen = joinedRuns(deps.onOpen && withVenue, 2);
    return bars.pipe(
      runStages(stages.signals, { restore: deps.restore, onOpen }),
      agentStage,
      runStages(stages.decisions, { inject, restore: deps.restore, onOpen }),
      finalize(() => orders.complete()),
    );
  });
}
