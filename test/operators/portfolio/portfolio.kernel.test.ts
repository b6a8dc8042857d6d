import { describe, expect, it } from 'vitest';
import { Ledger } from '../../../operators/portfolio/portfolio.kernel.ts';

describe('ledger', () => {
  it('keeps balance = initial + realised − fees − funding through a long round trip', () => {
    const l = new Ledger(1000);
    expect(l.applyFill('BTCUSDT', 'BUY', 0.01, 50_000, 0.175, 1, 'entry')).toBeNull();
    l.applyFunding('BTCUSDT', 0.05);
    const t = l.applyFill('BTCUSDT', 'SELL', 0.01, 51_000, 0.1785, 2, 'take-profit');
    expect(t).toMatchObject({ side: 'LONG', pnl: 10, exitReason: 'take-profit', quantity: 0.01 });
    expect(t!.fees).toBeCloseTo(0.3535, 12);
    expect(t!.funding).toBeCloseTo(0.05, 12);
    expect(l.balance).toBeCloseTo(1000 + 10 - 0.3535 - 0.05, 10);
    expect(l.positions.size).toBe(0);
  });

  it('averages the entry when adding and realises PnL on partial reductions of a short', () => {
    const l = new Ledger(1000);
    l.applyFill('ETHUSDT', 'SELL', 1, 3000, 0, 1, 'entry');
    l.applyFill('ETHUSDT', 'SELL', 1, 3100, 0, 2, 'entry');
    expect(l.positions.get('ETHUSDT')!.entry).toBe(3050);
    expect(l.applyFill('ETHUSDT', 'BUY', 0.5, 2950, 0, 3, 'delever')).toBeNull();
    expect(l.realized).toBeCloseTo(50, 10);
    l.mark('ETHUSDT', 3000);
    expect(l.unrealized()).toBeCloseTo(1.5 * 50, 10);
    const t = l.applyFill('ETHUSDT', 'BUY', 1.5, 3000, 0, 4, 'stop');
    expect(t).toMatchObject({ side: 'SHORT', quantity: 2, exitReason: 'stop' });
    expect(t!.pnl).toBeCloseTo(50 + 75, 10);
  });

  it('closes one trade and opens the remainder the other way on a flip', () => {
    const l = new Ledger(1000);
    l.applyFill('SOLUSDT', 'BUY', 2, 100, 0.2, 1, 'entry');
    const t = l.applyFill('SOLUSDT', 'SELL', 3, 110, 0.3, 2, 'exit');
    expect(t).toMatchObject({ side: 'LONG', pnl: 20, quantity: 2 });
    expect(t!.fees).toBeCloseTo(0.2 + 0.2, 12);
    const p = l.positions.get('SOLUSDT')!;
    expect(p.qty).toBe(-1);
    expect(p.entry).toBe(110);
    expect(p.fees).toBeCloseTo(0.1, 12);
  });

  it('refuses an invalid fill rather than booking a NaN', () => {
    expect(() => new Ledger(1).applyFill('X', 'BUY', Number.NaN, 1, 0, 0, 'entry')).toThrow(/not a valid fill/);
  });
});
