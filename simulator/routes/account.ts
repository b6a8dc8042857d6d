import type { SimContext } from '../context.ts';
import { bad, invalid, missing } from '../api-error.ts';
import {
  accountOf,
  availableBalance,
  crossWallet,
  isIsolated,
  leverageOf,
  liquidationPriceOf,
  openOrderMargin,
  positionMaintenance,
  positionOf,
  setLeverage,
  setMarginType,
  unrealised,
  type AccountState,
} from '../matching.kernel.ts';
import { maxNotional } from '../../pipelines/margin/margin.kernel.ts';
import { money, positionRow } from '../payloads.ts';
import { boolParam, intParam, symbolParam, type Ctx, type Reply, type RouteTable } from './route.ts';

const maxNotionalOf = (sim: SimContext, symbol: string, lev: number): string => {
  const b = sim.brackets.get(symbol);
  return b === undefined ? '1000000' : String(maxNotional(b, lev));
};

function positionRows(sim: SimContext, account: string, symbol?: string): Record<string, unknown>[] {
  const a = accountOf(sim.engine, account);
  return sim.symbols
    .filter((s) => symbol === undefined || s === symbol)
    .map((s) =>
      positionRow(
        sim.engine,
        positionOf(a, s),
        leverageOf(sim.engine, a, s),
        sim.fmtOf(s),
        0,
        {
          liquidationPrice: liquidationPriceOf(sim.engine, a, s),
          maxNotionalValue: maxNotionalOf(sim, s, leverageOf(sim.engine, a, s)),
        },
        isIsolated(a, s),
      ),
    );
}

/** the /fapi/v1/leverageBracket reply: a list, or one object when a symbol is asked for */
function bracketRows(sim: SimContext, ctx: Ctx): unknown {
  const symbol = symbolParam(sim, ctx, false);
  if (symbol !== undefined && !sim.brackets.has(symbol)) throw bad(-1121, 'Invalid symbol.');
  const row = (s: string): Record<string, unknown> => ({ symbol: s, brackets: sim.brackets.get(s) ?? [] });
  if (symbol !== undefined) return row(symbol);
  return sim.symbols.filter((s) => sim.brackets.has(s)).map(row);
}

interface Totals {
  upnl: number;
  /** unrealised PnL of the cross positions only */
  crossUpnl: number;
  crossWallet: number;
  positionMargin: number;
  orderMargin: number;
  /** maintenance margin of every position, cross and isolated */
  maint: number;
  available: number;
}

function totals(sim: SimContext, a: AccountState): Totals {
  let upnl = 0;
  let crossUpnl = 0;
  let positionMargin = 0;
  let maint = 0;
  for (const p of a.positions.values()) {
    if (p.amount === 0) continue;
    const u = unrealised(sim.engine, p);
    upnl += u;
    if (!isIsolated(a, p.symbol)) crossUpnl += u;
    positionMargin += (Math.abs(p.amount) * (sim.engine.last.get(p.symbol) ?? 0)) / leverageOf(sim.engine, a, p.symbol);
    maint += positionMaintenance(sim.engine, p);
  }
  return {
    upnl,
    crossUpnl,
    crossWallet: crossWallet(a),
    positionMargin,
    orderMargin: openOrderMargin(sim.engine, a),
    maint,
    available: availableBalance(sim.engine, a),
  };
}

function balanceRows(sim: SimContext, account: string, now: number): unknown[] {
  const a = accountOf(sim.engine, account);
  const t = totals(sim, a);
  return [
    {
      accountAlias: 'SimAccount',
      asset: 'USDT',
      balance: money(a.balance),
      crossWalletBalance: money(t.crossWallet),
      crossUnPnl: money(t.crossUpnl),
      availableBalance: money(t.available),
      maxWithdrawAmount: money(Math.max(0, t.available)),
      marginAvailable: true,
      updateTime: now,
    },
  ];
}

function accountPositions(sim: SimContext, a: AccountState): unknown[] {
  return sim.symbols.map((s) => {
    const p = positionOf(a, s);
    const lev = leverageOf(sim.engine, a, s);
    const notional = Math.abs(p.amount) * (sim.engine.last.get(s) ?? 0);
    const isolated = isIsolated(a, s);
    return {
      symbol: s,
      initialMargin: money(notional / lev),
      maintMargin: money(p.amount === 0 ? 0 : positionMaintenance(sim.engine, p)),
      unrealizedProfit: money(unrealised(sim.engine, p)),
      positionInitialMargin: money(notional / lev),
      openOrderInitialMargin: '0',
      leverage: String(lev),
      isolated,
      entryPrice: p.entryPrice.toFixed(8),
      maxNotional: maxNotionalOf(sim, s, lev),
      positionSide: 'BOTH',
      positionAmt: sim.fmtOf(s).qty(p.amount),
      notional: money(p.amount * (sim.engine.last.get(s) ?? 0)),
      isolatedWallet: isolated ? money(p.isolatedWallet) : '0',
      updateTime: p.updateTime,
    };
  });
}

