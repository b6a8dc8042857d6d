import { randomUUID } from 'node:crypto';
import type { Bar } from '../../pipelines/model/index.ts';
import type { CandleView } from './dashboard-view.ts';
import { candleViews } from './views.ts';

/**
 * GET /dashboard's body, serialised once per state instead of once per request. The view has two
 * parts (views.ts): the state part — everything derived from the engine's record — changes only
 * when its key changes (engine version, desk audit revision, agents' statuses), so its JSON is
 * built then and kept as bytes; the clock part (time, uptime, probes, reports, /healthz figures)
 * is small and built per request. The body is the clock part's members followed by the kept bytes:
 * one JSON object, never older than the state it was asked in.
 */
export class DashboardBody {
  #key: string | null = null;
  /** the state part's members as bytes, after the clock part's: `,"portfolio":…}` */
  #tail: Buffer = Buffer.from('}');
  /** how many times the state part was built (tests and benches read it) */
  builds = 0;

  /** `state` gives the state part as an object or as its JSON bytes (CandleBytes.join) */
  read(key: string, state: () => object | Buffer, clock: () => object): Buffer {
    if (key !== this.#key) {
      const built = state();
      // bytes, not a string: a string with any non-ASCII character is re-encoded at every send
      const bytes = Buffer.isBuffer(built) ? built : Buffer.from(JSON.stringify(built));
      this.#tail = bytes.length > 2 ? Buffer.concat([COMMA, bytes.subarray(1)]) : Buffer.from('}');
      this.#key = key;
      this.builds++;
    }
    const head = JSON.stringify(clock());
    return Buffer.concat([Buffer.from(head.slice(0, -1)), this.#tail]);
  }
}

const COMMA = Buffer.from(',');

/**
 * Each symbol's candles as JSON bytes, made again only when that symbol has a new bar: most of
 * the state's bytes, and the part that changes least (one symbol per bar). While the rest of the
 * state is serialised, `mark` stands in for them with a marker no data can hold (a per-process
 * nonce); `join` puts the kept bytes in its place.
 */
export class CandleBytes {
  readonly #nonce = randomUUID();
  readonly #kept = new Map<string, { last: Bar | undefined; length: number; bytes: Buffer }>();
  #asked = new Map<string, readonly Bar[]>();
  /** how many symbols' candles were serialised (tests read it) */
  made = 0;

  readonly mark = (symbol: string, bars: readonly Bar[]): CandleView[] => {
    this.#asked.set(symbol, bars);
    return this.#marker(symbol) as unknown as CandleView[];
  };

  #marker(symbol: string): string {
    return `candles ${this.#nonce} ${symbol}`;
  }

  #bytes(symbol: string, bars: readonly Bar[]): Buffer {
    const kept = this.#kept.get(symbol);
    // the projections push a new bar object per bar and trim the front: last and length say all
    if (kept !== undefined && kept.last === bars.at(-1) && kept.length === bars.length) return kept.bytes;
    const bytes = Buffer.from(JSON.stringify(candleViews(symbol, bars)));
    this.#kept.set(symbol, { last: bars.at(-1), length: bars.length, bytes });
    this.made++;
    return bytes;
  }

  /** `state` serialised, each marker replaced by its symbol's candles */
  join(state: object): Buffer {
    const json = JSON.stringify(state);
    const places = [...this.#asked]
      .map(([symbol, bars]) => ({ symbol, bars, at: json.indexOf(JSON.stringify(this.#marker(symbol))) }))
      .filter((p) => p.at >= 0)
      .sort((a, b) => a.at - b.at);
    const parts: Buffer[] = [];
    let from = 0;
    for (const p of places) {
      parts.push(Buffer.from(json.slice(from, p.at)), this.#bytes(p.symbol, p.bars));
      from = p.at + JSON.stringify(this.#marker(p.symbol)).length;
    }
    parts.push(Buffer.from(json.slice(from)));
    this.#asked = new Map();
    for (const symbol of this.#kept.keys()) if (!places.some((p) => p.symbol === symbol)) this.#kept.delete(symbol);
    return Buffer.concat(parts);
  }
}
