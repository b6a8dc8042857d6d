import { isIP } from 'node:net';
import { z } from 'zod';
import { bool, int, oneOf, optionalUrl, str } from '../pipelines/settings-kit.ts';
import { symbolList } from '../pipelines/settings-kit.ts';

export const LiveSettings = z.object({
  SYMBOLS: symbolList(
    ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'AVAXUSDT', 'ARBUSDT'],
    'symbols traded (comma list or JSON list)',
  ),
  TRADING_MODE: oneOf(
    ['paper', 'live'],
    'paper',
    'paper: simulated fills on live data; live: real orders (needs credentials and ADMIN_API_TOKEN)',
  ),
  ENABLE_PAPER_TRADING: bool(true, 'keep paper trading on; live mode requires this to be false'),
  ASTER_REST_URL: str(
    '',
    'Aster futures REST base URL, e.g. https://fapi.asterdex.com (empty = start the embedded exchange simulator)',
  ),
  ASTER_WS_URL: str('', 'Aster futures WebSocket base URL, e.g. wss://fstream.asterdex.com (empty = the simulator)'),
  SIMULATOR_DATA_DIR: str('data/sample/perp-5m', 'bars the embedded simulator replays as its market'),
  SIMULATOR_REPLAY_MS: int(500, 1, 3_600_000, 'wall-clock ms per replayed bar in the embedded simulator'),
  ASTER_API_KEY: str('', 'V1 (HMAC) API key (secret)'),
  ASTER_SECRET_KEY: str('', 'V1 (HMAC) secret key (secret)'),
  ASTER_USER: str('', 'V3 API-wallet: the main account address'),
  ASTER_SIGNER: str('', 'V3 API-wallet: the signer address'),
  ASTER_SIGNER_PRIVATE_KEY: str('', 'V3 API-wallet: the signer private key (secret)'),
  ASTER_RECV_WINDOW: int(5000, 1, 60_000, 'recvWindow of signed requests, ms'),
  ASTER_ABSENT_LOOKUPS: int(
    3,
    1,
    20,
    'an order whose outcome is unknown counts as absent (and may be re-sent, same client id) only after this many "order does not exist" answers',
  ),
  ASTER_ABSENT_LOOKUP_SPACING_MS: int(
    1000,
    0,
    60_000,
    'ms between those lookups: absence is declared no sooner than (ASTER_ABSENT_LOOKUPS - 1) x this after the first miss',
  ),
  ASTER_BAN_DEFAULT_MS: int(
    120_000,
    1000,
    86_400_000,
    'how long a 418 ban without Retry-After stops REST calls before trying again, ms (Aster bans last 2 min to 3 days)',
  ),
  PORT: int(8080, 0, 65_535, 'admin API and dashboard port'),
  HOST: str('127.0.0.1', 'address the service listens on (0.0.0.0 in a container)'),
  ADMIN_API_TOKEN: str(
    '',
    'token for admin routes (Bearer or X-Admin-Token); required in live mode, at least 32 characters there (secret)',
  ),
  CORS_ORIGINS: symbolListFree('origins allowed by CORS (comma list); empty = same-origin only'),
  RATE_LIMIT_PER_MINUTE: int(
    60,
    1,
    100_000,
    'requests per minute per client address with a valid admin token (failed attempts have their own limit)',
  ),
  ADMIN_AUTH_FAILURES_PER_MINUTE: int(
    20,
    1,
    10_000,
    'failed admin logins (401/403) per minute per client address; past it that address gets 429 until the minute ends',
  ),
  TRUSTED_PROXIES: addressList(
    'reverse proxies (IPs or CIDRs, comma list) whose X-Forwarded-For names the client; empty = the socket address is the client',
  ),
  ALLOWED_HOSTS: hostList(
    'Host header names the servers answer (comma list, port ignored; DNS-rebinding guard); empty = localhost, 127.0.0.1 and ::1 when HOST is a loopback address, any host otherwise',
  ),
  PORTFOLIO_CACHE_MS: int(
    2000,
    0,
    600_000,
    'orchestrator GET /portfolio answers from a wallet read at most this old: one exchange read per period, whatever the request rate',
  ),
  SSE_MAX_CLIENTS: int(
    100,
    1,
    10_000,
    'open /events streams at most (dashboard tabs); beyond it a new stream gets 503',
  ),
  SSE_MAX_BUFFER_BYTES: int(
    1_048_576,
    1024,
    1_073_741_824,
    'unsent bytes a /events reader may fall behind before it is dropped (slow or stalled reader)',
  ),
  REDIS_URL: optionalUrl(
    'Redis for the telemetry streams (empty = in-process ring buffer); the journal is always the JOURNAL_PATH file',
  ),
  REDIS_STREAM_MAXLEN: int(2000, 10, 10_000_000, 'approximate length cap of each telemetry stream'),
  JOURNAL_PATH: str('.sapphire/journal.jsonl', 'append-only journal of decisions, orders and fills (restart safety)'),
  JOURNAL_SNAPSHOT_EVERY: int(
    1000,
    10,
    1_000_000,
    'inputs (bars, commands) between snapshot records in the journal: a restart restores the last one and replays at most this many (paper and live; with agents a due snapshot waits until no agent call is pending)',
  ),
  START_FROM_EXCHANGE: bool(
    false,
    'start from what the exchange holds instead of a history: a journal written with other strategy settings or code is set aside (renamed *.superseded-<time>) instead of refusing the start, and in live mode a journal with no venue history of its own (no order, fill or take-over: new, set aside, or stopped before its first live bar) takes over the positions held at the exchange at their entry price, with the stop and take-profit of this bot found working for them (else its own from the last close and ATR), cancels orders of this bot that guard nothing and leaves other orders alone, then compares the book with the exchange; a journal with venue history is replayed as usual (CLI: serve --from-exchange)',
  ),
  TELEGRAM_BOT_TOKEN: str('', 'Telegram bot token (secret); empty = no Telegram'),
  TELEGRAM_CHAT_ID: str('', 'the only chat that receives notices and may send commands'),
  TELEGRAM_API_URL: str('https://api.telegram.org', 'Telegram Bot API base URL'),
  TELEGRAM_TRADE_COOLDOWN_SECONDS: int(180, 0, 86_400, 'at most one trade message per symbol in this many seconds'),
  TELEGRAM_SUMMARY_INTERVAL_SECONDS: int(14_400, 60, 604_800, 'seconds between portfolio summaries'),
  TELEGRAM_ENABLE_MARKET_OBSERVER: bool(false, 'send the periodic summary'),
  ORCHESTRATOR_URL: optionalUrl('route orders through this orchestrator instead of the exchange'),
  ORCHESTRATOR_PORT: int(8082, 0, 65_535, 'orchestrator port'),
  ANALYTICS_PROVIDER: oneOf(['none', 'ga4', 'plausible'], 'none', 'dashboard analytics, loaded only after consent'),
  ANALYTICS_ID: str('', 'GA4 measurement id'),
  PLAUSIBLE_DOMAIN: str('', 'Plausible site domain'),
  SECRETS_PROVIDER: oneOf(['env', 'gcp'], 'env', 'where secrets come from: environment/.env or Google Secret Manager'),
  GCP_PROJECT: str('', 'Google Cloud project for SECRETS_PROVIDER=gcp'),
  WALRUS_PUBLISHER_URL: optionalUrl('Walrus publisher for sapphire archive put'),
  WALRUS_AGGREGATOR_URL: optionalUrl('Walrus aggregator for sapphire archive get'),
  ARCHIVE_KEY: str(
    '',
    'AES-256-GCM key for sapphire archive put/get and verify: 64 hex digits or 44 base64 characters (32 bytes); openssl rand -hex 32 makes one (secret)',
  ),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info', 'log level'),
});
export type LiveSettings = z.infer<typeof LiveSettings>;

