import { Observable, type Subscription } from 'rxjs';
import { intervalToMs, makeBar, type Bar } from '../../pipelines/model/index.ts';
import type { MarketDataPort, Timers } from '../../pipelines/ports.ts';
import type { Kline } from './schemas.ts';
import { backgroundTimers } from '../../runtime/timers.ts';

/** what the port needs from the live stream (AsterMarketStream) */
export interface ClosedBarStream {
  readonly bars: Observable<Bar>;
  seed(symbol: string, lastOpenTime: number): void;
  start(): void;
  stop(): void;
}

export interface AsterMarketPortOptions {
  readonly symbols: readonly string[];
  readonly interval: string;
  /** closed bars of history per symbol before the live ones */
  readonly warmupBars: number;
  /** REST klines (AsterRestClient.klines) */
  readonly klines: (q: { symbol: string; interval: string; endTime?: number; limit: number }) => Promise<Kline[]>;
  /** the exchange's clock (AsterRestClient.serverNow): a kline is closed once its end has passed */
  readonly serverNow: () => number;
  readonly stream: ClosedBarStream;
  readonly scheduler?: Timers;
  /** how long a live bar waits for the other symbols' bars of the same time; default 5 s */
  readonly alignGraceMs?: number;
}

const PAGE = 1500;

/**
 * MarketDataPort over Aster: `warmupBars` closed bars per symbol from REST klines, merged in time
 * order (ties in symbol order), then the live closed klines of the stream, seeded with the last
 * warm-up bar so the stream fills any gap at the seam over REST, and with every bar at or before
 * the seam dropped. Live bars of different symbols are released in time order once every symbol
 * has reached that time, or after the grace period (a symbol without a bar does not block others).
 */
export function asterMarketPort(opts: AsterMarketPortOptions): MarketDataPort {
  const intervalMs = intervalToMs(opts.interval);
  const rank = new Map(opts.symbols.map((s, i) => [s, i]));
  const order = (a: Bar, b: Bar): number => a.time - b.time || (rank.get(a.symbol) ?? 0) - (rank.get(b.symbol) ?? 0);
  const scheduler = opts.scheduler ?? backgroundTimers;
  const grace = opts.alignGraceMs ?? 5000;

  async function warmup(symbol: string): Promise<Bar[]> {
    const now = opts.serverNow();
    const out: Bar[] = [];
    let endTime: number | undefined;
    for (let page = 0; page < 1000 && out.length < opts.warmupBars; page++) {
      const want = Math.min(PAGE, opts.warmupBars - out.length + 1);
      const rows = await opts.klines({ symbol, interval: opts.interval, limit: want, ...(endTime ? { endTime } : {}) });
      const closed = rows
        .filter((r) => r.openTime + intervalMs <= now && (endTime === undefined || r.openTime <= endTime))
        .map((r) => makeBar(symbol, r.openTime, intervalMs, r.open, r.high, r.low, r.close, r.volume, r.flow));
      const older = closed.filter((b) => out.length === 0 || b.openTime < out[0]!.openTime);
      if (older.length === 0) break;
      out.unshift(...older);
      endTime = older[0]!.openTime - 1;
      if (rows.length < want) break;
    }
    return out.slice(-opts.warmupBars);
  }

  return {
    bars(): Observable<Bar> {
      return new Observable<Bar>((subscriber) => {
        const lastEmitted = new Map<string, number>();
        const reached = new Map<string, number>();
        let pending: Bar[] = [];
        let live = false;
        let closed = false;
        const timers = new Set<unknown>();
        let sub: Subscription | null = null;

        const emit = (b: Bar): void => {
          const last = lastEmitted.get(b.symbol);
          if (last !== undefined && b.openTime <= last) return;
          lastEmitted.set(b.symbol, b.openTime);
          subscriber.next(b);
        };
        const release = (upTo: number): void => {
          const ready = pending.filter((b) => b.time <= upTo).sort(order);
          pending = pending.filter((b) => b.time > upTo);
          for (const b of ready) emit(b);
        };
        const onLive = (b: Bar): void => {
          if (!rank.has(b.symbol)) return;
          pending.push(b);
          reached.set(b.symbol, Math.max(reached.get(b.symbol) ?? -Infinity, b.time));
          if (!live) return;
          let all = Infinity;
          for (const s of opts.symbols) all = Math.min(all, reached.get(s) ?? -Infinity);
          if (all > -Infinity) release(all);
          if (pending.some((p) => p.time === b.time)) {
            const h = scheduler.setTimeout(() => {
              timers.delete(h);
              if (!closed) release(b.time);
            }, grace);
            timers.add(h);
          }
        };

        void (async () => {
          try {
            const perSymbol = await Promise.all(opts.symbols.map((s) => warmup(s)));
            if (closed) return;
            const all = perSymbol.flat().sort(order);
            for (const b of all) emit(b);
            for (const s of opts.symbols) {
              const last = lastEmitted.get(s);
              if (last !== undefined) opts.stream.seed(s, last);
            }
            sub = opts.stream.bars.subscribe({ next: onLive, error: (e: unknown) => subscriber.error(e) });
            live = true;
            opts.stream.start();
          } catch (e) {
            subscriber.error(e);
          }
        })();

        return () => {
          closed = true;
          for (const h of timers) scheduler.clearTimeout(h);
          sub?.unsubscribe();
          opts.stream.stop();
        };
      });
    },
  };
}
