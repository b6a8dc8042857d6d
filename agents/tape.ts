import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { AgentOpinion } from '../pipelines/model/index.ts';
import type { AgentContext, AgentPort } from '../pipelines/ports.ts';
import { SapphireError } from '../pipelines/errors.ts';

export type TapeMode = 'replay' | 'record' | 'call-through';

const Opinion = z.object({
  agent: z.string(),
  direction: z.union([z.literal(-1), z.literal(0), z.literal(1)]),
  confidence: z.number().finite(),
  riskScore: z.number().finite(),
  accepted: z.boolean(),
  blocksEntry: z.boolean(),
  summary: z.string(),
});

const Entry = z.object({ agent: z.string(), symbol: z.string(), time: z.number().int(), opinion: Opinion });
type Entry = z.infer<typeof Entry>;

const keyOf = (agent: string, symbol: string, time: number): string => `${agent}|${symbol}|${time}`;

/** One line per reply, keys in a fixed order, so equal tapes are equal bytes. */
function line(e: Entry): string {
  const o = e.opinion;
  return `${JSON.stringify({
    agent: e.agent,
    symbol: e.symbol,
    time: e.time,
    opinion: {
      agent: o.agent,
      direction: o.direction,
      confidence: o.confidence,
      riskScore: o.riskScore,
      accepted: o.accepted,
      blocksEntry: o.blocksEntry,
      summary: o.summary,
    },
  })}\n`;
}

/**
 * A JSONL tape of agent replies keyed by agent + symbol + bar time. Replies are appended as they
 * arrive (a crash loses nothing); `compact()` rewrites the file sorted by time, symbol, agent so a
 * recording is byte-identical whatever order the calls finished in. Replaying a tape gives the
 * exact opinions recorded (JSON round-trips doubles exactly), so backtests reproduce bit for bit.
 */
export class AgentTape {
  private readonly entries = new Map<string, Entry>();

  /** `fresh`: start empty (record mode) instead of loading the file. */
  constructor(
    readonly path: string,
    fresh = false,
  ) {
    if (fresh) {
      writeFileSync(path, '');
      return;
    }
    if (!existsSync(path)) return;
    const lines = readFileSync(path, 'utf8').split('\n');
    lines.forEach((text, i) => {
      if (text.trim() === '') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new SapphireError('DATA_FILE_INVALID', `agent tape ${path} line ${i + 1} is not JSON`);
      }
      const r = Entry.safeParse(parsed);
      if (!r.success)
        throw new SapphireError('DATA_FILE_INVALID', `agent tape ${path} line ${i + 1} is not a tape entry`);
      this.entries.set(keyOf(r.data.agent, r.data.symbol, r.data.time), r.data);
    });
  }

  get size(): number {
    return this.entries.size;
  }

  get(agent: string, symbol: string, time: number): AgentOpinion | undefined {
    return this.entries.get(keyOf(agent, symbol, time))?.opinion;
  }

  put(agent: string, symbol: string, time: number, opinion: AgentOpinion): void {
    const e: Entry = { agent, symbol, time, opinion: Opinion.parse(opinion) };
    this.entries.set(keyOf(agent, symbol, time), e);
    appendFileSync(this.path, line(e));
  }

  /** Rewrites the tape sorted (time, symbol, agent), one line per key. */
  compact(): void {
    const all = [...this.entries.values()].sort(
      (a, b) =>
        a.time - b.time ||
        (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0) ||
        (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0),
    );
    writeFileSync(this.path, all.map(line).join(''));
  }
}

/**
 * An agent answered from a tape.
 * - replay: the tape only, synchronously; a miss throws AGENT_TAPE_MISS (an AgentFault in the
 *   stage: the decision goes on without this agent). No model is ever called.
 * - record: every call goes to `inner` and its reply is written.
 * - call-through: a hit is replayed; a miss calls `inner` and records the reply.
 */
export function tapedAgent(name: string, tape: AgentTape, mode: TapeMode, inner?: AgentPort): AgentPort {
  if (mode !== 'replay' && inner === undefined) {
    throw new SapphireError('NOT_CONFIGURED', `agent ${name}: tape mode ${mode} needs an endpoint to call`);
  }
  const callAndRecord = async (ctx: AgentContext): Promise<AgentOpinion> => {
    const op = await inner!.opinion(ctx);
    tape.put(name, ctx.symbol, ctx.time, op);
    return op;
  };
  return {
    name,
    opinion(ctx: AgentContext): Promise<AgentOpinion> | AgentOpinion {
      if (mode === 'record') return callAndRecord(ctx);
      const hit = tape.get(name, ctx.symbol, ctx.time);
      if (hit !== undefined) return hit;
      if (mode === 'replay') {
        throw new SapphireError(
          'AGENT_TAPE_MISS',
          `${name} ${ctx.symbol} ${new Date(ctx.time).toISOString()} is not on the tape ${tape.path}`,
        );
      }
      return callAndRecord(ctx);
    },
  };
}
