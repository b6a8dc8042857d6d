import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  accountMargin,
  bracketFor,
  isLiquidatable,
  liquidationFee,
  liquidationFillPrice,
  liquidationPrice,
  maintenanceMargin,
  maxLeverage,
  maxNotional,
  parseLeverageBrackets,
  type MarginPosition,
} from '../../pipelines/margin/margin.kernel.ts';
import { leverageBrackets, SHIPPED_BRACKETS_FILE } from '../../pipelines/margin/leverage-brackets.ts';

const table = leverageBrackets();
const btc = table.get('BTCUSDT')!;

describe('leverage brackets', () => {
  it('ship BTCUSDT, ETHUSDT and SOLUSDT in the /fapi/v1/leverageBracket shape, with continuous cum', () => {
    const raw = JSON.parse(readFileSync(SHIPPED_BRACKETS_FILE, 'utf8')) as {
      symbol: string;
      brackets: { notionalFloor: number; notionalCap: number; maintMarginRatio: number; cum: number }[];
    }[];
    expect(raw.map((r) => r.symbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    for (const r of raw) {
      expect(Object.keys(r.brackets[0]!).sort()).toEqual(
        ['bracket', 'cum', 'initialLeverage', 'maintMarginRatio', 'notionalCap', 'notionalFloor'].sort(),
      );
      for (let i = 1; i < r.brackets.length; i++) {
        const [a, b] = [r.brackets[i - 1]!, r.brackets[i]!];
        expect(b.notionalFloor).toBe(a.notionalCap);
        // maintenance margin is the same on both sides of a bracket boundary
        expect(b.notionalFloor * b.maintMarginRatio - b.cum).toBeCloseTo(
          b.notionalFloor * a.maintMarginRatio - a.cum,
          6,
        );
      }
    }
  });

  it('a bracket is chosen by notional: floor inclusive, cap exclusive, the last beyond it', () => {
    expect(bracketFor(btc, 0).bracket).toBe(1);
    expect(bracketFor(btc, 49_999.99).bracket).toBe(1);
    expect(bracketFor(btc, 50_000).bracket).toBe(2);
    expect(bracketFor(btc, 1e12).bracket).toBe(10);
    // 300,000 USDT of BTC: bracket 3 (1 %, cum 1,300) → 3,000 − 1,300
    expect(maintenanceMargin(btc, 300_000)).toBeCloseTo(1_700, 9);
    expect(maintenanceMargin(btc, -300_000)).toBeCloseTo(1_700, 9);
    expect(maxLeverage(btc, 0)).toBe(125);
    expect(maxLeverage(btc, 60_000)).toBe(100);
    expect(maxLeverage(table.get('SOLUSDT')!, 0)).toBe(100);
    expect(maxNotional(btc, 5)).toBe(100_000_000);
  });

  it('a bad file is refused naming the file, the symbol and the field', () => {
    expect(() => parseLeverageBrackets([{ symbol: 'BTCUSDT', brackets: [{ bracket: 1 }] }], 'x.json')).toThrow(
      /x\.json: BTCUSDT bracket 0: initialLeverage is undefined/,
    );
    expect(() => leverageBrackets('/no/such/file.json')).toThrow(/LEVERAGE_BRACKETS_FILE \/no\/such\/file\.json/);
    // ccxt saves numbers as strings: accepted
    const t = parseLeverageBrackets(
      [
        {
          symbol: 'X',
          brackets: [
            {
              bracket: '1',
              initialLeverage: '20',
              notionalCap: '1000',
              notionalFloor: '0',
              maintMarginRatio: '0.01',
              cum: '0',
            },
          ],
        },
      ],
      's',
    );
    expect(t.get('X')![0]!.initialLeverage).toBe(20);
  });
});

describe('cross-margin liquidation', () => {
  // recomputed here from the definition, not from the kernel
  const marginGap = (wallet: number, ps: MarginPosition[]): number => {
    let mb = wallet;
    let mm = 0;
    for (const p of ps) {
      mb += p.qty * (p.mark - p.entry);
      const n = Math.abs(p.qty) * p.mark;
      const b = table.get(p.symbol)!.find((x) => n < x.notionalCap)!;
      mm += n * b.maintMarginRatio - b.cum;
    }
    return mb - mm;
  };

  it('a long alone: margin balance equals maintenance exactly at the liquidation price', () => {
    // 1,000 USDT wallet, 0.3 BTC bought at 85,000 (25,500 notional, 25.5×)
    const ps: MarginPosition[] = [{ symbol: 'BTCUSDT', qty: 0.3, entry: 85_000, mark: 85_000 }];
    const p = liquidationPrice(1_000, ps, 'BTCUSDT', table);
    // W + q(P − E) = q P mmr  ⇒  P = (q E − W) / (q (1 − mmr))
    expect(p).toBeCloseTo((0.3 * 85_000 - 1_000) / (0.3 * (1 - 0.004)), 8);
    expect(marginGap(1_000, [{ ...ps[0]!, mark: p }])).toBeCloseTo(0, 8);
    const at = (mark: number) => accountMargin(1_000, [{ ...ps[0]!, mark }], table, () => 25);
    expect(isLiquidatable(at(p - 0.01))).toBe(true);
    expect(isLiquidatable(at(p + 0.01))).toBe(false);
  });

  it('a short, with another position in the account (cross margin)', () => {
    const eth: MarginPosition = { symbol: 'ETHUSDT', qty: 5, entry: 3_000, mark: 2_900 }; // −500 unrealised
    const sol: MarginPosition = { symbol: 'SOLUSDT', qty: -200, entry: 150, mark: 150 };
    const p = liquidationPrice(2_000, [eth, sol], 'SOLUSDT', table);
    expect(p).toBeGreaterThan(150);
    expect(marginGap(2_000, [eth, { ...sol, mark: p }])).toBeCloseTo(0, 6);
    // the ETH loss brings the SOL liquidation closer than it would be alone
    expect(p).toBeLessThan(liquidationPrice(2_000, [sol], 'SOLUSDT', table));
  });

  it('in a higher bracket the right bracket is found (notional at the liquidation price)', () => {
    const ps: MarginPosition[] = [{ symbol: 'BTCUSDT', qty: 4, entry: 80_000, mark: 80_000 }]; // 320,000: bracket 3
    const p = liquidationPrice(20_000, ps, 'BTCUSDT', table);
    expect(bracketFor(btc, 4 * p).bracket).toBe(3);
    expect(marginGap(20_000, [{ ...ps[0]!, mark: p }])).toBeCloseTo(0, 6);
  });

  it('no liquidation price for a long backed by more than its notional', () => {
    expect(
      liquidationPrice(50_000, [{ symbol: 'BTCUSDT', qty: 0.1, entry: 80_000, mark: 80_000 }], 'BTCUSDT', table),
    ).toBe(0);
  });

  it('the fill is the liquidation price inside the bar, the open on a gap, nothing when not reached', () => {
    expect(liquidationFillPrice(1, 95, { open: 100, high: 101, low: 94 })).toBe(95);
    expect(liquidationFillPrice(1, 95, { open: 93, high: 96, low: 90 })).toBe(93);
    expect(liquidationFillPrice(1, 95, { open: 100, high: 101, low: 95.5 })).toBeNaN();
    expect(liquidationFillPrice(-1, 105, { open: 100, high: 106, low: 99 })).toBe(105);
    expect(liquidationFillPrice(-1, 105, { open: 107, high: 108, low: 104 })).toBe(107);
  });

  it('the liquidation fee is the rate on notional, capped by the margin left, never negative', () => {
    expect(liquidationFee(10_000, 0.025, 1_000)).toBe(250);
    expect(liquidationFee(10_000, 0.025, 40)).toBe(40);
    expect(liquidationFee(10_000, 0.025, -5)).toBe(0);
  });
});
