import { z } from 'zod';
import type { AgentOpinion, Direction } from '../../pipelines/model/index.ts';
import { AgentError } from './agent-error.ts';

/**
 * The reply contracts of the two agent kinds, and how a validated reply becomes an AgentOpinion.
 * Shared by the remote clients (agents/) and the embedded agents, so both are judged by the same
 * gates. Pure: no I/O, no clock.
 */

/**
 * A 0..1 score as models write it: a number, a numeric string ("0.7"), or a percentage ("70%",
 * or a bare whole number from 2 to 100, read as percent). Anything else is rejected — 1.5 is a
 * scale error, not 1.5 %.
 */
const unit = z.preprocess((v) => {
  let x = v;
  let percent = false;
  if (typeof x === 'string') {
    const t = x.trim();
    percent = t.endsWith('%');
    x = t === '' ? Number.NaN : Number(percent ? t.slice(0, -1).trim() : t);
  }
  if (typeof x !== 'number') return v;
  return percent || (Number.isInteger(x) && x >= 2 && x <= 100) ? x / 100 : x;
}, z.number().finite().min(0).max(1));

/** Sides a thesis model may answer with (case-insensitive). Anything else is a hallucination. */
const SIDES: Record<string, Direction> = {
  buy: 1,
  long: 1,
  sell: -1,
  short: -1,
  hold: 0,
  flat: 0,
  neutral: 0,
};

export const ThesisReply = z.object({
  thesis: z.string().trim().min(10, 'thesis shorter than 10 characters'),
  side: z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => v in SIDES, 'side must be one of buy, sell, hold, long, short, flat, neutral'),
  risk_score: unit,
  confidence: unit,
});
export type ThesisReply = z.infer<typeof ThesisReply>;

const finiteArray = z.array(z.number().finite().positive()).min(1);

export const ForecastReply = z
  .object({
    forecast: finiteArray,
    lower_ci: finiteArray,
    upper_ci: finiteArray,
    anomaly_score: unit,
    confidence: unit,
  })
  .refine(
    (r) => r.lower_ci.length === r.forecast.length && r.upper_ci.length === r.forecast.length,
    'forecast, lower_ci and upper_ci must have the same length',
  )
  .refine((r) => r.lower_ci.every((lo, i) => lo <= r.upper_ci[i]!), 'lower_ci above upper_ci');
export type ForecastReply = z.infer<typeof ForecastReply>;

/**
 * Finds the JSON object in a model's text, after dropping <think> blocks: the whole text, else the first ```json fenced block,
 * else the span from the first `{` to the last `}` (models like to wrap JSON in prose).
 */
export function extractJson(raw: string): unknown {
  // reasoning models think aloud first: <think>…</think> (possibly unclosed if cut off) is not the answer
  const text = raw.replace(/<think>[\s\S]*?(<\/think>|$)/gi, '');
  const candidates: string[] = [text.trim()];
  const fence = /```(?:json|JSON)?\s*([\s\S]*?)```/.exec(text);
  if (fence?.[1] !== undefined) candidates.push(fence[1].trim());
  const first = text.indexOf('{');
  const last = text.lastIndexOf('}');
  if (first >= 0 && last > first) candidates.push(text.slice(first, last + 1));
  for (const c of candidates) {
    if (!c.startsWith('{')) continue;
    try {
      return JSON.parse(c) as unknown;
    } catch {
      // try the next candidate
    }
  }
  throw new AgentError('invalid-reply', `no JSON object in the reply (${text.length} chars)`);
}

function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new AgentError('invalid-reply', `${what} reply rejected: ${issues}`);
}

/**
 * An opinion whose summary text is formatted on first read from a few kept numbers. Most
 * opinions of a backtest are never read (denied entries), and formatting numbers is a large part
 * of an agent call's cost. Reads and JSON (toJSON) look exactly like a plain AgentOpinion.
 */
export class DeferredOpinion<D> implements AgentOpinion {
  #text: string | undefined;
  readonly #data: D;
  readonly #format: (data: D) => string;

  constructor(
    readonly agent: string,
    readonly direction: Direction,
    readonly confidence: number,
    readonly riskScore: number,
    readonly accepted: boolean,
    readonly blocksEntry: boolean,
    format: (data: D) => string,
    data: D,
  ) {
    this.#format = format;
    this.#data = data;
  }

