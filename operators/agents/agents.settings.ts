import { z } from 'zod';
import { bool, int, num, oneOf, optionalUrl, positive, str } from '../../pipelines/settings-kit.ts';

export const AgentSettings = z.object({
  AGENTS_ENABLED: bool(
    false,
    'ask the thesis and forecast agents before entries (embedded agents when no endpoint is set); `serve` defaults it to true, backtests and tuning to false',
  ),
  FINGPT_ENDPOINT: optionalUrl(
    'OpenAI-compatible base URL (…/v1 or not) or full …/chat/completions URL of the thesis model (empty = embedded rule-based writer)',
  ),
  FINGPT_API_KEY: str('', 'API key for FINGPT_ENDPOINT, sent as Authorization: Bearer (secret)'),
  FINGPT_HEADERS: str('', 'extra request headers for FINGPT_ENDPOINT as a JSON object, e.g. {"api-key":"…"} (secret)'),
  FINGPT_MODEL: str('', 'model name sent to FINGPT_ENDPOINT (required when the model is called)'),
  FINGPT_MAX_TOKENS: int(512, 16, 32_768, 'max_tokens of one thesis completion'),
  FINGPT_SEED: int(
    0,
    0,
    2_147_483_647,
    'seed sent with every completion (reproducible sampling where the server supports it)',
  ),
  FINGPT_RESPONSE_FORMAT: oneOf(
    ['json_schema', 'json_object', 'none'],
    'json_schema',
    'response_format sent: the thesis JSON schema, any JSON object, or none (servers without structured output)',
  ),
  FINGPT_MIN_RISK_SCORE: num(0.4, 0, 1, 'a thesis is accepted only with risk_score at or above this'),
  LAGLLAMA_ENDPOINT: optionalUrl('forecast service URL (empty = embedded statistical forecaster)'),
  LAGLLAMA_API_KEY: str('', 'API key for LAGLLAMA_ENDPOINT (secret)'),
  LAGLLAMA_MAX_CI_SPAN: positive(
    0.25,
    10,
    'a forecast is rejected when its widest band exceeds this fraction of price',
  ),
  LAGLLAMA_HORIZON: int(12, 1, 1000, 'bars ahead the forecast covers'),
  ANOMALY_THRESHOLD: num(0.8, 0, 1, 'forecast anomaly score above which new entries on the symbol are blocked'),
  MAX_PARALLEL_AGENTS: int(4, 1, 64, 'agent calls in flight at once'),
  AGENT_RETRY_ATTEMPTS: int(3, 0, 10, 'retries of a failed agent call (timeouts, 5xx), with exponential backoff'),
  LLM_TIMEOUT_SECONDS: positive(30, 600, 'timeout of one agent call attempt (never beyond the decision deadline)'),
  AGENT_DECISION_DEADLINE_SECONDS: positive(
    20,
    600,
    'longest a decision waits for an agent, retries included; then it proceeds with that agent as a fault',
  ),
  AGENT_MAX_REPLY_BYTES: int(262_144, 1024, 64 * 1024 * 1024, 'a model reply larger than this is refused as a fault'),
  AGENT_FAILURE_POLICY: oneOf(
    ['fail-closed', 'fail-open'],
    'fail-closed',
    'fail-closed: an entry is refused when an agent faults; fail-open: the decision goes on without it (exits are never gated)',
  ),
  AGENT_CACHE_TTL_SECONDS: num(10, 0, 86_400, 'agent replies are reused for this long, keyed by agent + symbol + bar'),
  AGENT_CONTEXT_BARS: int(128, 16, 4096, 'recent closes an agent is shown (and the embedded forecaster fits on)'),
  AGENT_TAPE: str('', 'JSONL tape of agent replies for reproducible backtests (empty = none)'),
  AGENT_TAPE_MODE: oneOf(
    ['', 'replay', 'record', 'call-through'],
    '',
    'required with AGENT_TAPE — replay: answer from the tape only; record: call and write a new tape; call-through: replay, calling on a miss',
  ),
});
export type AgentSettings = z.infer<typeof AgentSettings>;
