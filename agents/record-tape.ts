import { lastValueFrom, tap } from 'rxjs';
import type { BarColumns, FundingRate } from '../pipelines/model/index.ts';
import type { Settings } from '../pipelines/settings.ts';
import { SapphireError } from '../pipelines/errors.ts';
import { mergeBars } from '../backtests/data/index.ts';
import { features } from '../operators/features/features.ts';
import { strategySignals } from '../operators/signals/strategy-signals.ts';
import { resolveStrategies } from '../strategies/registry.ts';
import type { LoadedStrategy } from '../strategies/kit/contract.ts';
import { agentStage, newAgentStageCounts, type AgentStageCounts } from '../operators/agents/agents.ts';
import { buildAgents, type BuildAgentsOptions } from './build-agents.ts';
import type { GatewayStats } from './gateway.ts';

export interface TapeRecording {
  path: string;
  entries: number;
  stage: AgentStageCounts;
  gateway: GatewayStats | null;
}

/**
 * Records the agent tape a backtest over `series` will replay. It runs the same features →
 * strategies (STRATEGIES, netted as in the pipeline) → agent stage the backtest runs, so each remote agent is asked exactly at the signals
 * the backtest can see, with the closes up to that bar and nothing later (no look-ahead). No
 * orders exist here, so every signal is asked as if flat (position 0): a superset of the entry
 * signals of any later run over the same bars and signal settings. Calls go through the gateway
 * (parallel limit, retries, deadline); a failed call is taped as the fault it ended in and
 * replayed as that fault. The file is compacted (sorted) at the end, so equal replies give a
 * byte-identical tape. `onProgress(bars done, bars total, replies taped)` follows the run.
 */
export async function recordAgentTape(
  settings: Settings,
  series: readonly BarColumns[],
  options: BuildAgentsOptions & {
    onProgress?: (done: number, total: number, taped: number) => void;
    /** the strategies with their settings; none = STRATEGIES resolved from the settings */
    strategies?: readonly LoadedStrategy[];
    /** funding history the strategies may read, as the backtest gets it */
    fundingRates?: readonly FundingRate[];
  } = {},
): Promise<TapeRecording> {
  if (settings.AGENT_TAPE === '') throw new SapphireError('NOT_CONFIGURED', 'AGENT_TAPE is empty');
  if (settings.AGENT_TAPE_MODE === 'replay') {
    throw new SapphireError('NOT_CONFIGURED', 'recording needs AGENT_TAPE_MODE=record or call-through');
  }
  const setup = buildAgents(settings, { ...options, queueBeforeDeadline: true });
  if (setup.tape === null) {
    throw new SapphireError('NOT_CONFIGURED', 'no remote agent endpoint is set: embedded agents need no tape');
  }
  const counts = newAgentStageCounts();
  const total = series.reduce((n, c) => n + c.length, 0);
  let done = 0;
  const tape = setup.tape;
  await lastValueFrom(
    mergeBars(series).pipe(
      features(settings),
      strategySignals(options.strategies ?? resolveStrategies(settings), settings, {
        fundingRates: options.fundingRates,
      }),
      agentStage(settings, setup.agents, { counts }),
      // after the stage: a bar counts as done once every signal before it has its answers
      tap((e) => {
        if (e.kind === 'bar') options.onProgress?.(++done, total, tape.size);
      }),
    ),
    { defaultValue: null },
  );
  setup.tape.compact();
  return { path: setup.tape.path, entries: setup.tape.size, stage: counts, gateway: setup.gateway?.stats ?? null };
}
