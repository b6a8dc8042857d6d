import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, sapphire } from '../kit/cli.ts';

/**
 * The backtest command's data-integrity flags, run as a user runs them, on the real fixture
 * cut from perp-5m-2025 (test/fixtures/core, 2025-01-28 → 01-31, BTC and ETH 5m).
 */
// every arm funded and sized as fixed: the fixture day gives positions in both symbols
const STRATEGY = [
  'MOMENTUM_LOOKBACK_BARS=48',
  'MOMENTUM_THRESHOLD=0.3',
  'BANDIT_MIN_TRADES=100000',
  'SIZING_MODE=fixed',
];

function dataDir(names: Record<string, string> = { BTCUSDT: 'BTCUSDT', ETHUSDT: 'ETHUSDT' }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sapphire-cli-'));
  mkdirSync(join(dir, 'data'));
  for (const [as, from] of Object.entries(names)) {
    copyFileSync(join(REPO, `test/fixtures/core/${from}-5m-2025-01-28.csv`), join(dir, 'data', `${as}.csv`));
  }
  return dir;
}

interface ResultDoc {
  trades: { symbol: string; exitReason: string }[];
  openTrades: { symbol: string; side: string; markPrice: number; unrealizedPnl: number }[];
  gaps: { symbol: string; missingBars: number }[];
  warnings: string[];
  warmUpBars: number;
  start: string;
  counts: { fundingEvents: number };
  final: { fundingPaid: number };
}
const readResult = (out: string) => JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as ResultDoc;

