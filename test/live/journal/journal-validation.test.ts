import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileJournal } from '../../../live/journal/file-journal.ts';
import { testService } from '../../kit/service-kit.ts';
import { fillOf, inferReason } from '../../../live/aster/aster-execution-port.ts';
import type { OrderUpdate } from '../../../live/aster/user-events.ts';

/** A real journal: the engine over the shipped sample bars, ten live bars after the warm-up. */
async function realJournal(): Promise<{ path: string; lines: string[] }> {
  const service = await testService();
  await service.feed(10);
  await service.close();
  return { path: service.journalPath, lines: readFileSync(service.journalPath, 'utf8').trim().split('\n') };
}

describe('journal replay validates every entry', () => {
  it('a parsable bar with close: null stops the replay naming the file, the line and the field', async () => {
    const { path, lines } = await realJournal();
    const at = lines.findLastIndex((l) => JSON.parse(l).type === 'bar');
    const bad = JSON.parse(lines[at]!);
    bad.data.close = null;
    lines[at] = JSON.stringify(bad);
    writeFileSync(path, `${lines.join('\n')}\n`);
    expect(() => new FileJournal(path).readAll()).toThrow(`${path}:${at + 1}: journal entry is invalid (data.close:`);
    // and the engine never gets to run on it: a restart on this journal fails in start()
    await expect(testService({ journalPath: path })).rejects.toThrow(`${path}:${at + 1}`);
  });

  it('a damaged first (header) line is named, not a bare TypeError', async () => {
    const { path, lines } = await realJournal();
    // the service's header line (mode, bot, symbols) with its fields lost
    lines[0] = JSON.stringify({ type: 'meta', time: 1, data: { mode: 'paper' } });
    writeFileSync(path, `${lines.join('\n')}\n`);
    expect(() => new FileJournal(path).readAll()).toThrow(`${path}:1: journal entry is invalid (data.botId:`);
  });

  it('an unknown entry type, a negative quantity and a backwards candle are refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sapphire-journal-'));
    const path = join(dir, 'j.jsonl');
    const bar = {
      kind: 'bar',
      symbol: 'BTCUSDT',
      openTime: 1761091200000,
      time: 1761091500000,
      open: 108000,
      high: 108100,
      low: 107900,
      close: 108050,
      volume: 12.5,
    };
    const good = JSON.stringify({ type: 'bar', time: bar.time, data: bar });
    writeFileSync(path, `${good}\n`);
    expect(new FileJournal(path).readAll()).toHaveLength(1);
    writeFileSync(path, `${good}\n${JSON.stringify({ type: 'bars', time: 1, data: bar })}\n`);
    expect(() => new FileJournal(path).readAll()).toThrow(`${path}:2: journal entry is invalid (type:`);
    writeFileSync(path, `${good}\n${JSON.stringify({ type: 'bar', time: 1, data: { ...bar, low: 108200 } })}\n`);
    expect(() => new FileJournal(path).readAll()).toThrow(
      `${path}:2: journal entry is invalid (data.high: high must be ≥ low`,
    );
  });

  it('an unreadable JOURNAL_PATH is an error naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sapphire-journal-'));
    mkdirSync(join(dir, 'is-a-dir'));
    expect(() => new FileJournal(join(dir, 'is-a-dir')).readAll()).toThrow(
      `JOURNAL_PATH=${join(dir, 'is-a-dir')} cannot be read`,
    );
  });

  it('every fill the live port can journal reads back, an exchange liquidation (autoclose) included', () => {
    const trade: OrderUpdate = {
      kind: 'order-update',
      eventTime: 1761091500000,
      symbol: 'BTCUSDT',
      clientOrderId: 'x',
      orderId: 7,
      side: 'SELL',
      orderType: 'MARKET',
      executionType: 'TRADE',
      status: 'FILLED',
      origQty: 0.01,
      price: 0,
      avgPrice: 108000,
      stopPrice: 0,
      lastQty: 0.01,
      lastPrice: 108000,
      cumQty: 0.01,
      commission: 0.4,
      commissionAsset: 'USDT',
      tradeTime: 1761091500000,
      tradeId: 9,
      isMaker: false,
      reduceOnly: false,
      closePosition: false,
      positionSide: 'BOTH',
      realizedPnl: 0,
    };
    // the orders of ours and of the exchange a fill can come from, as the port names their reason
    const updates: OrderUpdate[] = [
      trade,
      { ...trade, reduceOnly: true },
      { ...trade, orderType: 'STOP_MARKET' },
      { ...trade, orderType: 'TAKE_PROFIT_MARKET' },
      { ...trade, orderType: 'TRAILING_STOP_MARKET' },
      { ...trade, clientOrderId: 'autoclose-1761091500000' },
      { ...trade, clientOrderId: 'adl_autoclose-1761091500000' },
    ];
    const fills = updates.map((u) => fillOf(u, inferReason(u), 0));
    expect(new Set(fills.map((f) => f.reason)).size).toBe(updates.length);
    const path = join(mkdtempSync(join(tmpdir(), 'sapphire-journal-')), 'j.jsonl');
    const lines = fills.map((f) =>
      JSON.stringify({ type: 'venue', time: f.time, data: { phase: 'between', event: f } }),
    );
    writeFileSync(path, `${lines.join('\n')}\n`);
    expect(new FileJournal(path).readAll().map((e) => (e.data as { event: { reason: string } }).event.reason)).toEqual(
      fills.map((f) => f.reason),
    );
  });
});
