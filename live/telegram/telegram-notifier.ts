import type { Decision, PipelineEvent, ProtectIntent } from '../../pipelines/model/index.ts';
import type { ClockPort, Timers } from '../../pipelines/ports.ts';
import { closeMessage, fmt, openMessage } from './trade-messages.ts';
import { redactText } from '../../secrets/redact.ts';
import { backoffDelay } from '../../pipelines/backoff.ts';
import { realTimers } from '../../runtime/timers.ts';

/** Answers to the chat commands, supplied by the trading service. */
export interface TelegramCommands {
  status(): string;
  portfolio(): string;
  positions(): string;
  /** stops trading; the text is sent back to the chat */
  stop(): Promise<string>;
}

export interface TelegramSettings {
  readonly TELEGRAM_BOT_TOKEN: string;
  readonly TELEGRAM_CHAT_ID: string;
  readonly TELEGRAM_API_URL: string;
  readonly TELEGRAM_TRADE_COOLDOWN_SECONDS: number;
  readonly TELEGRAM_SUMMARY_INTERVAL_SECONDS: number;
  readonly TELEGRAM_ENABLE_MARKET_OBSERVER: boolean;
}

export interface TelegramNotifierOptions {
  readonly settings: TelegramSettings;
  readonly clock: ClockPort;
  /** default: the global timers */
  readonly timers?: Timers;
  /** answers /status /portfolio /positions /stop; without it no updates are polled */
  readonly commands?: TelegramCommands;
  /** text of the periodic summary; default: trades since the last summary + commands.portfolio() */
  readonly summary?: () => string;
  readonly fetch?: typeof fetch;
  /** called once per message: true delivered, false failed or dropped (e.g. a Prometheus counter) */
  readonly onSent?: (ok: boolean) => void;
  /** log sink for failures; every line is redacted (never the token) */
  readonly log?: (line: string) => void;
  /** most messages waiting; older ones are dropped (and counted as failures) beyond it. Default 100 */
  readonly maxQueue?: number;
  /** getUpdates long-poll timeout, seconds. Default 25 */
  readonly pollTimeoutSeconds?: number;
  /** per-request timeout for sendMessage, ms. Default 10 000 */
  readonly requestTimeoutMs?: number;
}

const COMMAND_HELP = 'commands: /status /portfolio /positions /stop';
/** Telegram's limit is 4096 characters per message */
const MAX_TEXT = 4000;
/** a 429 asking to wait longer than this is not retried */
const MAX_RETRY_AFTER_S = 30;

class RateLimited extends Error {
  constructor(readonly retryAfterS: number) {
    super(`HTTP 429: retry after ${retryAfterS} s`);
  }
}

interface Update {
  update_id: number;
  message?: { chat?: { id?: number | string }; text?: string };
}

/**
 * Telegram Bot API notifier. `onEvent` never blocks and never throws: messages go to a bounded
 * queue drained by one sender; failures are counted (`failures`, `onSent(false)`) and logged
 * without the token. Trade messages on fills that open or close a position (thesis from the
 * decision's opinions, R:R from the protective stop and take-profit), at most one per symbol per
 * cooldown; a periodic summary when the market observer is on; commands from the configured
 * chat only (every other chat is ignored without an answer).
 */
export class TelegramNotifier {
  readonly #s: TelegramSettings;
  readonly #clock: ClockPort;
  readonly #timers: Timers;
  readonly #fetch: typeof fetch;
  readonly #opts: TelegramNotifierOptions;
  readonly #base: string;
  readonly #queue: string[] = [];
  #draining: Promise<void> | undefined;
  #running = false;
  #summaryTimer: unknown;
  #pollAbort: AbortController | undefined;
  #pollLoop: Promise<void> | undefined;
  #backoffTimer: unknown;
  #offset = 0;

  readonly #lastTradeMsg = new Map<string, number>();
  readonly #decisions = new Map<string, Decision>();
  readonly #protects = new Map<string, ProtectIntent>();
  readonly #held = new Map<string, { side: 1 | -1; qty: number; entry: number }>();
  #opened = 0;
  #closed = 0;

  failures = 0;
  sent = 0;
  dropped = 0;
  suppressed = 0;
  pollFailures = 0;
  rateLimited = 0;

  constructor(opts: TelegramNotifierOptions) {
    this.#opts = opts;
    this.#s = opts.settings;
    this.#clock = opts.clock;
    this.#timers = opts.timers ?? realTimers;
    this.#fetch = opts.fetch ?? fetch;
    this.#base = `${this.#s.TELEGRAM_API_URL.replace(/\/+$/, '')}/bot${this.#s.TELEGRAM_BOT_TOKEN}`;
  }

  /** both a token and a chat are configured */
  get enabled(): boolean {
    return this.#s.TELEGRAM_BOT_TOKEN !== '' && this.#s.TELEGRAM_CHAT_ID !== '';
  }

