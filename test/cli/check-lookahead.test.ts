import { from, mergeMap, toArray, type OperatorFunction } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { PipelineEvent } from '../../pipelines/model/index.ts';
import { checkLookahead, spreadCuts } from '../../backtests/lookahead-check.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { activeSettings } from '../kit/pipeline-kit.ts';
import { REPO, sapphire } from '../kit/cli.ts';

describe('sapphire check lookahead', () => {
  it('finds every decision before each cut identical on the real pipeline', () => {
    const series = [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')];
    const outcomes = checkLookahead(activeSettings(), series, spreadCuts(series, 4));
    expect(outcomes).toHaveLength(4);
    expect(outcomes.every((o) => o.difference === null)).toBe(true);
    expect(outcomes.at(-1)!.compared).toBeGreaterThan(50);
  });

  it('catches a stage that peeks at the end of the data', () => {
    // a cheating agent stage: it waits for the whole stream, then keeps only signals that agree
    // with where price ends up — decisions now depend on bars after them
    const peeking: OperatorFunction<PipelineEvent, PipelineEvent> = (source) =>
      source.pipe(
        toArray(),
        mergeMap((all) => {
          const last = new Map<string, number>();
          for (const e of all) if (e.kind === 'bar') last.set(e.symbol, e.close);
          return from(
            all.filter((e) => e.kind !== 'signal' || Math.sign(last.get(e.symbol)! - e.price) === e.direction),
          );
        }),
      );
    const series = [fixtureColumns('BTCUSDT'), fixtureColumns('ETHUSDT')];
    const outcomes = checkLookahead(activeSettings(), series, spreadCuts(series, 3), peeking);
    expect(outcomes.some((o) => o.difference !== null)).toBe(true);
    expect(outcomes.find((o) => o.difference !== null)!.difference).toMatch(/^event \d+: full run has /);
  });

  it('runs as a command over a data folder and exits 0', () => {
    const r = sapphire([
      'check',
      'lookahead',
      '--data',
      `${REPO}test/fixtures/core`,
      '--cuts',
      '3',
      'MOMENTUM_LOOKBACK_BARS=48',
      'MOMENTUM_THRESHOLD=0.3',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no look-ahead');
    expect(r.stdout.match(/identical/g)?.length).toBe(3);
    expect(sapphire(['check', 'sideways']).code).toBe(1);
  });
});
