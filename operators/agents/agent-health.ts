import type { AgentStageCounts } from './agents.ts';

/** One agent's record over the signals the agent stage asked about. */
export interface AgentHealthRow {
  /** its latest call answered (false: the latest one faulted) */
  available: boolean;
  /** final faults by kind (timeout, deadline, http-429, oversized, invalid-reply …) */
  faults: Record<string, number>;
  /** signals decided without its opinion */
  without: number;
  /** without / signals (0 when nothing was asked) */
  shareWithout: number;
}

export interface AgentHealth {
  /** signals the agents were asked about */
  signals: number;
  agents: Record<string, AgentHealthRow>;
  /** some agent's latest call faulted */
  degraded: boolean;
}

/** The stage's counters as the figures /healthz, /metrics, the dashboard and result.json show. */
export function agentHealth(counts: AgentStageCounts): AgentHealth {
  const agents: Record<string, AgentHealthRow> = {};
  for (const name of counts.agents ?? []) {
    const without = counts.without?.[name] ?? 0;
    agents[name] = {
      available: counts.lastFaulted?.[name] !== true,
      faults: {},
      without,
      shareWithout: counts.signals > 0 ? without / counts.signals : 0,
    };
  }
  for (const [key, n] of Object.entries(counts.faults)) {
    const at = key.indexOf(':');
    const row = agents[key.slice(0, at)];
    if (row) row.faults[key.slice(at + 1)] = n;
  }
  const degraded = Object.values(agents).some((a) => !a.available);
  return { signals: counts.signals, agents, degraded };
}