  /** messages waiting to be sent */
  get pending(): number {
    return this.#queue.length;
  }

  /** Feed every pipeline event here. Synchronous, never throws. */
  onEvent(e: PipelineEvent): void {
    if (!this.enabled) return;
    try {
      this.#onEvent(e);
    } catch (err) {
      this.#log(`telegram: event ${e.kind} not handled: ${this.#redact(errText(err))}`);
    }
  }

  #onEvent(e: PipelineEvent): void {
    switch (e.kind) {
      case 'decision':
        this.#decisions.set(e.symbol, e);
        return;
      case 'protect':
        if (e.cause === 'initial') this.#protects.set(e.symbol, e);
        return;
      case 'fill': {
        const signed = e.side === 'BUY' ? e.quantity : -e.quantity;
        const held = this.#held.get(e.symbol);
        const opening = held === undefined || Math.sign(signed) === held.side;
        if (opening) {
          const side = signed > 0 ? 1 : -1;
          const qty = (held?.qty ?? 0) + e.quantity;
          const entry = held === undefined ? e.price : (held.entry * held.qty + e.price * e.quantity) / qty;
          this.#held.set(e.symbol, { side, qty, entry });
          this.#opened++;
          if (held === undefined) {
            this.#trade(e.symbol, () => openMessage(e, this.#decisions.get(e.symbol), this.#protects.get(e.symbol)));
          }
        } else {
          const left = held.qty - e.quantity;
          this.#closed++;
          const text = closeMessage(e, held);
          if (left > 1e-12) this.#held.set(e.symbol, { ...held, qty: left });
          else {
            this.#held.delete(e.symbol);
            this.#protects.delete(e.symbol);
            if (left < -1e-12) {
              // flipped through zero: the rest opened the other side
              this.#held.set(e.symbol, { side: held.side === 1 ? -1 : 1, qty: -left, entry: e.price });
            }
          }
          this.#trade(e.symbol, () => text);
        }
        return;
      }
      default:
        return;
    }
  }

  #trade(symbol: string, text: () => string): void {
    const now = this.#clock.now();
    const last = this.#lastTradeMsg.get(symbol);
    if (last !== undefined && now - last < this.#s.TELEGRAM_TRADE_COOLDOWN_SECONDS * 1000) {
      this.suppressed++;
      return;
    }
    this.#lastTradeMsg.set(symbol, now);
    this.notify(text());
  }

  /** Queue a message to the configured chat. Never blocks, never throws. */
  notify(text: string): void {
    if (!this.enabled) return;
    const max = this.#opts.maxQueue ?? 100;
    this.#queue.push(text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 3)}...` : text);
    while (this.#queue.length > max) {
      this.#queue.shift();
      this.dropped++;
      this.#result(false);
    }
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
  }

  /** Resolves once every queued message has been tried. */
  async flush(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
  }

  async #drain(): Promise<void> {
    for (let text = this.#queue.shift(); text !== undefined; text = this.#queue.shift()) {
      try {
        try {
          await this.#send(text);
        } catch (err) {
          // Telegram's flood control: wait as asked (bounded) and try once more
          if (!(err instanceof RateLimited) || err.retryAfterS > MAX_RETRY_AFTER_S) throw err;
          this.rateLimited++;
          await new Promise<void>((resolve) => this.#timers.setTimeout(resolve, err.retryAfterS * 1000));
          await this.#send(text);
        }
        this.sent++;
        this.#result(true);
      } catch (err) {
        this.#result(false);
        this.#log(`telegram: sendMessage failed: ${this.#redact(errText(err))}`);
      }
    }
  }

  #result(ok: boolean): void {
    if (!ok) this.failures++;
    try {
      this.#opts.onSent?.(ok);
    } catch {
      // a metrics hook must not break sending
    }
  }

  async #send(text: string): Promise<void> {
    const res = await this.#fetch(`${this.#base}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat_id: this.#s.TELEGRAM_CHAT_ID, text, disable_web_page_preview: true }),
      signal: AbortSignal.timeout(this.#opts.requestTimeoutMs ?? 10_000),
    });
    const body = (await res.json().catch(() => ({}))) as {
      ok?: unknown;
      description?: unknown;
      parameters?: { retry_after?: unknown };
    };
    if (res.status === 429) {
      const after = Number(body.parameters?.retry_after ?? res.headers.get('retry-after') ?? 1);
      throw new RateLimited(Number.isFinite(after) && after >= 0 ? after : 1);
    }
    if (!res.ok || body.ok !== true) {
      const why = typeof body.description === 'string' ? `: ${body.description.slice(0, 200)}` : '';
      throw new Error(`HTTP ${res.status}${why}`);
    }
  }

  /**
   * One getUpdates round: answers commands from the configured chat, ignores every other chat,
   * and moves the offset past everything it saw. Returns the number of updates read.
   */
  async pollOnce(signal?: AbortSignal): Promise<number> {
    if (!this.enabled) return 0;
    const timeout = this.#opts.pollTimeoutSeconds ?? 25;
    const q = new URLSearchParams({
      offset: String(this.#offset),
      timeout: String(timeout),
      allowed_updates: JSON.stringify(['message']),
    });
    const limit = AbortSignal.timeout((timeout + 10) * 1000);
    const res = await this.#fetch(`${this.#base}/getUpdates?${q}`, {
      signal: signal === undefined ? limit : AbortSignal.any([signal, limit]),
    });
    const body = (await res.json().catch(() => ({}))) as { ok?: unknown; result?: unknown };
    if (!res.ok || body.ok !== true || !Array.isArray(body.result)) throw new Error(`getUpdates HTTP ${res.status}`);
    const updates = body.result as Update[];
    for (const u of updates) {
      if (typeof u.update_id === 'number') this.#offset = Math.max(this.#offset, u.update_id + 1);
      await this.#command(u);
    }
    return updates.length;
  }

  async #command(u: Update): Promise<void> {
    const chat = u.message?.chat?.id;
    const text = u.message?.text;
    if (chat === undefined || String(chat) !== this.#s.TELEGRAM_CHAT_ID) return; // not our chat: ignored
    if (typeof text !== 'string' || !text.startsWith('/')) return;
    const cmds = this.#opts.commands;
    if (cmds === undefined) return;
    const name = text.trim().split(/\s+/)[0]!.split('@')[0]!.toLowerCase();
    let reply: string;
    try {
      switch (name) {
        case '/status':
          reply = cmds.status();
          break;
        case '/portfolio':
          reply = cmds.portfolio();
          break;
        case '/positions':
          reply = cmds.positions();
          break;
        case '/stop':
          reply = await cmds.stop();
          break;
        default:
          reply = COMMAND_HELP;
      }
    } catch (err) {
      this.#log(`telegram: command ${name} failed: ${this.#redact(errText(err))}`);
      reply = `${name} failed`;
    }
    this.notify(reply);
  }

  /** Starts the periodic summary (when the market observer is on) and the command long-poll. */
  start(): void {
    if (!this.enabled || this.#running) return;
    this.#running = true;
    if (this.#s.TELEGRAM_ENABLE_MARKET_OBSERVER) this.#armSummary();
    if (this.#opts.commands !== undefined) this.#pollLoop = this.#poll();
  }

  #armSummary(): void {
    this.#summaryTimer = this.#timers.setTimeout(() => {
      if (!this.#running) return;
      try {
        this.notify(this.#summaryText());
      } catch (err) {
        this.#log(`telegram: summary failed: ${this.#redact(errText(err))}`);
      }
      this.#armSummary();
    }, this.#s.TELEGRAM_SUMMARY_INTERVAL_SECONDS * 1000);
  }

  #summaryText(): string {
    if (this.#opts.summary !== undefined) return this.#opts.summary();
    const lines = [`Summary: ${this.#opened} fills opened, ${this.#closed} closed since the last summary`];
    this.#opened = 0;
    this.#closed = 0;
    const held = [...this.#held].map(
      ([s, h]) => `${s} ${h.side === 1 ? 'LONG' : 'SHORT'} ${fmt(h.qty)} @ ${fmt(h.entry)}`,
    );
    lines.push(held.length > 0 ? `open: ${held.join(', ')}` : 'open: none');
    if (this.#opts.commands !== undefined) lines.push(this.#opts.commands.portfolio());
    return lines.join('\n');
  }

  async #poll(): Promise<void> {
    let failures = 0;
    while (this.#running) {
      this.#pollAbort = new AbortController();
      try {
        await this.pollOnce(this.#pollAbort.signal);
        failures = 0;
      } catch (err) {
        if (!this.#running) return;
        this.pollFailures++;
        failures++;
        this.#log(`telegram: getUpdates failed: ${this.#redact(errText(err))}`);
        const wait = backoffDelay(failures - 1, 1000, 30_000);
        await new Promise<void>((resolve) => {
          this.#backoffTimer = this.#timers.setTimeout(resolve, wait);
          this.#pollAbort?.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    }
  }

  /** Stops the summary and the poll, then waits (bounded by the request timeout) for queued sends. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#summaryTimer !== undefined) this.#timers.clearTimeout(this.#summaryTimer);
    if (this.#backoffTimer !== undefined) this.#timers.clearTimeout(this.#backoffTimer);
    this.#pollAbort?.abort();
    await this.#pollLoop?.catch(() => {});
    await this.flush();
  }

  #redact(text: string): string {
    return redactText(text, [this.#s.TELEGRAM_BOT_TOKEN]);
  }

  #log(line: string): void {
    try {
      this.#opts.log?.(line);
    } catch {
      // logging must never break trading
    }
  }
}

function errText(e: unknown): string {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? ` (${e.cause.message})` : '';
    return `${e.message}${cause}`;
  }
  return String(e);
}
