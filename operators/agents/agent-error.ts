/**
 * Why an agent produced no usable opinion. `fault` is the machine-readable code that ends up in
 * the AgentFault event (timeout, http-5xx, http-4xx, transport, invalid-reply, insufficient-data …);
 * `retryable` tells the gateway whether another attempt may help (timeouts, 5xx, transport only).
 * Messages never carry secrets (API keys live only in request headers).
 */
export class AgentError extends Error {
  readonly fault: string;
  readonly retryable: boolean;
  constructor(fault: string, detail: string, retryable = false, options?: { cause?: unknown }) {
    super(detail, options);
    this.name = 'AgentError';
    this.fault = fault;
    this.retryable = retryable;
  }
}
