/**
 * Why an agent produced no usable opinion. `fault` is the machine-readable code that ends up in
 * the AgentFault event (timeout, deadline, http-5xx, http-429, http-4xx, transport, oversized,
 * invalid-reply, insufficient-data, replay-miss …); `retryable` tells the gateway whether another
 * attempt may help (timeouts, 5xx, 429, transport only). `retryAfterMs` is a server's Retry-After.
 * Messages never carry secrets (API keys live only in request headers).
 */
export class AgentError extends Error {
  readonly fault: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  constructor(fault: string, detail: string, retryable = false, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(detail, options);
    this.name = 'AgentError';
    this.fault = fault;
    this.retryable = retryable;
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * Fault codes after which an entry is refused whatever AGENT_FAILURE_POLICY says: a journal
 * replay that finds no taped outcome is a decision the recorded run never reached, so replaying
 * it must not produce an order.
 */
export const ALWAYS_VETOING_FAULTS: ReadonlySet<string> = new Set(['replay-miss']);
