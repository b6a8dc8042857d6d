import type { AgentOpinion } from '../../pipelines/model/index.ts';
import type { AgentContext, AgentPort } from '../../pipelines/ports.ts';
import { AgentError } from './agent-error.ts';
import type { AgentSettings } from './agents.settings.ts';
import { garchForecast, MIN_CLOSES, ReturnsMemo } from './forecast.kernel.ts';
import { DeferredOpinion, judgeForecast } from './replies.ts';
import { assessThesis, thesisSentence } from './thesis.kernel.ts';

export const EMBEDDED_THESIS = 'thesis-rules';
export const EMBEDDED_FORECAST = 'forecast-garch';

/** The rule-based thesis writer as an agent (synchronous), judged by the same gate as a remote thesis. */
export function embeddedThesisAgent(s: Pick<AgentSettings, 'FINGPT_MIN_RISK_SCORE'>): AgentPort {
  return {
    name: EMBEDDED_THESIS,
    opinion(ctx: AgentContext): AgentOpinion {
      // same gate as judgeThesis; the sentence is written only if someone reads it
      const a = assessThesis(ctx);
      return new DeferredOpinion(
        EMBEDDED_THESIS,
        a.side === 'buy' ? 1 : a.side === 'sell' ? -1 : 0,
        a.confidence,
        a.risk,
        a.risk >= s.FINGPT_MIN_RISK_SCORE,
        false,
        thesisSentence,
        a,
      );
    },
  };
}

/** The GARCH forecaster as an agent (synchronous), judged by the same gates as a remote forecast. */
export function embeddedForecastAgent(
  s: Pick<AgentSettings, 'LAGLLAMA_HORIZON' | 'LAGLLAMA_MAX_CI_SPAN' | 'ANOMALY_THRESHOLD'>,
): AgentPort {
  // per-symbol log-return memo: a cache only, results are identical without it
  const memos = new Map<string, ReturnsMemo>();
  return {
    name: EMBEDDED_FORECAST,
    opinion(ctx: AgentContext): AgentOpinion {
      let memo = memos.get(ctx.symbol);
      if (!memo) memos.set(ctx.symbol, (memo = new ReturnsMemo()));
      const f = garchForecast(ctx.closes, s.LAGLLAMA_HORIZON, memo);
      if (f === null) {
        throw new AgentError(
          'insufficient-data',
          `${ctx.closes.length} closes, the forecaster needs ${MIN_CLOSES} positive closes`,
        );
      }
      return judgeForecast(EMBEDDED_FORECAST, f, ctx.price, s);
    },
  };
}

/** Thesis first, forecast second: the order opinions appear in signals and decisions. */
export function embeddedAgents(s: AgentSettings): AgentPort[] {
  return [embeddedThesisAgent(s), embeddedForecastAgent(s)];
}
