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
  /** the state part's JSON without its opening brace: `"portfolio":…}` */
  #tail: Buffer = Buffer.from('}');
  /** how many times the state part was built (tests and benches read it) */
  builds = 0;

  read(key: string, state: () => object, clock: () => object): Buffer {
    if (key !== this.#key) {
      const json = JSON.stringify(state());
      // bytes, not a string: a string with any non-ASCII character is re-encoded at every send
      this.#tail = Buffer.from(json.length > 2 ? `,${json.slice(1)}` : '}');
      this.#key = key;
      this.builds++;
    }
    const head = JSON.stringify(clock());
    return Buffer.concat([Buffer.from(head.slice(0, -1)), this.#tail]);
  }
}
