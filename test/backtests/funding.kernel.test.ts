import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fundingCoverage, fundingSchedule } from '../../backtests/funding.kernel.ts';
import { loadFundingFile } from '../../backtests/data/funding-files.ts';

/**
 * The funding rule (finding 8) on hand-computed cases: a row applies at the first bar opening at
 * or after its funding time, whatever the bar and funding intervals. The rates are declared
 * constants (0.0001, 0.0002 …), not market rates.
 */
const H = 3_600_000;
const M = 60_000;
const t0 = Date.parse('2025-11-01T00:00:00Z');
const times = (due: readonly { time: number }[]) => due.map((d) => (d.time - t0) / M);

describe('fundingSchedule', () => {
  const rows = [
    { symbol: 'BTCUSDT', fundingTime: t0 + 1, rate: 0.0001 }, // Binance stamps 00:00:00.001
    { symbol: 'BTCUSDT', fundingTime: t0 + 8 * H, rate: -0.0002 },
    { symbol: 'ETHUSDT', fundingTime: t0 + 3 * H + 17 * M, rate: 0.0003 }, // irregular time
  ];
  const s = fundingSchedule(rows, 0.0001);

  it('5-minute bars: a row 1 ms after 00:00 applies at the 00:05 bar, not lost', () => {
    expect(s.due('BTCUSDT', t0 - 5 * M, t0)).toEqual([]);
    expect(s.due('BTCUSDT', t0, t0 + 5 * M)).toEqual([{ time: t0 + 1, rate: 0.0001 }]);
    expect(s.due('BTCUSDT', t0 + 5 * M, t0 + 10 * M)).toEqual([]);
    // exactly on a bar's open: that bar
    expect(s.due('BTCUSDT', t0 + 8 * H - 5 * M, t0 + 8 * H)).toEqual([{ time: t0 + 8 * H, rate: -0.0002 }]);
  });

  it('1-hour, 4-hour and 8-hour bars: the first bar opening at or after, each row once', () => {
    expect(times(s.due('BTCUSDT', t0, t0 + H))).toEqual([1 / 60_000]);
    expect(times(s.due('BTCUSDT', t0, t0 + 4 * H))).toEqual([1 / 60_000]);
    expect(times(s.due('BTCUSDT', t0 + 4 * H, t0 + 8 * H))).toEqual([480]);
    // 8-hour bars opening 00:00, 08:00: both rows fall in (00:00, 08:00]
    expect(s.due('BTCUSDT', t0, t0 + 8 * H).map((d) => d.rate)).toEqual([0.0001, -0.0002]);
  });

  it('irregular times: 03:17 applies at the 03:20 bar (5 m) or the 04:00 bar (1 h)', () => {
    expect(s.due('ETHUSDT', t0 + 3 * H + 15 * M, t0 + 3 * H + 20 * M)).toEqual([
      { time: t0 + 3 * H + 17 * M, rate: 0.0003 },
    ]);
    expect(s.due('ETHUSDT', t0 + 3 * H, t0 + 4 * H)).toHaveLength(1);
    expect(s.due('ETHUSDT', t0 + 4 * H, t0 + 5 * H)).toEqual([]);
  });

  it('a 4-hour history is settled every 4 hours (not on an 8-hour grid)', () => {
    const four = fundingSchedule(
      [0, 4, 8, 12].map((h) => ({ symbol: 'SOLUSDT', fundingTime: t0 + h * H, rate: 0.0002 })),
      0,
    );
    let paid = 0;
    for (let open = t0 + 5 * M; open <= t0 + 12 * H; open += 5 * M)
      paid += four.due('SOLUSDT', open - 5 * M, open).length;
    // 04:00, 08:00, 12:00 (the 00:00 row is at the 00:00 bar, before this walk starts)
    expect(paid).toBe(3);
  });

  it('a symbol without rows pays the constant every 8 h from 00:00 UTC; nothing before the first bar', () => {
    expect(s.due('SOLUSDT', t0 - 5 * M, t0)).toEqual([{ time: t0, rate: 0.0001 }]);
    expect(s.due('SOLUSDT', t0, t0 + 7 * H)).toEqual([]);
    expect(s.due('BTCUSDT', -Infinity, t0 + 5 * M)).toEqual([]);
    expect(s.symbols).toEqual(new Set(['BTCUSDT', 'ETHUSDT']));
  });

  it('outside the span its history covers, a symbol pays the constant on the 8-hour grid', () => {
    const h = fundingSchedule(
      [
        { symbol: 'BTCUSDT', fundingTime: t0 + 8 * H + 3, rate: 0.0002 },
        { symbol: 'BTCUSDT', fundingTime: t0 + 16 * H + 1, rate: 0.0003 },
      ],
      0.0001,
    );
    // before the history (00:00 is more than an hour before its first row): the constant
    expect(h.due('BTCUSDT', t0 - 5 * M, t0)).toEqual([{ time: t0, rate: 0.0001 }]);
    // inside: the rows only, never the grid as well
    expect(h.due('BTCUSDT', t0 + 8 * H - 5 * M, t0 + 8 * H + 5 * M)).toEqual([{ time: t0 + 8 * H + 3, rate: 0.0002 }]);
    expect(h.due('BTCUSDT', t0 + 16 * H, t0 + 16 * H + 5 * M)).toEqual([{ time: t0 + 16 * H + 1, rate: 0.0003 }]);
    // after it: the constant again (next day 00:00), and an 8-hour bar spanning the edge gets both, in order
    expect(h.due('BTCUSDT', t0 + 24 * H - 5 * M, t0 + 24 * H)).toEqual([{ time: t0 + 24 * H, rate: 0.0001 }]);
    expect(h.due('BTCUSDT', t0 + 8 * H, t0 + 24 * H).map((d) => d.rate)).toEqual([0.0002, 0.0003, 0.0001]);
  });

  it('coverage counts rows that match no bar, by symbol and reason', () => {
    const c = fundingCoverage(
      [
        { symbol: 'BTCUSDT', fundingTime: t0 - H, rate: 0.0001 },
        { symbol: 'BTCUSDT', fundingTime: t0 + H, rate: 0.0001 },
        { symbol: 'BTCUSDT', fundingTime: t0 + 30 * H, rate: 0.0001 },
        { symbol: 'DOGEUSDT', fundingTime: t0 + H, rate: 0.0001 },
      ],
      [
        { symbol: 'BTCUSDT', firstOpen: t0, lastOpen: t0 + 24 * H },
        { symbol: 'ETHUSDT', firstOpen: t0, lastOpen: t0 + 24 * H },
      ],
    );
    expect(c.matched).toBe(1);
    expect(c.unmatched).toEqual([
      { symbol: 'BTCUSDT', rows: 1, reason: 'after-data' },
      { symbol: 'BTCUSDT', rows: 1, reason: 'before-data' },
      { symbol: 'DOGEUSDT', rows: 1, reason: 'no-series' },
    ]);
    expect(c.constantSymbols).toEqual(['ETHUSDT']);
    // BTCUSDT's bars run 24 h, its rows span t0 − 1 h … t0 + 30 h: covered
    expect(c.partial).toEqual([]);
  });
});

