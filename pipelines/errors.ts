/**
 * One catalogue of coded errors. Thrown errors are for broken invariants and bad input at the
 * edges; domain outcomes (a denial, a rejected order) are events, never exceptions.
 */
export const ERROR_CATALOGUE = {
  SETTINGS_INVALID: { status: 500, message: 'a setting has an invalid value' },
  ENV_FILE_INVALID: { status: 500, message: 'the .env file cannot be parsed' },
  DATA_FILE_INVALID: { status: 400, message: 'a market data file is malformed' },
  DATA_NOT_FOUND: { status: 404, message: 'no market data for the request' },
  INVARIANT_NAN: { status: 500, message: 'a number that must be finite is not' },
  INVARIANT_TIME_BACKWARDS: { status: 500, message: 'event time went backwards' },
  INVARIANT_ACCOUNTING: { status: 500, message: 'portfolio accounting is inconsistent' },
  ENGINE_UNAVAILABLE: { status: 503, message: 'the trading engine takes no commands (starting, stopping or stopped)' },
  JOURNAL_INVALID: { status: 500, message: 'the journal cannot be replayed (damaged, foreign or locked)' },
  CLI_USAGE: { status: 400, message: 'bad command-line usage' },
  AGENT_TAPE_MISS: { status: 500, message: 'the agent tape has no reply for this request' },
  STRATEGY_INVALID: { status: 400, message: 'a strategy cannot be loaded or broke its contract' },
  TUNING_SPACE_INVALID: { status: 400, message: 'the search space is invalid' },
  STUDY_STORAGE: { status: 500, message: 'the study storage failed' },
  EXCHANGE_PAYLOAD: { status: 502, message: 'the exchange sent an unexpected payload' },
  EXCHANGE_REJECTED: { status: 400, message: 'the exchange rejected the request' },
  EXCHANGE_BANNED: { status: 503, message: 'the exchange banned this IP (418)' },
  NOT_CONFIGURED: { status: 503, message: 'a required integration is not configured' },
  SECRETS_UNAVAILABLE: { status: 503, message: 'the secrets provider cannot be read' },
  ARCHIVE_FAILED: { status: 502, message: 'the Walrus archive request failed' },
  ARCHIVE_REFUSED: { status: 422, message: 'an archive blob does not authenticate (wrong key, altered or damaged)' },
  EXCHANGE_UNAVAILABLE: { status: 503, message: 'the exchange did not answer (timeout, 5xx): the outcome is unknown' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class SapphireError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${code}: ${detail}`, options);
    this.name = 'SapphireError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
  }
}

export function isSapphireError(e: unknown, code?: ErrorCode): e is SapphireError {
  return e instanceof SapphireError && (code === undefined || e.code === code);
}