function accountJson(sim: SimContext, account: string, now: number): unknown {
  const a = accountOf(sim.engine, account);
  const t = totals(sim, a);
  const maint = t.maint;
  const common = {
    crossWalletBalance: money(t.crossWallet),
    crossUnPnl: money(t.crossUpnl),
    availableBalance: money(t.available),
    maxWithdrawAmount: money(Math.max(0, t.available)),
  };
  return {
    feeTier: 0,
    canTrade: true,
    canDeposit: true,
    canWithdraw: true,
    updateTime: now,
    totalInitialMargin: money(t.positionMargin + t.orderMargin),
    totalMaintMargin: money(maint),
    totalWalletBalance: money(a.balance),
    totalUnrealizedProfit: money(t.upnl),
    totalMarginBalance: money(a.balance + t.upnl),
    totalPositionInitialMargin: money(t.positionMargin),
    totalOpenOrderInitialMargin: money(t.orderMargin),
    totalCrossWalletBalance: money(t.crossWallet),
    totalCrossUnPnl: money(t.crossUpnl),
    availableBalance: common.availableBalance,
    maxWithdrawAmount: common.maxWithdrawAmount,
    assets: [
      {
        asset: 'USDT',
        walletBalance: money(a.balance),
        unrealizedProfit: money(t.upnl),
        marginBalance: money(a.balance + t.upnl),
        maintMargin: money(maint),
        initialMargin: money(t.positionMargin + t.orderMargin),
        positionInitialMargin: money(t.positionMargin),
        openOrderInitialMargin: money(t.orderMargin),
        ...common,
        marginAvailable: true,
        updateTime: now,
      },
    ],
    positions: accountPositions(sim, a),
  };
}

function changeLeverage(sim: SimContext, ctx: Ctx): Reply {
  const s = symbolParam(sim, ctx);
  const lev = intParam(ctx, 'leverage');
  if (lev === undefined) throw missing('leverage');
  const r = setLeverage(sim.engine, ctx.account, s, lev);
  if (r) throw bad(r.code, r.msg);
  return { body: { leverage: lev, maxNotionalValue: maxNotionalOf(sim, s, lev), symbol: s } };
}

function changeMarginType(sim: SimContext, ctx: Ctx): Reply {
  const s = symbolParam(sim, ctx);
  const type = ctx.params.get('marginType')?.toUpperCase();
  if (type === undefined || type === '') throw missing('marginType');
  if (type !== 'ISOLATED' && type !== 'CROSSED') throw invalid('marginType');
  const r = setMarginType(sim.engine, ctx.account, s, type);
  if (r) throw bad(r.code, r.msg);
  return { body: { code: 200, msg: 'success' } };
}

function changePositionMode(ctx: Ctx): Reply {
  const dual = boolParam(ctx, 'dualSidePosition');
  if (dual === undefined) throw missing('dualSidePosition');
  if (!dual) throw bad(-4059, 'No need to change position side.');
  // a documented limit of the simulator: positions are one-way (BOTH)
  throw bad(-1000, 'Hedge mode is not supported by the Sapphire simulator (one-way mode only).');
}

/** Account views and settings: balances, positions, margin, leverage, fees and the income ledger. */
export function accountRoutes(sim: SimContext): RouteTable {
  const accountRoute = { weight: 5, handle: (ctx: Ctx) => ({ body: accountJson(sim, ctx.account, sim.eventTime()) }) };
  return {
    'GET income': {
      weight: 30,
      handle: (ctx) => ({
        body: sim.income.query(ctx.account, {
          symbol: symbolParam(sim, ctx, false),
          incomeType: ctx.params.get('incomeType') ?? undefined,
          startTime: intParam(ctx, 'startTime'),
          endTime: intParam(ctx, 'endTime'),
          limit: intParam(ctx, 'limit'),
        }),
      }),
    },
    'GET balance': {
      versions: [2, 3],
      weight: 5,
      handle: (ctx) => ({ body: balanceRows(sim, ctx.account, sim.eventTime()) }),
    },
    'GET account': { ...accountRoute, versions: [2, 3, 4] },
    'GET accountWithJoinMargin': { ...accountRoute, versions: [3] },
    'GET positionRisk': {
      versions: [2, 3],
      weight: 5,
      handle: (ctx) => ({ body: positionRows(sim, ctx.account, symbolParam(sim, ctx, false)) }),
    },
    'POST leverage': { handle: (ctx) => changeLeverage(sim, ctx) },
    'GET leverageBracket': { handle: (ctx) => ({ body: bracketRows(sim, ctx) }) },
    'POST marginType': { handle: (ctx) => changeMarginType(sim, ctx) },
    'GET positionSide/dual': { weight: 30, handle: () => ({ body: { dualSidePosition: false } }) },
    'POST positionSide/dual': { handle: (ctx) => changePositionMode(ctx) },
    'GET commissionRate': {
      weight: 20,
      handle: (ctx) => ({
        body: {
          symbol: symbolParam(sim, ctx),
          makerCommissionRate: String(sim.engine.cfg.makerFee),
          takerCommissionRate: String(sim.engine.cfg.takerFee),
        },
      }),
    },
  };
}