describe('funding files in their published shapes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sapphire-funding-'));

  it('reads /fapi/v1/fundingRate JSON, Binance monthly dumps and the plain CSV alike', () => {
    const json = join(dir, 'rates.json');
    writeFileSync(
      json,
      JSON.stringify([
        { symbol: 'BTCUSDT', fundingTime: t0 + 1, fundingRate: '0.00010000', markPrice: '' },
        { symbol: 'BTCUSDT', fundingTime: t0 + 8 * H, fundingRate: -0.0002 },
      ]),
    );
    const dump = join(dir, 'ETHUSDT-fundingRate-2025-11.csv');
    writeFileSync(
      dump,
      `calc_time,funding_interval_hours,last_funding_rate\n${t0},4,0.00010000\n${t0 + 4 * H},4,0.00020000\n`,
    );
    const csv = join(dir, 'plain.csv');
    writeFileSync(csv, `symbol,fundingTime,fundingRate\nSOLUSDT,${t0},0.0001\n`);
    expect(loadFundingFile(json)).toEqual([
      { symbol: 'BTCUSDT', fundingTime: t0 + 1, rate: 0.0001 },
      { symbol: 'BTCUSDT', fundingTime: t0 + 8 * H, rate: -0.0002 },
    ]);
    expect(loadFundingFile(dump)).toEqual([
      { symbol: 'ETHUSDT', fundingTime: t0, rate: 0.0001 },
      { symbol: 'ETHUSDT', fundingTime: t0 + 4 * H, rate: 0.0002 },
    ]);
    expect(loadFundingFile(csv)).toEqual([{ symbol: 'SOLUSDT', fundingTime: t0, rate: 0.0001 }]);
  });

  it('names the file and line (or entry) of a bad row, and refuses duplicates', () => {
    const json = join(dir, 'bad.json');
    writeFileSync(json, JSON.stringify([{ symbol: 'BTCUSDT', fundingTime: 'noon', fundingRate: '0.0001' }]));
    expect(() => loadFundingFile(json)).toThrow(`${json}: [0]: fundingTime "noon" is not epoch milliseconds`);
    const header = join(dir, 'header.csv');
    writeFileSync(header, 'time,rate\n1,2\n');
    expect(() => loadFundingFile(header)).toThrow(`${header}:1: header must be`);
    const twice = join(dir, 'twice');
    mkdirSync(twice);
    writeFileSync(join(twice, 'a.csv'), `symbol,fundingTime,fundingRate\nBTCUSDT,${t0},0.0001\n`);
    writeFileSync(join(twice, 'b.csv'), `symbol,fundingTime,fundingRate\nBTCUSDT,${t0},0.0002\n`);
    expect(() => loadFundingFile(twice)).toThrow('two rates for BTCUSDT at 2025-11-01T00:00:00.000Z');
  });
});
