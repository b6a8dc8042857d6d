import { describe, expect, it } from 'vitest';
import type { AgentContext } from '../../../pipelines/ports.ts';
import type { AgentOpinion } from '../../../pipelines/model/index.ts';
import { embeddedThesisAgent } from '../../../operators/agents/embedded.ts';
import { writeThesis } from '../../../operators/agents/thesis.kernel.ts';
import { parseThesisReply, judgeThesis } from '../../../operators/agents/replies.ts';
import { fixtureColumns } from '../../kit/fixture-bars.ts';

/** A context from real fixture bars ending at index t (ATR as the mean true range of 14 bars). */
function contextAt(symbol: 'BTCUSDT' | 'ETHUSDT', t: number, proposed: -1 | 0 | 1): AgentContext {
  const c = fixtureColumns(symbol);
  let tr = 0;
  for (let i = t - 13; i <= t; i++) {
    tr += Math.max(
      c.high[i]! - c.low[i]!,
      Math.abs(c.high[i]! - c.close[i - 1]!),
      Math.abs(c.low[i]! - c.close[i - 1]!),
    );
  }
  let ss = 0;
  for (let i = t - 287; i <= t; i++) ss += Math.log(c.close[i]! / c.close[i - 1]!) ** 2;
  return {
    symbol,
    time: c.openTime[t]! + 300_000,
    price: c.close[t]!,
    change24h: c.close[t]! / c.close[t - 288]! - 1,
    volume: c.volume[t]!,
    atr: tr / 14,
    volatility: Math.sqrt((ss / 288) * 288 * 365),
    closes: Array.from(c.close.subarray(t - 127, t + 1)),
    position: 0,
    proposedDirection: proposed,
    strategy: 'momentum',
  };
}

describe('writeThesis on real market context', () => {
  it('writes a valid reply with a real sentence, deterministically', () => {
    for (let t = 300; t < 1150; t += 50) {
      const ctx = contextAt('BTCUSDT', t, 1);
      const reply = writeThesis(ctx);
      expect(parseThesisReply(reply)).toEqual(reply);
      expect(writeThesis(ctx)).toEqual(reply);
      expect(reply.thesis).toMatch(/^BTCUSDT at \d+(\.\d+)? trends (up|down|sideways): .+ risk is 0\.\d\d and .+\.$/);
    }
  });

  it('takes the side of a clear recent trend', () => {
    const c = fixtureColumns('ETHUSDT').close;
    let checked = 0;
    for (let t = 300; t < 1150; t++) {
      const hour = c[t]! / c[t - 12]! - 1;
      const window = c[t]! / c[t - 127]! - 1;
      const day = c[t]! / c[t - 288]! - 1;
      if (Math.sign(hour) !== Math.sign(window) || Math.sign(hour) !== Math.sign(day) || Math.abs(hour) < 0.01)
        continue;
      const r = writeThesis(contextAt('ETHUSDT', t, 1));
      expect(r.side).toBe(hour > 0 ? 'buy' : 'sell');
      expect(r.confidence).toBeGreaterThan(0.5 + 0.5 * 0.15);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('rates a trade against the 24 h move as riskier than one with it', () => {
    const c = fixtureColumns('BTCUSDT').close;
    let checked = 0;
    for (let t = 300; t < 1150; t += 10) {
      const day = c[t]! / c[t - 288]! - 1;
      if (Math.abs(day) < 0.01) continue;
      const withIt = writeThesis(contextAt('BTCUSDT', t, day > 0 ? 1 : -1));
      const against = writeThesis(contextAt('BTCUSDT', t, day > 0 ? -1 : 1));
      expect(against.risk_score).toBeGreaterThan(withIt.risk_score);
      expect(withIt.risk_score).toBeGreaterThanOrEqual(0.4);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('agrees with the momentum proposal in words only when its side matches', () => {
    const ctx = contextAt('BTCUSDT', 600, 1);
    const r = writeThesis(ctx);
    const op = judgeThesis('thesis-rules', r, 0.4);
    if (op.direction === 1) expect(r.thesis).toContain('supports the long proposal');
    else if (op.direction === -1) expect(r.thesis).toContain('contradicts the long proposal');
    else expect(r.thesis).toContain('not supported');
  });
});

describe('embedded thesis agent', () => {
  it('reads and serialises its summary like a plain opinion, written only when read', () => {
    const ctx = contextAt('ETHUSDT', 700, -1);
    const op = embeddedThesisAgent({ FINGPT_MIN_RISK_SCORE: 0.4 }).opinion(ctx) as AgentOpinion;
    const reply = writeThesis(ctx);
    const plain = judgeThesis('thesis-rules', reply, 0.4);
    expect(op.summary).toBe(reply.thesis);
    expect(JSON.parse(JSON.stringify(op))).toEqual(JSON.parse(JSON.stringify(plain)));
    expect(JSON.stringify({ opinions: [op] })).toContain(reply.thesis);
  });
});