function symbolListFree(doc: string) {
  return z
    .preprocess(
      (v) =>
        typeof v === 'string'
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : v,
      z.array(z.url({ protocol: /^https?$/ })),
    )
    .default([])
    .describe(doc);
}

function commaList(v: unknown): unknown {
  return typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : v;
}

/** IPs or CIDRs (a.b.c.d/n, x::y/n), as Fastify's trustProxy takes them. */
function addressList(doc: string) {
  const address = z.string().refine((a) => {
    const [ip, bits, extra] = a.split('/');
    if (extra !== undefined || isIP(ip ?? '') === 0) return false;
    if (bits === undefined) return true;
    const max = isIP(ip!) === 4 ? 32 : 128;
    return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
  }, 'each entry is an IP address or a CIDR such as 10.0.0.0/8');
  return z.preprocess(commaList, z.array(address)).default([]).describe(doc);
}

/** Host names (or IP literals, IPv6 in brackets or bare), lower-cased, without a port. */
function hostList(doc: string) {
  const host = z
    .string()
    .transform((h) => h.toLowerCase())
    .refine(
      (h) => /^[a-z0-9.-]+$/.test(h) || isIP(h.replace(/^\[|\]$/g, '')) === 6,
      'each entry is a host name without scheme or port, e.g. sapphire.example.com',
    );
  return z.preprocess(commaList, z.array(host)).default([]).describe(doc);
}