describe('sapphire backtest: end of data, gaps, warm-up, filters, tape misses, funding', () => {
  it('lists every new flag in --help', () => {
    const r = sapphire(['backtest', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--close-at-end', '--allow-gaps', '--filters FILE', '--tape-miss MODE', '--funding FILE']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('positions open at the end: listed as open trades (status open); --close-at-end closes them', () => {
    const dir = dataDir();
    const out = join(dir, 'out');
    const args = ['backtest', '--data', join(dir, 'data'), '--to', '2025-01-29T04:00:00Z', ...STRATEGY];
    const r = sapphire([...args, '--out', out], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Open at the end');
    const doc = readResult(out);
    const openSymbols = doc.openTrades.map((t) => t.symbol).sort();
    expect(openSymbols.length).toBeGreaterThan(0);
    const csv = readFileSync(join(out, 'trades.csv'), 'utf8').trim().split('\n');
    expect(csv[0]!.endsWith(',exit_reason,status,explored')).toBe(true);
    expect(csv.filter((l) => l.endsWith(',open,'))).toHaveLength(openSymbols.length);
    expect(csv.filter((l) => /,closed,(true|false)$/.test(l))).toHaveLength(doc.trades.length);
    // the mark is the last close of the data (the 03:55 bar)
    for (const t of doc.openTrades) {
      const last = readFileSync(join(dir, 'data', `${t.symbol}.csv`), 'utf8')
        .split('\n')
        .find((l) => l.startsWith('2025-01-29T03:55:00Z'))!;
      expect(t.markPrice).toBe(Number(last.split(',')[4]));
    }

    const closedOut = join(dir, 'closed');
    const c = sapphire([...args, '--close-at-end', '--out', closedOut], { cwd: dir });
    expect(c.code, c.stderr).toBe(0);
    const closed = readResult(closedOut);
    expect(closed.openTrades).toEqual([]);
    expect(
      closed.trades
        .filter((t) => t.exitReason === 'end-of-data')
        .map((t) => t.symbol)
        .sort(),
    ).toEqual(openSymbols);
  });

  it('a hole longer than one day stops the run naming file, line and gap; --allow-gaps runs and reports it', () => {
    const dir = dataDir({ BTCUSDT: 'BTCUSDT' });
    const file = join(dir, 'data', 'BTCUSDT.csv');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    // rows 400..699 removed (300 bars > 288): the first bar after the hole is row 700, line 402
    writeFileSync(file, [...lines.slice(0, 401), ...lines.slice(701)].join('\n') + '\n');
    const out = join(dir, 'out');
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--out', out, ...STRATEGY], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:402: BTCUSDT has no bars between 2025-01-29T09:15:00.000Z and`);
    expect(r.stderr).toContain('300 bars missing');
    expect(r.stderr).toContain('--allow-gaps');
    expect(existsSync(out)).toBe(false);

    const ok = sapphire(['backtest', '--data', join(dir, 'data'), '--out', out, '--allow-gaps', ...STRATEGY], {
      cwd: dir,
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('Data gaps (1');
    expect(ok.stderr).toContain('indicators warm up again');
    expect(readResult(out).gaps).toMatchObject([{ symbol: 'BTCUSDT', missingBars: 300 }]);
  });

  const native = [join(REPO, '../shared/data/binance-native'), join(REPO, '../../shared/data/binance-native')].find(
    existsSync,
  );
  it.skipIf(native === undefined)('refuses the binance-native AVAX folder (3.4-year hole) without --allow-gaps', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sapphire-cli-'));
    const r = sapphire(['backtest', '--data', native!, '--out', join(dir, 'out')], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'AVAXUSDT-1m-2026-07.csv:2: AVAXUSDT has no bars between 2023-02-28T23:59:00.000Z and 2026-07-01T00:00:00.000Z',
    );
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('--from warms up on the bars before it; data shorter than the warm-up is an error naming both lengths', () => {
    const dir = dataDir();
    const out = join(dir, 'out');
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--out', out, '--from', '2025-01-30', ...STRATEGY], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    const doc = readResult(out);
    expect(doc.start).toBe('2025-01-30T00:00:00.000Z');
    expect(doc.warmUpBars).toBe(2 * 288);
    expect(readFileSync(join(out, 'equity.csv'), 'utf8').split('\n')[1]).toMatch(/^2025-01-30T00:05:00.000Z,/);

    const short = sapphire(
      ['backtest', '--data', join(dir, 'data'), '--out', join(dir, 'short'), '--to', '2025-01-29', ...STRATEGY],
      {
        cwd: dir,
      },
    );
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('BTCUSDT has 288 bars but the indicators need 289 bars of warm-up');
    expect(existsSync(join(dir, 'short'))).toBe(false);
  });

  it('a symbol without exchange filters is an error unless --filters gives them; bad values exit 1', () => {
    const dir = dataDir({ FOOUSDT: 'BTCUSDT' });
    const out = join(dir, 'out');
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--out', out, ...STRATEGY], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no exchange filters for FOOUSDT');
    expect(existsSync(out)).toBe(false);

    const info = JSON.parse(readFileSync(join(REPO, 'pipelines/aster-exchange-info-2026-01-12.json'), 'utf8')) as {
      symbols: { symbol: string }[];
    };
    const filters = join(dir, 'exchangeInfo.json');
    writeFileSync(
      filters,
      JSON.stringify({ symbols: [{ ...info.symbols.find((s) => s.symbol === 'BTCUSDT'), symbol: 'FOOUSDT' }] }),
    );
    // a symbol the shipped leverage brackets lack needs the user's brackets too (margin)
    const shipped = JSON.parse(readFileSync(join(REPO, 'pipelines/margin/leverage-brackets.json'), 'utf8')) as {
      symbol: string;
    }[];
    const brackets = join(dir, 'leverageBracket.json');
    writeFileSync(brackets, JSON.stringify([{ ...shipped.find((x) => x.symbol === 'BTCUSDT'), symbol: 'FOOUSDT' }]));
    const args = ['--filters', filters, ...STRATEGY, `LEVERAGE_BRACKETS_FILE=${brackets}`];
    const ok = sapphire(['backtest', '--data', join(dir, 'data'), '--out', out, ...args], {
      cwd: dir,
    });
    expect(ok.code, ok.stderr).toBe(0);

    writeFileSync(join(dir, 'bad.json'), '{"symbols": 3}');
    const bad = sapphire(['backtest', '--data', join(dir, 'data'), '--filters', join(dir, 'bad.json')], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('bad.json: not an exchangeInfo reply');
    const mode = sapphire(['backtest', '--data', join(dir, 'data'), '--tape-miss', 'maybe'], { cwd: dir });
    expect(mode.code).toBe(1);
    expect(mode.stderr).toContain('--tape-miss "maybe" must be error or skip');
  });

  it('a tape miss stops the run naming agent, symbol and bar; --tape-miss skip goes on and says so', () => {
    const dir = dataDir({ BTCUSDT: 'BTCUSDT' });
    writeFileSync(join(dir, 'tape.jsonl'), '');
    const agents = [
      'AGENTS_ENABLED=true',
      'FINGPT_ENDPOINT=http://127.0.0.1:9',
      `AGENT_TAPE=${join(dir, 'tape.jsonl')}`,
      'AGENT_TAPE_MODE=replay',
    ];
    const args = ['backtest', '--data', join(dir, 'data'), ...STRATEGY, ...agents];
    const r = sapphire([...args, '--out', join(dir, 'out')], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /AGENT_TAPE_MISS: agent fingpt has no tape reply for BTCUSDT at the bar closing 2025-01-2\d/,
    );
    expect(existsSync(join(dir, 'out'))).toBe(false);
    const ok = sapphire([...args, '--out', join(dir, 'out'), '--tape-miss', 'skip'], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/warning: \d+ signals had no reply on the agent tape/);
  });

  it('--funding reads the published shapes (JSON, Binance monthly dump) and warns about rows that match no bar', () => {
    const dir = dataDir();
    // declared constant rates (0.01 % and 0.02 %), not market rates: the shapes and matching are under test
    const json = join(dir, 'funding.json');
    const t0 = Date.parse('2025-01-28T08:00:00Z');
    const rows = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => ({
      symbol: 'ETHUSDT',
      fundingTime: t0 + k * 8 * 3_600_000 + 1,
      fundingRate: '0.00010000',
    }));
    rows.push({ symbol: 'ETHUSDT', fundingTime: Date.parse('2025-03-01T00:00:00Z'), fundingRate: '0.00010000' });
    writeFileSync(json, JSON.stringify(rows));
    const dumps = join(dir, 'dumps');
    mkdirSync(dumps);
    const dumpRows = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84].map(
      (h) => `${t0 + h * 3_600_000},4,0.00020000`,
    );
    writeFileSync(
      join(dumps, 'BTCUSDT-fundingRate-2025-01.csv'),
      ['calc_time,funding_interval_hours,last_funding_rate', ...dumpRows].join('\n'),
    );
    writeFileSync(join(dumps, 'ETHUSDT.json'), JSON.stringify(rows));
    const out = join(dir, 'out');
    const r = sapphire(['backtest', '--data', join(dir, 'data'), '--out', out, '--funding', dumps, ...STRATEGY], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('warning: funding: 1 ETHUSDT rows match no bar (after its last bar) and were not used');
    expect(readResult(out).counts.fundingEvents).toBeGreaterThan(0);

    writeFileSync(
      join(dumps, 'BTCUSDT-fundingRate-2025-01.csv'),
      'calc_time,funding_interval_hours,last_funding_rate\n1738022400000,4,lots\n',
    );
    const bad = sapphire(['backtest', '--data', join(dir, 'data'), '--funding', dumps], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'BTCUSDT-fundingRate-2025-01.csv:2: last_funding_rate "lots" is not a rate within ±5 %',
    );
  });
});
