import type { Bar } from '../../../../pipelines/model/index.ts';

/** an ORDER_TRADE_UPDATE frame as documented, for a trade at a real bar's price */
export function orderTradeUpdate(o: {
  bar: Bar;
  clientOrderId: string;
  side: 'BUY' | 'SELL';
  type?: string;
  qty: number;
  lastQty: number;
  cumQty: number;
  price: number;
  x?: string;
  X?: string;
  commission?: number;
  maker?: boolean;
  tradeTime?: number;
}): unknown {
  const x = o.x ?? 'TRADE';
  const base: Record<string, unknown> = {
    s: o.bar.symbol,
    c: o.clientOrderId,
    S: o.side,
    o: o.type ?? 'MARKET',
    f: 'GTC',
    q: String(o.qty),
    p: '0',
    ap: String(o.price),
    sp: '0',
    x,
    X: o.X ?? (o.cumQty >= o.qty ? 'FILLED' : 'PARTIALLY_FILLED'),
    i: 8886774,
    l: String(o.lastQty),
    z: String(o.cumQty),
    L: String(o.price),
    T: o.tradeTime ?? o.bar.time + 1000,
    t: 42,
    b: '0',
    a: '0',
    m: o.maker ?? false,
    R: false,
    wt: 'CONTRACT_PRICE',
    ot: o.type ?? 'MARKET',
    ps: 'BOTH',
    cp: false,
    rp: '0',
  };
  if (o.commission !== undefined) {
    base.N = 'USDT';
    base.n = String(o.commission);
  }
  return {
    e: 'ORDER_TRADE_UPDATE',
    E: (o.tradeTime ?? o.bar.time + 1000) + 1,
    T: o.tradeTime ?? o.bar.time + 1000,
    o: base,
  };
}
