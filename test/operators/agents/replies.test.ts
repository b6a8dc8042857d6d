import { describe, expect, it } from 'vitest';
import { AgentError } from '../../../operators/agents/agent-error.ts';
import {
  ciSpan,
  extractJson,
  judgeForecast,
  judgeThesis,
  parseForecastReply,
  parseThesisReply,
} from '../../../operators/agents/replies.ts';

const good = { thesis: 'BTC holds above support with rising volume.', side: 'buy', risk_score: 0.5, confidence: 0.8 };

function fault(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof AgentError) return e.fault;
    throw e;
  }
  return 'no-error';
}

describe('extractJson', () => {
  it('reads plain JSON, fenced JSON and JSON wrapped in prose', () => {
    expect(extractJson(JSON.stringify(good))).toEqual(good);
    expect(extractJson('Here you go:\n```json\n' + JSON.stringify(good) + '\n```\nGood luck!')).toEqual(good);
    expect(extractJson('```\n' + JSON.stringify(good) + '\n```')).toEqual(good);
    expect(extractJson('My analysis: ' + JSON.stringify(good) + ' — hope it helps.')).toEqual(good);
  });

  it('rejects text without a JSON object', () => {
    expect(fault(() => extractJson('I think you should buy.'))).toBe('invalid-reply');
    expect(fault(() => extractJson('{thesis: buy, risk: high}'))).toBe('invalid-reply');
    expect(fault(() => extractJson('{"thesis": "x", "confidence": NaN}'))).toBe('invalid-reply');
  });
});

describe('thesis replies', () => {
  it('accepts a well-formed reply and normalises the side', () => {
    const r = parseThesisReply({ ...good, side: ' LONG ' });
    expect(r.side).toBe('long');
    expect(judgeThesis('t', r, 0.4).direction).toBe(1);
    expect(judgeThesis('t', parseThesisReply({ ...good, side: 'Sell' }), 0.4).direction).toBe(-1);
    expect(judgeThesis('t', parseThesisReply({ ...good, side: 'hold' }), 0.4).direction).toBe(0);
  });

  it.each([
    ['short thesis', { ...good, thesis: 'buy now' }],
    ['missing thesis', { side: 'buy', risk_score: 0.5, confidence: 0.8 }],
    ['side outside the set', { ...good, side: 'moon' }],
    ['NaN as a string', { ...good, confidence: 'NaN' }],
    ['undefined as a string', { ...good, risk_score: 'undefined' }],
    ['null risk', { ...good, risk_score: null }],
    ['confidence above 1', { ...good, confidence: 1.5 }],
  ])('rejects %s', (_, reply) => {
    expect(fault(() => parseThesisReply(reply))).toBe('invalid-reply');
  });

  it('accepts a thesis iff risk_score >= FINGPT_MIN_RISK_SCORE', () => {
    expect(judgeThesis('t', parseThesisReply({ ...good, risk_score: 0.4 }), 0.4).accepted).toBe(true);
    expect(judgeThesis('t', parseThesisReply({ ...good, risk_score: 0.39 }), 0.4).accepted).toBe(false);
    const op = judgeThesis('t', parseThesisReply(good), 0.4);
    expect(op).toMatchObject({ agent: 't', confidence: 0.8, riskScore: 0.5, blocksEntry: false, summary: good.thesis });
  });
});

describe('forecast replies', () => {
  const price = 100;
  const gate = { LAGLLAMA_MAX_CI_SPAN: 0.25, ANOMALY_THRESHOLD: 0.8 };
  const reply = {
    forecast: [100.5, 101, 101.5],
    lower_ci: [99, 98, 97],
    upper_ci: [102, 104, 106],
    anomaly_score: 0.1,
    confidence: 0.75,
  };

  it('derives ci_span as the widest band over price and the direction from the path end', () => {
    const r = parseForecastReply(reply);
    expect(ciSpan(r, price)).toBeCloseTo(0.09, 12);
    const op = judgeForecast('f', r, price, gate);
    expect(op).toMatchObject({ direction: 1, confidence: 0.75, riskScore: 0.1, accepted: true, blocksEntry: false });
    expect(
      judgeForecast('f', parseForecastReply({ ...reply, forecast: [99.8, 99.5, 99] }), price, gate).direction,
    ).toBe(-1);
  });

  it('rejects a band wider than LAGLLAMA_MAX_CI_SPAN and a first point more than 50 % from price', () => {
    const wide = parseForecastReply({ ...reply, upper_ci: [102, 104, 126] });
    expect(ciSpan(wide, price)).toBeCloseTo(0.29, 12);
    expect(judgeForecast('f', wide, price, gate).accepted).toBe(false);
    const far = parseForecastReply({ ...reply, forecast: [151, 101, 101.5], upper_ci: [152, 104, 106] });
    expect(judgeForecast('f', far, price, { ...gate, LAGLLAMA_MAX_CI_SPAN: 10 }).accepted).toBe(false);
    const near = parseForecastReply({ ...reply, forecast: [149, 101, 101.5], upper_ci: [152, 104, 106] });
    expect(judgeForecast('f', near, price, { ...gate, LAGLLAMA_MAX_CI_SPAN: 10 }).accepted).toBe(true);
  });

  it('blocks entries when the anomaly score exceeds ANOMALY_THRESHOLD', () => {
    expect(judgeForecast('f', parseForecastReply({ ...reply, anomaly_score: 0.81 }), price, gate).blocksEntry).toBe(
      true,
    );
    expect(judgeForecast('f', parseForecastReply({ ...reply, anomaly_score: 0.8 }), price, gate).blocksEntry).toBe(
      false,
    );
  });

  it.each([
    ['unequal lengths', { ...reply, lower_ci: [99, 98] }],
    ['empty forecast', { ...reply, forecast: [], lower_ci: [], upper_ci: [] }],
    ['non-numeric point', { ...reply, forecast: [100, 'NaN', 101] }],
    ['lower above upper', { ...reply, lower_ci: [99, 105, 97] }],
    [
      'missing anomaly',
      { forecast: reply.forecast, lower_ci: reply.lower_ci, upper_ci: reply.upper_ci, confidence: 1 },
    ],
  ])('rejects %s', (_, r) => {
    expect(fault(() => parseForecastReply(r))).toBe('invalid-reply');
  });
});