  get summary(): string {
    return (this.#text ??= this.#format(this.#data));
  }

  toJSON(): AgentOpinion {
    return {
      agent: this.agent,
      direction: this.direction,
      confidence: this.confidence,
      riskScore: this.riskScore,
      accepted: this.accepted,
      blocksEntry: this.blocksEntry,
      summary: this.summary,
    };
  }
}

export function parseThesisReply(value: unknown): ThesisReply {
  return validate(ThesisReply, value, 'thesis');
}

export function parseForecastReply(value: unknown): ForecastReply {
  return validate(ForecastReply, value, 'forecast');
}

/**
 * A thesis becomes an opinion. The agent's own gate is the spec's `risk_score ≥
 * FINGPT_MIN_RISK_SCORE`: risk_score is "how risky is this trade" (higher = riskier, consensus
 * refuses entries above RISK_THRESHOLD), so the floor rejects replies that call a leveraged perp
 * trade nearly riskless — a typical sign of a model that did not assess the risk at all. Together
 * the two gates accept a thesis whose risk lies in [FINGPT_MIN_RISK_SCORE, RISK_THRESHOLD].
 */
export function judgeThesis(agent: string, reply: ThesisReply, minRiskScore: number): AgentOpinion {
  return {
    agent,
    direction: SIDES[reply.side] ?? 0,
    confidence: reply.confidence,
    riskScore: reply.risk_score,
    accepted: reply.risk_score >= minRiskScore,
    blocksEntry: false,
    summary: reply.thesis.length > 400 ? `${reply.thesis.slice(0, 397)}...` : reply.thesis,
  };
}

export interface ForecastGate {
  LAGLLAMA_MAX_CI_SPAN: number;
  ANOMALY_THRESHOLD: number;
}

/** ci_span = max over the horizon of (upper − lower) / price. */
export function ciSpan(reply: ForecastReply, price: number): number {
  let span = 0;
  for (let i = 0; i < reply.upper_ci.length; i++) span = Math.max(span, reply.upper_ci[i]! - reply.lower_ci[i]!);
  return span / price;
}

/** Relative end-of-horizon moves smaller than this are "no view" (direction 0). */
const FLAT_MOVE = 1e-6;

interface ForecastSummary {
  endMove: number;
  steps: number;
  span: number;
  anomaly: number;
  firstMove: number;
  spanOk: boolean;
  firstOk: boolean;
  blocks: boolean;
  maxSpan: number;
  threshold: number;
}

function forecastSummary(d: ForecastSummary): string {
  const notes: string[] = [];
  if (!d.spanOk) notes.push(`ci_span ${d.span.toFixed(4)} > ${d.maxSpan}`);
  if (!d.firstOk) notes.push(`first forecast ${(d.firstMove * 100).toFixed(1)}% from price`);
  if (d.blocks) notes.push(`anomaly ${d.anomaly.toFixed(3)} > ${d.threshold}`);
  return (
    `forecast ${d.endMove >= 0 ? '+' : ''}${(d.endMove * 100).toFixed(3)}% over ${d.steps} bars, ` +
    `ci_span ${d.span.toFixed(4)}, anomaly ${d.anomaly.toFixed(3)}` +
    (notes.length > 0 ? ` (${notes.join('; ')})` : '')
  );
}

/**
 * A forecast becomes an opinion: direction = side of the last forecast point vs price; accepted
 * iff ci_span ≤ LAGLLAMA_MAX_CI_SPAN and the first forecast is within 50 % of price; the anomaly
 * score is reported as the risk score and blocks new entries above ANOMALY_THRESHOLD.
 */
export function judgeForecast(agent: string, reply: ForecastReply, price: number, s: ForecastGate): AgentOpinion {
  const span = ciSpan(reply, price);
  const firstMove = Math.abs(reply.forecast[0]! / price - 1);
  const endMove = reply.forecast[reply.forecast.length - 1]! / price - 1;
  const direction: Direction = endMove > FLAT_MOVE ? 1 : endMove < -FLAT_MOVE ? -1 : 0;
  const spanOk = span <= s.LAGLLAMA_MAX_CI_SPAN;
  const firstOk = firstMove <= 0.5;
  const blocks = reply.anomaly_score > s.ANOMALY_THRESHOLD;
  return new DeferredOpinion(
    agent,
    direction,
    reply.confidence,
    reply.anomaly_score,
    spanOk && firstOk,
    blocks,
    forecastSummary,
    {
      endMove,
      steps: reply.forecast.length,
      span,
      anomaly: reply.anomaly_score,
      firstMove,
      spanOk,
      firstOk,
      blocks,
      maxSpan: s.LAGLLAMA_MAX_CI_SPAN,
      threshold: s.ANOMALY_THRESHOLD,
    },
  );
}
