import { appendFileSync, closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { AgentOpinion, Direction } from '../pipelines/model/index.ts';
import type { AgentContext, AgentPort } from '../pipelines/ports.ts';
import { SapphireError } from '../pipelines/errors.ts';
import { AgentError } from '../operators/agents/agent-error.ts';
import type { RemoteAgent } from './gateway.ts';

export type TapeMode = 'replay' | 'record' | 'call-through';

export const TAPE_FORMAT = 'sapphire-agent-tape';
export const TAPE_VERSION = 3;

type Identity = Readonly<Record<string, string | number>>;

const Header = z.object({
  tape: z.literal(TAPE_FORMAT),
  version: z.literal(TAPE_VERSION),
  agents: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.number()]))),
});
type Header = z.infer<typeof Header>;

const Key = {
  agent: z.string(),
  symbol: z.string(),
  time: z.number().int(),
  direction: z.union([z.literal(-1), z.literal(0), z.literal(1)]),
  strategy: z.string().min(1),
};
const ReplyEntry = z.object({ ...Key, reply: z.unknown().refine((v) => v !== undefined, 'reply is missing') });
const FaultEntry = z.object({ ...Key, fault: z.string().min(1), detail: z.string() });
const Entry = z.union([ReplyEntry, FaultEntry]);
type Entry = z.infer<typeof Entry>;

/** What a tape holds for one ask: the validated raw reply, or the fault the call ended in. */
export type TapedOutcome = { reply: unknown } | { fault: string; detail: string };

/** Which ask an entry answers: the agent, and the context's symbol, bar, proposal and proposing strategy. */
export type TapeAsk = Pick<AgentContext, 'symbol' | 'time' | 'proposedDirection' | 'strategy'>;

const keyOf = (agent: string, symbol: string, time: number, direction: number, strategy: string): string =>
  `${agent}|${symbol}|${time}|${direction}|${strategy}`;

/** One line per entry, keys in a fixed order, so equal tapes are equal bytes. */
function line(e: Entry): string {
  const head = { agent: e.agent, symbol: e.symbol, time: e.time, direction: e.direction, strategy: e.strategy };
  const body = 'fault' in e ? { fault: e.fault, detail: e.detail } : { reply: e.reply };
  return `${JSON.stringify({ ...head, ...body })}\n`;
}

const headerLine = (agents: Record<string, Identity>): string =>
  `${JSON.stringify({ tape: TAPE_FORMAT, version: TAPE_VERSION, agents })}\n`;

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A JSONL tape of what remote agents answered, keyed by agent + symbol + bar time + proposed
 * direction + the strategy that proposed it (with several STRATEGIES, two strategies proposing on
 * one bar get separate taped opinions). The first line is a header naming each agent's identity (model, endpoint host
 * without credentials, prompt/contract version, context, horizon); a tape recorded for another
 * identity is refused rather than replayed as if it fit. Entries hold the validated RAW reply, so
 * judging (thresholds) happens at replay, or the fault the call ended in (timeout, deadline,
 * http-429 …), replayed as that same fault. Entries are appended as they arrive; a torn last line
 * (a crash mid-write) is cut on open like the journal's; `compact()` rewrites the file sorted so a
 * recording is byte-identical whatever order the calls finished in.
 */
export class AgentTape {
  private readonly entries = new Map<string, Entry>();
  private readonly agents: Record<string, Identity>;

  /**
   * replay: the file must exist and is never written; record: the file must not hold a tape
   * already; call-through: an existing tape is extended, a missing one started.
   */
  constructor(
    readonly path: string,
    agents: Record<string, Identity>,
    mode: TapeMode,
  ) {
    this.agents = agents;
    if (mode === 'replay' && !existsSync(path)) {
      throw new SapphireError('NOT_CONFIGURED', `AGENT_TAPE=${path} does not exist: record a tape first`);
    }
    const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (mode === 'record' && text.trim() !== '') {
      throw new SapphireError(
        'NOT_CONFIGURED',
        `AGENT_TAPE=${path} already holds a tape: AGENT_TAPE_MODE=record refuses to overwrite it ` +
          '(delete the file, choose another AGENT_TAPE, or use call-through to fill its gaps)',
      );
    }
    if (text.trim() === '') {
      writeFileSync(path, headerLine(agents));
      return;
    }
    this.load(text);
  }

  private load(text: string): void {
    const path = this.path;
    let body = text;
    if (!text.endsWith('\n')) {
      // a crash tore the last line: it was never acted on (the decision waits for the write)
      const keep = text.lastIndexOf('\n') + 1;
      const fd = openSync(path, 'r+');
      try {
        ftruncateSync(fd, Buffer.byteLength(text.slice(0, keep)));
      } finally {
        closeSync(fd);
      }
      body = text.slice(0, keep);
      if (body === '') {
        writeFileSync(path, headerLine(this.agents));
        return;
      }
    }
    const lines = body.split('\n');
    const parse = (i: number): unknown => {
      try {
        return JSON.parse(lines[i]!) as unknown;
      } catch {
        throw new SapphireError('DATA_FILE_INVALID', `agent tape ${path} line ${i + 1} is not JSON`);
      }
    };
    const first = parse(0);
    const version = (first as { tape?: unknown; version?: unknown } | null)?.version;
    if ((first as { tape?: unknown } | null)?.tape === TAPE_FORMAT && typeof version === 'number' && version < 3) {
      // v2 keys lack the proposing strategy: guessing it could replay one strategy's opinion for another's entry
      throw new SapphireError(
        'DATA_FILE_INVALID',
        `agent tape ${path} is a v${version} tape, keyed without the proposing strategy: ` +
          `record it again (AGENT_TAPE_MODE=record, or sapphire agents record) to get a v${TAPE_VERSION} tape`,
      );
    }
    const header = Header.safeParse(first);
    if (!header.success) {
      throw new SapphireError(
        'DATA_FILE_INVALID',
        `agent tape ${path} line 1 is not a ${TAPE_FORMAT} v${TAPE_VERSION} header (an older tape?): record it again`,
      );
    }
    this.checkIdentity(header.data);
    for (let i = 1; i < lines.length; i++) {
      if (lines[i]!.trim() === '') continue;
      const r = Entry.safeParse(parse(i));
      if (!r.success) {
        const issue = r.error.issues[0];
        throw new SapphireError(
          'DATA_FILE_INVALID',
          `agent tape ${path} line ${i + 1} is not a tape entry (${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''})`,
        );
      }
      const e = r.data;
      this.entries.set(keyOf(e.agent, e.symbol, e.time, e.direction, e.strategy), e);
    }
  }

