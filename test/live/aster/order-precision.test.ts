import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatDecimal, prepareOrder, stepDecimals } from '../../../live/aster/order-precision.ts';
import { ExchangeInfoSchema, toSymbolFilters } from '../../../live/aster/schemas.ts';
import type { SymbolFilters } from '../../../pipelines/model/index.ts';
import { fixtureBars } from '../../kit/fixture-bars.ts';

// the real exchangeInfo capture of 2026-01-12 shipped with the backtester
const RAW = JSON.parse(
  readFileSync(new URL('../../../pipelines/aster-exchange-info-2026-01-12.json', import.meta.url), 'utf8'),
);
const INFO = ExchangeInfoSchema.parse(RAW);
const FILTERS = new Map(INFO.symbols.map((s) => [s.symbol, toSymbolFilters(s)]));
const f = (s: string): SymbolFilters => FILTERS.get(s)!;
const ETH = fixtureBars('ETHUSDT');

describe('formatting', () => {
  it('prints numbers with the step decimals and no float noise', () => {
    expect(stepDecimals(0.001)).toBe(3);
    expect(stepDecimals(1e-7)).toBe(7);
    expect(stepDecimals(1)).toBe(0);
    expect(formatDecimal(0.1 + 0.2, 0.1)).toBe('0.3');
    expect(formatDecimal(3, 1)).toBe('3');
    expect(formatDecimal(0.0003, 0.0001)).toBe('0.0003');
    expect(formatDecimal(1e-7 * 3, 1e-7)).toBe('0.0000003');
  });
});

describe('prepareOrder on real filters and real prices', () => {
  const mark = ETH[100]!.close;

  it('LIMIT: BUY price rounds down, SELL up, to the 0.10 tick; quantity floors to 0.001', () => {
    const buy = prepareOrder(
      { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', price: mark + 0.07, quantity: 0.01999, newClientOrderId: 'a' },
      f('ETHUSDT'),
      mark,
    );
    const sell = prepareOrder(
      { symbol: 'ETHUSDT', side: 'SELL', type: 'LIMIT', price: mark + 0.03, quantity: 0.01999, newClientOrderId: 'b' },
      f('ETHUSDT'),
      mark,
    );
    expect(buy.ok && sell.ok).toBe(true);
    if (!buy.ok || !sell.ok) return;
    const tick = 0.1;
    expect(Number(buy.params.price)).toBeLessThanOrEqual(mark + 0.07);
    expect(Number(buy.params.price)).toBeGreaterThan(mark + 0.07 - tick);
    expect(Number(sell.params.price)).toBeGreaterThanOrEqual(mark + 0.03);
    expect(Number(sell.params.price)).toBeLessThan(mark + 0.03 + tick);
    expect(buy.params.quantity).toBe('0.019');
    expect(buy.params.timeInForce).toBe('GTC');
  });

  it('MARKET uses MARKET_LOT_SIZE bounds (ETH max 2000) and the mark for min notional', () => {
    const big = prepareOrder(
      { symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: 2500, newClientOrderId: 'c' },
      f('ETHUSDT'),
      mark,
    );
    expect(big).toMatchObject({ ok: false, rule: 'max-qty' });
    const small = prepareOrder(
      { symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: 0.001, newClientOrderId: 'd' },
      f('ETHUSDT'),
      mark,
    );
    expect(small).toMatchObject({ ok: false, rule: 'min-notional' }); // ~3.2 USDT < 5
  });

  it('TRAILING_STOP_MARKET: callbackRate bounds and activation price rounding', () => {
    const ok = prepareOrder(
      {
        symbol: 'ETHUSDT',
        side: 'SELL',
        type: 'TRAILING_STOP_MARKET',
        quantity: 0.01,
        callbackRate: 1,
        activationPrice: mark + 0.01,
        reduceOnly: true,
        newClientOrderId: 'e',
      },
      f('ETHUSDT'),
      mark,
    );
    expect(ok.ok).toBe(true);
    if (ok.ok) {
      expect(ok.params.callbackRate).toBe('1');
      expect(Number(ok.params.activationPrice)).toBeGreaterThanOrEqual(mark + 0.01);
      expect(ok.params.reduceOnly).toBe('true');
    }
    const low = prepareOrder(
      {
        symbol: 'ETHUSDT',
        side: 'SELL',
        type: 'TRAILING_STOP_MARKET',
        quantity: 0.01,
        callbackRate: 0.05,
        newClientOrderId: 'f',
      },
      f('ETHUSDT'),
      mark,
    );
    expect(low).toMatchObject({ ok: false, rule: 'callback-rate' });
  });

  it('price below minPrice and missing mandatory fields are refused', () => {
    expect(
      prepareOrder(
        { symbol: 'ETHUSDT', side: 'BUY', type: 'STOP', quantity: 1, price: 30, stopPrice: 30, newClientOrderId: 'g' },
        f('ETHUSDT'),
        undefined,
      ),
    ).toMatchObject({ ok: false, rule: 'min-price' });
    expect(
      prepareOrder(
        { symbol: 'ETHUSDT', side: 'BUY', type: 'STOP_MARKET', quantity: 1, newClientOrderId: 'h' },
        f('ETHUSDT'),
        mark,
      ),
    ).toMatchObject({ ok: false, rule: 'mandatory' });
  });

  it('AVAXUSDT has a whole-number step: 3.7 becomes 3', () => {
    const r = prepareOrder(
      { symbol: 'AVAXUSDT', side: 'SELL', type: 'MARKET', quantity: 3.7, reduceOnly: true, newClientOrderId: 'i' },
      f('AVAXUSDT'),
      undefined,
    );
    expect(r).toMatchObject({ ok: true, params: { quantity: '3' } });
  });
});
