import type { SimContext } from './context.ts';
import { accountOf, crossWallet, isIsolated, positionOf, unrealised, type EngineEvent } from './matching.kernel.ts';
import { money, orderTradeUpdate } from './payloads.ts';

/** ACCOUNT_UPDATE as the exchange sends it: `bc` is the balance change of a funding settlement, else "0" */
export function accountUpdate(
  sim: SimContext,
  account: string,
  reason: 'ORDER' | 'FUNDING_FEE',
  symbols: readonly string[],
  eventTime: number,
  time: number,
): unknown {
  const a = accountOf(sim.engine, account);
  const funding = reason === 'FUNDING_FEE';
  const bc = funding && symbols.length === 1 ? money(sim.income.change(account, symbols[0]!, time)) : '0';
  const P = funding
    ? []
    : symbols.map((s) => {
        const p = positionOf(a, s);
        return {
          s,
          pa: sim.fmtOf(s).qty(p.amount),
          ep: p.entryPrice.toFixed(5),
          cr: money(a.realized.get(s) ?? 0),
          up: money(unrealised(sim.engine, p)),
          mt: isIsolated(a, s) ? 'isolated' : 'cross',
          iw: isIsolated(a, s) ? money(p.isolatedWallet) : '0.00000000',
          ps: 'BOTH',
        };
      });
  return {
    e: 'ACCOUNT_UPDATE',
    E: eventTime,
    T: time,
    a: { m: reason, B: [{ a: 'USDT', wb: money(a.balance), cw: money(crossWallet(a)), bc }], P },
  };
}

/**
 * Engine events out to the sockets: order and account events to the account's user-data stream
 * (built only when someone listens), the account's own fills to the public aggTrade stream.
 */
export function dispatchEvents(sim: SimContext, events: readonly EngineEvent[], now: number): void {
  for (const ev of events) {
    if (ev.kind !== 'trade' && !sim.hub.listening(ev.account)) continue;
    if (ev.kind === 'order') {
      sim.hub.toUser(ev.account, orderTradeUpdate(ev.order, ev.execType, ev.fill, sim.fmtOf(ev.order.symbol), now));
    } else if (ev.kind === 'account') {
      const time = ev.reason === 'FUNDING_FEE' ? ev.time : now;
      sim.hub.toUser(ev.account, accountUpdate(sim, ev.account, ev.reason, ev.symbols, now, time));
    } else {
      const f = sim.fmtOf(ev.symbol);
      sim.hub.publish(`${ev.symbol.toLowerCase()}@aggTrade`, {
        e: 'aggTrade',
        E: now,
        s: ev.symbol,
        a: sim.seq.trade++,
        p: f.price(ev.price),
        q: f.qty(ev.qty),
        f: ev.tradeId,
        l: ev.tradeId,
        T: now,
        m: ev.buyerIsMaker,
      });
    }
  }
}
