import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkGuardrails, drawdownOf, type WalletLimits } from '../../../live/orchestrator/guardrails.ts';
import type { VenuePosition } from '../../../live/orchestrator/wallet-venue.ts';
import { fixtureColumns } from '../../kit/fixture-bars.ts';

// real closes to value positions at
const btc = fixtureColumns('BTCUSDT').close;
const eth = fixtureColumns('ETHUSDT').close;
const priceOf = (symbol: string, i: number) => (symbol === 'BTCUSDT' ? btc[i % btc.length]! : eth[i % eth.length]!);

const limits: WalletLimits = { KELLY_FRACTION_CAP: 0.5, MAX_PORTFOLIO_LEVERAGE: 2, MAX_DRAWDOWN: 0.2 };

const arbPosition = fc
  .record({
    symbol: fc.constantFrom('BTCUSDT', 'ETHUSDT'),
    amt: fc.double({ min: -2, max: 2, noNaN: true }),
    i: fc.nat(2000),
  })
  .map(({ symbol, amt, i }) => ({
    symbol,
    positionAmt: amt,
    entryPrice: priceOf(symbol, i),
    markPrice: priceOf(symbol, i + 7),
    unrealizedPnl: 0,
  }));

const arbInput = fc.record({
  symbol: fc.constantFrom('BTCUSDT', 'ETHUSDT'),
  side: fc.constantFrom('BUY' as const, 'SELL' as const),
  quantity: fc.double({ min: 0.001, max: 3, noNaN: true }),
  reduceOnly: fc.boolean(),
  i: fc.nat(2000),
  kellyFraction: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  equity: fc.double({ min: 100, max: 1_000_000, noNaN: true }),
  peakExtra: fc.double({ min: 0, max: 500_000, noNaN: true }),
  positions: fc.uniqueArray(arbPosition, { selector: (p) => p.symbol, maxLength: 2 }),
});

describe('wallet guardrails (pure)', () => {
  it('never lets an entry through above a cap, and always lets reduce-only exits through', () => {
    fc.assert(
      fc.property(arbInput, (a) => {
        const price = priceOf(a.symbol, a.i);
        const input = { ...a, price, peakEquity: a.equity + a.peakExtra, positions: a.positions as VenuePosition[] };
        const v = checkGuardrails(input, limits);
        if (a.reduceOnly) return v.ok;
        if (!v.ok) return v.value >= v.limit || v.rule === 'no-equity';
        // accepted: recompute every limit independently
        if (drawdownOf(input.equity, input.peakEquity) >= limits.MAX_DRAWDOWN) return false;
        if (a.kellyFraction !== undefined && a.kellyFraction > limits.KELLY_FRACTION_CAP) return false;
        const signed = a.side === 'BUY' ? a.quantity : -a.quantity;
        let gross = 0;
        let mine = Math.abs(a.quantity * price);
        let held = false;
        for (const p of input.positions) {
          if (p.symbol === a.symbol) {
            held = true;
            mine = Math.abs((p.positionAmt + signed) * p.markPrice);
            gross += mine;
          } else gross += Math.abs(p.positionAmt * p.markPrice);
        }
        if (!held) gross += mine;
        return (
          mine / a.equity <= limits.KELLY_FRACTION_CAP + 1e-12 &&
          gross / a.equity <= limits.MAX_PORTFOLIO_LEVERAGE + 1e-12
        );
      }),
      { numRuns: 500, seed: 6 },
    );
  });

  it('denies in rule order: drawdown floor, then Kelly, then position, then leverage', () => {
    const price = btc[100]!;
    const base = {
      symbol: 'BTCUSDT',
      side: 'BUY' as const,
      reduceOnly: false,
      price,
      positions: [] as VenuePosition[],
    };
    const equity = 10_000;
    expect(
      checkGuardrails({ ...base, quantity: 10, kellyFraction: 0.9, equity, peakEquity: 20_000 }, limits),
    ).toMatchObject({ ok: false, rule: 'drawdown-floor', value: 0.5 });
    expect(
      checkGuardrails({ ...base, quantity: 10, kellyFraction: 0.9, equity, peakEquity: equity }, limits),
    ).toMatchObject({ ok: false, rule: 'kelly-cap' });
    expect(checkGuardrails({ ...base, quantity: 10, equity, peakEquity: equity }, limits)).toMatchObject({
      ok: false,
      rule: 'position-cap',
    });
    const heavy: VenuePosition[] = [
      { symbol: 'ETHUSDT', positionAmt: 5, entryPrice: eth[100]!, markPrice: eth[100]!, unrealizedPnl: 0 },
    ];
    const q = (0.4 * equity) / price; // 40 % of equity: under the position cap
    const v = checkGuardrails({ ...base, quantity: q, equity, peakEquity: equity, positions: heavy }, limits);
    expect(5 * eth[100]! + q * price).toBeGreaterThan(2 * equity);
    expect(v).toMatchObject({ ok: false, rule: 'leverage-cap' });
    expect(checkGuardrails({ ...base, quantity: q, equity: 0, peakEquity: equity }, limits)).toMatchObject({
      ok: false,
      rule: 'no-equity',
    });
  });
});
