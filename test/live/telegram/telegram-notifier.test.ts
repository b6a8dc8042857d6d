import { afterEach, describe, expect, it } from 'vitest';
import type { Bar, Decision, Fill, ProtectIntent } from '../../../pipelines/model/index.ts';
import { DEFAULT_SETTINGS, withOverrides } from '../../../pipelines/settings.ts';
import { TelegramNotifier, type TelegramCommands } from '../../../live/telegram/telegram-notifier.ts';
import type { Timers } from '../../../pipelines/ports.ts';
import { fixtureBars } from '../../kit/fixture-bars.ts';
import { startTelegramServer, type TelegramServer } from './kit/telegram-server.ts';

const TOKEN = '123456:TEST-token-abcDEF_never-logged';
const CHAT = '4242';

let server: TelegramServer | undefined;
let notifier: TelegramNotifier | undefined;
afterEach(async () => {
  await notifier?.stop();
  await server?.close();
  notifier = undefined;
  server = undefined;
});

const btc = fixtureBars('BTCUSDT');
const eth = fixtureBars('ETHUSDT');

function settings(url: string, over: Record<string, unknown> = {}) {
  return withOverrides(DEFAULT_SETTINGS, {
    TELEGRAM_BOT_TOKEN: TOKEN,
    TELEGRAM_CHAT_ID: CHAT,
    TELEGRAM_API_URL: url,
    ...over,
  });
}

function decision(bar: Bar, seq: number, summaries: string[]): Decision {
  return {
    kind: 'decision',
    time: bar.time,
    symbol: bar.symbol,
    seq,
    action: 'enter-long',
    confidence: 0.8,
    source: 'momentum',
    price: bar.close,
    features: {
      kind: 'features',
      time: bar.time,
      symbol: bar.symbol,
      bar,
      atr: bar.high - bar.low,
      lookbackReturn: 0.01,
      volatility: 0.5,
      change24h: 0.02,
    },
    gates: [],
    opinions: summaries.map((s, i) => ({
      agent: `agent${i}`,
      direction: 1,
      confidence: 0.7,
      riskScore: 0.2,
      accepted: i === 0 || s !== 'rejected view',
      blocksEntry: false,
      summary: s,
    })),
  };
}

function fill(bar: Bar, side: 'BUY' | 'SELL', quantity: number, reason: Fill['reason'], id: string): Fill {
  return {
    kind: 'fill',
    time: bar.time,
    symbol: bar.symbol,
    clientOrderId: id,
    side,
    quantity,
    price: bar.close,
    fee: 0,
    liquidity: 'taker',
    reason,
  };
}

/** stop 1 bar range below, take-profit 2 ranges above the bar close (real prices): R:R 2 */
function protect(bar: Bar, seq: number): ProtectIntent {
  const r = bar.high - bar.low;
  return {
    kind: 'protect',
    time: bar.time,
    symbol: bar.symbol,
    positionSide: 'LONG',
    stopPrice: bar.close - r,
    takeProfitPrice: bar.close + 2 * r,
    cause: 'initial',
    decisionSeq: seq,
    generation: 0,
  };
}

function manualTimers() {
  const due: { fn: () => void; ms: number; cleared: boolean }[] = [];
  const timers: Timers = {
    setTimeout(fn, ms) {
      const t = { fn, ms, cleared: false };
      due.push(t);
      return t;
    },
    clearTimeout(h) {
      (h as { cleared: boolean }).cleared = true;
    },
  };
  return {
    timers,
    due,
    /** fire every live timer once (bounded) */
    fire() {
      for (const t of due.splice(0)) if (!t.cleared) t.fn();
    },
  };
}

