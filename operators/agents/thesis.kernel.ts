import type { AgentContext } from '../../pipelines/ports.ts';
import type { ThesisReply } from './replies.ts';

/**
 * The embedded rule-based thesis writer: the same reply shape a FinGPT-style model is asked for
 * ({thesis, side, risk_score, confidence}), derived from the numbers in the agent context.
 *
 * Trend score s ∈ (−1, 1): a weighted sum of three trend readings, each a move divided by the
 * noise expected over its span (ATR as the per-bar noise unit, random-walk √time scaling), squashed
 * by tanh so one extreme reading cannot dominate:
 *   0.5 · tanh(1 h move / (ATR%·√12)) + 0.3 · tanh(window move / (ATR%·√window)) +
 *   0.2 · tanh(24 h change / (ATR%·√288))
 * (bar counts assume 5 m bars; on other intervals the names are approximate, the scaling holds).
 * side = BUY when s > 0.15, SELL when s < −0.15, else HOLD; confidence = 0.5 + 0.5·|s|.
 *
 * risk_score (higher = riskier) = 0.4 + 0.35 · min(1, daily vol / 10 %) + 0.25 · min(1, c / 10 %)
 * where daily vol = annualised volatility / √365 and c is the 24 h move against the proposed
 * side (0 when the proposal goes with it). 0.4 is the floor of any leveraged directional perp
 * trade; calm with-trend trades stay near it, volatile counter-trend trades exceed 0.7.
 * Deterministic; O(1) per call.
 */

export const THESIS_SIDE_THRESHOLD = 0.15;

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);
const pct = (x: number, digits = 2): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(digits)}%`;

function move(closes: readonly number[], bars: number): { ret: number; bars: number } {
  const n = closes.length;
  const k = Math.min(bars, n - 1);
  if (k < 1) return { ret: 0, bars: 1 };
  return { ret: closes[n - 1]! / closes[n - 1 - k]! - 1, bars: k };
}

/** The numbers behind a thesis (scalars only: cheap to keep until the sentence is wanted). */
export interface ThesisAssessment {
  symbol: string;
  price: number;
  proposedDirection: -1 | 0 | 1;
  hourReturn: number;
  windowReturn: number;
  windowBars: number;
  change24h: number;
  atrPct: number;
  dailyVol: number;
  score: number;
  side: 'buy' | 'sell' | 'hold';
  risk: number;
  confidence: number;
}

export function assessThesis(ctx: AgentContext): ThesisAssessment {
  const price = ctx.price;
  const atrPct = ctx.atr > 0 && price > 0 ? ctx.atr / price : 0;
  const noise = atrPct > 0 ? atrPct : 1e-4;
  const hour = move(ctx.closes, 12);
  const window = move(ctx.closes, ctx.closes.length - 1);
  const change24h = Number.isFinite(ctx.change24h) ? ctx.change24h : 0;
  const score =
    0.5 * Math.tanh(hour.ret / (noise * Math.sqrt(hour.bars))) +
    0.3 * Math.tanh(window.ret / (noise * Math.sqrt(window.bars))) +
    0.2 * Math.tanh(change24h / (noise * Math.sqrt(288)));
  const side = score > THESIS_SIDE_THRESHOLD ? 'buy' : score < -THESIS_SIDE_THRESHOLD ? 'sell' : 'hold';
  const confidence = clamp01(0.5 + 0.5 * Math.abs(score));

  const dailyVol =
    Number.isFinite(ctx.volatility) && ctx.volatility > 0 ? ctx.volatility / Math.sqrt(365) : atrPct * Math.sqrt(288);
  const against = ctx.proposedDirection === 0 ? 0 : Math.max(0, -ctx.proposedDirection * change24h);
  const risk = clamp01(0.4 + 0.35 * clamp01(dailyVol / 0.1) + 0.25 * clamp01(against / 0.1));
  return {
    symbol: ctx.symbol,
    price,
    proposedDirection: ctx.proposedDirection,
    hourReturn: hour.ret,
    windowReturn: window.ret,
    windowBars: window.bars,
    change24h,
    atrPct,
    dailyVol,
    score,
    side,
    risk,
    confidence,
  };
}

/** The thesis sentence for an assessment. */
export function thesisSentence(a: ThesisAssessment): string {
  const trendWord = a.score > THESIS_SIDE_THRESHOLD ? 'up' : a.score < -THESIS_SIDE_THRESHOLD ? 'down' : 'sideways';
  const proposal = a.proposedDirection > 0 ? 'long' : a.proposedDirection < 0 ? 'short' : 'flat';
  const verdict =
    a.side === 'hold'
      ? `there is no clear trend, so the ${proposal} proposal is not supported`
      : (a.side === 'buy' ? 1 : -1) === a.proposedDirection
        ? `this supports the ${proposal} proposal`
        : `this contradicts the ${proposal} proposal`;
  return (
    `${a.symbol} at ${a.price} trends ${trendWord}: ${pct(a.hourReturn)} over the last hour, ` +
    `${pct(a.windowReturn)} over the ${a.windowBars}-bar window and ${pct(a.change24h)} over 24 h; ` +
    `ATR is ${(a.atrPct * 100).toFixed(3)}% of price and daily volatility ${(a.dailyVol * 100).toFixed(2)}%, ` +
    `so risk is ${a.risk.toFixed(2)} and ${verdict}.`
  );
}

/** The reply a thesis model is asked for, written by the rules. */
export function writeThesis(ctx: AgentContext): ThesisReply {
  const a = assessThesis(ctx);
  return { thesis: thesisSentence(a), side: a.side, risk_score: a.risk, confidence: a.confidence };
}