  /** A tape answers only for the agents it was recorded with, as they were configured then. */
  private checkIdentity(header: Header): void {
    for (const [agent, now] of Object.entries(this.agents)) {
      const then = header.agents[agent];
      if (then === undefined) continue;
      for (const field of new Set([...Object.keys(now), ...Object.keys(then)])) {
        // unset in the settings (a replay needs no model name): the tape says which it was
        if (now[field] === '') continue;
        if (now[field] !== then[field]) {
          throw new SapphireError(
            'DATA_FILE_INVALID',
            `agent tape ${this.path} was recorded for ${agent} ${field}=${String(then[field])}, ` +
              `the settings give ${field}=${String(now[field])}: record a tape for these settings`,
          );
        }
      }
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get(agent: string, ask: TapeAsk): TapedOutcome | undefined {
    return this.entries.get(keyOf(agent, ask.symbol, ask.time, ask.proposedDirection, ask.strategy));
  }

  put(agent: string, ask: TapeAsk, outcome: TapedOutcome): void {
    const { symbol, time, strategy } = ask;
    const direction: Direction = ask.proposedDirection;
    const e: Entry = { agent, symbol, time, direction, strategy, ...outcome } as Entry;
    this.entries.set(keyOf(agent, symbol, time, direction, strategy), e);
    appendFileSync(this.path, line(e));
  }

  /** Rewrites the tape: header, then one line per key sorted by time, symbol, agent, direction, strategy. */
  compact(): void {
    const all = [...this.entries.values()].sort(
      (a, b) =>
        a.time - b.time ||
        cmp(a.symbol, b.symbol) ||
        cmp(a.agent, b.agent) ||
        a.direction - b.direction ||
        cmp(a.strategy, b.strategy),
    );
    writeFileSync(this.path, headerLine(this.agents) + all.map(line).join(''));
  }
}

export interface TapedAgentOptions<R> {
  /** asks the model (through the gateway); absent in replay mode */
  fetch?: (ctx: AgentContext) => Promise<R>;
  /**
   * True while the live service replays its journal: the tape alone answers then and a miss is a
   * `replay-miss` fault that refuses the entry, because the recorded run never reached that decision.
   */
  replaying?: () => boolean;
}

/**
 * A remote agent answered from a tape; every outcome is judged by `remote.judge` at the time of
 * the answer, so thresholds apply to taped replies too.
 * - replay: the tape only, synchronously; a miss throws AGENT_TAPE_MISS (an AgentFault in the
 *   stage). No model is ever called. A taped fault is thrown again as the same fault.
 * - record / call-through: a hit is replayed; a miss asks the model and tapes the validated reply
 *   or the fault it ended in (record starts from an empty tape).
 */
export function tapedAgent<R>(
  remote: RemoteAgent<R>,
  tape: AgentTape,
  mode: TapeMode,
  options: TapedAgentOptions<R> = {},
): AgentPort {
  const name = remote.name;
  const { fetch, replaying } = options;
  if (mode !== 'replay' && fetch === undefined) {
    throw new SapphireError('NOT_CONFIGURED', `agent ${name}: tape mode ${mode} needs an endpoint to call`);
  }
  const parsed = new WeakMap<object, R>();
  const fromTape = (hit: TapedOutcome, ctx: AgentContext): AgentOpinion => {
    if ('fault' in hit) throw new AgentError(hit.fault, `taped: ${hit.detail}`);
    let reply = typeof hit === 'object' ? parsed.get(hit) : undefined;
    if (reply === undefined) {
      reply = remote.parse(hit.reply);
      parsed.set(hit, reply);
    }
    return remote.judge(reply, ctx);
  };
  const callAndRecord = async (ctx: AgentContext): Promise<AgentOpinion> => {
    let reply: R;
    try {
      reply = await fetch!(ctx);
    } catch (error) {
      const e = error instanceof AgentError ? error : new AgentError('error', String(error));
      tape.put(name, ctx, { fault: e.fault, detail: e.message });
      throw e;
    }
    tape.put(name, ctx, { reply });
    return remote.judge(reply, ctx);
  };
  return {
    name,
    opinion(ctx: AgentContext): Promise<AgentOpinion> | AgentOpinion {
      const hit = tape.get(name, ctx);
      if (hit !== undefined) return fromTape(hit, ctx);
      const when = `${new Date(ctx.time).toISOString()} (${ctx.strategy})`;
      if (mode === 'replay') {
        throw new SapphireError('AGENT_TAPE_MISS', `${name} ${ctx.symbol} ${when} is not on the tape ${tape.path}`);
      }
      if (replaying?.() === true) {
        throw new AgentError(
          'replay-miss',
          `${name} ${ctx.symbol} ${when}: no taped outcome while replaying the journal`,
        );
      }
      return callAndRecord(ctx);
    },
  };
}