describe('TelegramNotifier', () => {
  it('sends a trade message with the thesis and R:R on an opening fill, and one on the closing fill', async () => {
    server = await startTelegramServer(TOKEN);
    const clock = { t: btc[10]!.time, now: () => clock.t };
    const oks: boolean[] = [];
    notifier = new TelegramNotifier({ settings: settings(server.url), clock, onSent: (ok) => oks.push(ok) });
    const entryBar = btc[10]!;
    notifier.onEvent(decision(entryBar, 7, ['breakout above the Asian range high', 'rejected view']));
    notifier.onEvent(protect(entryBar, 7));
    notifier.onEvent(fill(entryBar, 'BUY', 0.01, 'entry', 'b-7'));
    await notifier.flush();
    expect(server.sent).toHaveLength(1);
    const msg = server.sent[0]!;
    expect(msg.chat_id).toBe(CHAT);
    expect(msg.text).toContain('OPEN LONG BTCUSDT');
    expect(msg.text).toContain(`BUY 0.01 @ ${entryBar.close}`);
    expect(msg.text).toContain('R:R 2.00');
    expect(msg.text).toContain('thesis: agent0: breakout above the Asian range high');
    expect(msg.text).not.toContain('rejected view');

    clock.t += 3600_000;
    notifier.onEvent(fill(btc[15]!, 'SELL', 0.004, 'delever', 'b-7-d'));
    await notifier.flush();
    expect(server.sent[1]!.text.split('\n')[0]).toBe('REDUCE LONG BTCUSDT (delever)');
    clock.t += 3600_000;
    const exitBar = btc[22]!;
    notifier.onEvent(fill(exitBar, 'SELL', 0.006, 'take-profit', 'b-7-tp'));
    await notifier.flush();
    expect(server.sent).toHaveLength(3);
    const close = server.sent[2]!.text;
    expect(close).toContain('CLOSE LONG BTCUSDT (take-profit)');
    const pnl = (exitBar.close - entryBar.close) * 0.006;
    expect(close).toContain(`PnL ${pnl >= 0 ? '+' : ''}${Number(pnl.toFixed(4))}`);
    expect(oks).toEqual([true, true, true]);
    expect(notifier.failures).toBe(0);
  });

  it('sends at most one trade message per symbol per cooldown', async () => {
    server = await startTelegramServer(TOKEN);
    const clock = { t: btc[0]!.time, now: () => clock.t };
    notifier = new TelegramNotifier({
      settings: settings(server.url, { TELEGRAM_TRADE_COOLDOWN_SECONDS: 180 }),
      clock,
    });
    notifier.onEvent(fill(btc[0]!, 'BUY', 0.01, 'entry', 'a'));
    clock.t += 60_000;
    notifier.onEvent(fill(btc[1]!, 'SELL', 0.01, 'stop', 'a-s')); // inside BTC's cooldown: suppressed
    notifier.onEvent(fill(eth[1]!, 'SELL', 0.2, 'entry', 'e')); // another symbol: sent
    clock.t += 120_000; // 180 s after the first BTC message
    notifier.onEvent(fill(btc[3]!, 'BUY', 0.02, 'entry', 'b'));
    await notifier.flush();
    expect(server.sent.map((m) => m.text.split('\n')[0])).toEqual([
      'OPEN LONG BTCUSDT',
      'OPEN SHORT ETHUSDT',
      'OPEN LONG BTCUSDT',
    ]);
    expect(notifier.suppressed).toBe(1);
  });

  it('never blocks or throws into the caller; failures are counted and the token never logged', async () => {
    server = await startTelegramServer(TOKEN);
    const clock = { t: btc[0]!.time, now: () => clock.t };
    const logs: string[] = [];
    const oks: boolean[] = [];
    notifier = new TelegramNotifier({
      settings: settings(server.url, { TELEGRAM_TRADE_COOLDOWN_SECONDS: 0 }),
      clock,
      log: (l) => logs.push(l),
      onSent: (ok) => oks.push(ok),
    });
    // a held server: onEvent returns before the send is answered
    server.holdSends();
    notifier.onEvent(fill(btc[0]!, 'BUY', 0.01, 'entry', 'h1'));
    expect(notifier.sent).toBe(0);
    expect(server.sent).toHaveLength(0);
    server.release();
    await notifier.flush();
    expect(server.sent).toHaveLength(1);

    server.failSends(1, 500);
    notifier.onEvent(fill(eth[0]!, 'BUY', 0.1, 'entry', 'f1'));
    notifier.onEvent(fill(eth[1]!, 'SELL', 0.1, 'exit', 'f2'));
    await notifier.flush();
    expect(notifier.failures).toBe(1);
    expect(oks).toEqual([true, false, true]);
    expect(server.sent).toHaveLength(2);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain('HTTP 500');

    // unreachable API: the URL (with the token in it) must not leak into the log
    const dead = await startTelegramServer(TOKEN);
    const deadUrl = dead.url;
    await dead.close();
    const offline = new TelegramNotifier({
      settings: settings(deadUrl),
      clock,
      log: (l) => logs.push(l),
      requestTimeoutMs: 2_000,
    });
    expect(() => offline.onEvent(fill(btc[5]!, 'BUY', 0.01, 'entry', 'o1'))).not.toThrow();
    await offline.flush();
    expect(offline.failures).toBe(1);
    for (const l of logs) expect(l).not.toContain(TOKEN.split(':')[1]!);
    expect(logs.join('\n')).not.toContain(TOKEN);
  });

  it('answers commands only from the configured chat and advances the offset', async () => {
    server = await startTelegramServer(TOKEN);
    const clock = { t: btc[0]!.time, now: () => clock.t };
    let stops = 0;
    const commands: TelegramCommands = {
      status: () => 'running, paper mode',
      portfolio: () => 'equity 10000 USDT',
      positions: () => 'BTCUSDT LONG 0.01',
      stop: async () => {
        stops++;
        return 'trading stopped';
      },
    };
    notifier = new TelegramNotifier({ settings: settings(server.url), clock, commands });
    server.pushUpdate(Number(CHAT), '/status');
    server.pushUpdate(999, '/stop'); // a stranger: ignored, no reply
    server.pushUpdate(Number(CHAT), '/positions@SapphireBot');
    server.pushUpdate(Number(CHAT), '/portfolio');
    const last = server.pushUpdate(Number(CHAT), '/stop');
    server.pushUpdate(Number(CHAT), 'hello');
    expect(await notifier.pollOnce()).toBe(6);
    await notifier.flush();
    expect(server.sent.map((m) => m.text)).toEqual([
      'running, paper mode',
      'BTCUSDT LONG 0.01',
      'equity 10000 USDT',
      'trading stopped',
    ]);
    expect(server.sent.every((m) => m.chat_id === CHAT)).toBe(true);
    expect(stops).toBe(1);
    // the next poll asks past everything seen: nothing is answered twice
    expect(await notifier.pollOnce()).toBe(0);
    expect(server.offsets).toEqual([0, last + 2]);
    expect(server.sent).toHaveLength(4);
  });

  it('polls commands in the background once started', async () => {
    server = await startTelegramServer(TOKEN, 50);
    const clock = { t: btc[0]!.time, now: () => clock.t };
    let stopped: () => void = () => {};
    const gotStop = new Promise<void>((r) => (stopped = r));
    notifier = new TelegramNotifier({
      settings: settings(server.url),
      clock,
      pollTimeoutSeconds: 1,
      commands: {
        status: () => 'ok',
        portfolio: () => 'p',
        positions: () => 'none',
        stop: async () => {
          stopped();
          return 'stopped';
        },
      },
    });
    notifier.start();
    server.pushUpdate(Number(CHAT), '/stop');
    await gotStop;
    await notifier.stop();
    expect(server.sent.map((m) => m.text)).toEqual(['stopped']);
  });

  it('sends the periodic summary only when the market observer is on', async () => {
    server = await startTelegramServer(TOKEN);
    const clock = { t: btc[0]!.time, now: () => clock.t };
    const off = manualTimers();
    const quiet = new TelegramNotifier({ settings: settings(server.url), clock, timers: off.timers });
    quiet.start();
    expect(off.due).toHaveLength(0);
    await quiet.stop();

    const on = manualTimers();
    notifier = new TelegramNotifier({
      settings: settings(server.url, {
        TELEGRAM_ENABLE_MARKET_OBSERVER: true,
        TELEGRAM_SUMMARY_INTERVAL_SECONDS: 3600,
      }),
      clock,
      timers: on.timers,
    });
    notifier.start();
    expect(on.due.map((t) => t.ms)).toEqual([3_600_000]);
    notifier.onEvent(fill(btc[0]!, 'BUY', 0.01, 'entry', 's1'));
    on.fire();
    await notifier.flush();
    expect(server.sent).toHaveLength(2);
    expect(server.sent[1]!.text).toContain('Summary: 1 fills opened, 0 closed');
    expect(server.sent[1]!.text).toContain(`BTCUSDT LONG 0.01 @ ${btc[0]!.close}`);
    expect(on.due).toHaveLength(1); // re-armed
    await notifier.stop();
    on.fire(); // cleared: nothing more
    await notifier.flush();
    expect(server.sent).toHaveLength(2);
  });

  it('waits out a 429 as Telegram asks (once, bounded), and caps message length', async () => {
    server = await startTelegramServer(TOKEN);
    const clock = { t: 0, now: () => clock.t };
    const t = manualTimers();
    const oks: boolean[] = [];
    notifier = new TelegramNotifier({
      settings: settings(server.url),
      clock,
      timers: t.timers,
      onSent: (ok) => oks.push(ok),
    });
    server.failSends(1, 429, 3);
    notifier.notify('first');
    // the sender is now waiting on a 3 s timer; fire it once it is armed (bounded wait)
    for (let i = 0; i < 200 && t.due.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(t.due.map((d) => d.ms)).toEqual([3000]);
    expect(server.sent).toHaveLength(0);
    t.fire();
    await notifier.flush();
    expect(server.sent.map((m) => m.text)).toEqual(['first']);
    expect(notifier.rateLimited).toBe(1);
    expect(oks).toEqual([true]);

    // a wait longer than the bound is a failure, not a stall
    server.failSends(1, 429, 3600);
    notifier.notify('second');
    await notifier.flush();
    expect(notifier.failures).toBe(1);
    expect(oks).toEqual([true, false]);

    notifier.notify('x'.repeat(10_000));
    await notifier.flush();
    expect(server.sent[1]!.text.length).toBe(4000);
  });

  it('does nothing without a token or chat', async () => {
    server = await startTelegramServer(TOKEN);
    const clock = { t: 0, now: () => 0 };
    const n = new TelegramNotifier({ settings: settings(server.url, { TELEGRAM_BOT_TOKEN: '' }), clock });
    expect(n.enabled).toBe(false);
    n.onEvent(fill(btc[0]!, 'BUY', 0.01, 'entry', 'x'));
    n.notify('hello');
    n.start();
    expect(await n.pollOnce()).toBe(0);
    await n.stop();
    expect(server.paths).toHaveLength(0);
  });
});
