import { describe, expect, it } from 'vitest';
import type { AgentOpinion } from '../../../pipelines/model/index.ts';
import { judgeEntry, type ConsensusInput } from '../../../operators/consensus/consensus.kernel.ts';

const op = (agent: string, o: Partial<AgentOpinion> = {}): AgentOpinion => ({
  agent,
  direction: 1,
  confidence: 0.8,
  riskScore: 0.5,
  accepted: true,
  blocksEntry: false,
  summary: '',
  ...o,
});

const base = (opinions: AgentOpinion[], collaborative = false): ConsensusInput => ({
  direction: 1,
  source: 'momentum',
  strength: 0.75,
  opinions,
  collaborative,
  minAgentConfidence: 0.7,
  riskThreshold: 0.7,
});

const failed = (x: ReturnType<typeof judgeEntry>): string[] => x.gates.filter((g) => !g.passed).map((g) => g.gate);

describe('judgeEntry', () => {
  it('lets momentum decide alone when there are no opinions', () => {
    const r = judgeEntry(base([]));
    expect(r).toEqual({ enter: true, confidence: 0.75, gates: [] });
  });

  it('records every gate of every agent, passed or not', () => {
    const r = judgeEntry(base([op('a'), op('b', { direction: 0, confidence: 0.5 })]));
    expect(r.gates.map((g) => g.gate)).toEqual([
      'momentum',
      'a:blocks-entry',
      'a:accepted',
      'a:confidence',
      'a:risk',
      'a:agrees',
      'b:blocks-entry',
      'b:accepted',
      'b:confidence',
      'b:risk',
      'b:agrees',
      'support',
    ]);
    expect(r.enter).toBe(true);
    expect(r.confidence).toBe(0.8);
    expect(r.gates.find((g) => g.gate === 'b:confidence')).toEqual({
      gate: 'b:confidence',
      passed: false,
      value: 0.5,
      limit: 0.7,
    });
  });

  it('an anomaly block vetoes', () => {
    const r = judgeEntry(base([op('a'), op('f', { blocksEntry: true })]));
    expect(r.enter).toBe(false);
    expect(failed(r)).toEqual(['f:blocks-entry']);
  });

  it('a counting agent against momentum vetoes; a non-counting one does not', () => {
    expect(judgeEntry(base([op('a'), op('b', { direction: -1 })])).enter).toBe(false);
    expect(judgeEntry(base([op('a'), op('b', { direction: -1, confidence: 0.6 })])).enter).toBe(true);
    expect(judgeEntry(base([op('a'), op('b', { direction: -1, accepted: false })])).enter).toBe(true);
  });

  it('MIN_LLM_CONFIDENCE: without a confident agreeing agent there is no support', () => {
    const r = judgeEntry(base([op('a', { confidence: 0.69 })]));
    expect(r.enter).toBe(false);
    expect(failed(r)).toEqual(['a:confidence', 'support']);
    expect(judgeEntry(base([op('a', { confidence: 0.7 })])).enter).toBe(true);
  });

  it('RISK_THRESHOLD: a counting agent reporting more risk vetoes', () => {
    const r = judgeEntry(base([op('a', { riskScore: 0.71 }), op('b')]));
    expect(r.enter).toBe(false);
    expect(failed(r)).toEqual(['a:risk']);
    expect(judgeEntry(base([op('a', { riskScore: 0.7 }), op('b')])).enter).toBe(true);
  });

  it('COLLAB_SYMBOLS: every agent must count and agree', () => {
    expect(judgeEntry(base([op('a'), op('b')], true)).enter).toBe(true);
    const neutral = judgeEntry(base([op('a'), op('b', { direction: 0 })], true));
    expect(neutral.enter).toBe(false);
    expect(failed(neutral)).toEqual(['b:agrees', 'support']);
    expect(judgeEntry(base([op('a'), op('b', { confidence: 0.6 })], true)).enter).toBe(false);
    expect(judgeEntry(base([op('a'), op('b', { accepted: false })], true)).enter).toBe(false);
    // the same opinions pass on a non-collaborative symbol
    expect(judgeEntry(base([op('a'), op('b', { direction: 0 })], false)).enter).toBe(true);
  });
});
