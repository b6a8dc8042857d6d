import type { FundingPayment } from '../../pipelines/model/index.ts';
import type { AccountUpdate, FundingIncome } from './user-events.ts';

export interface FundingIssue {
  readonly kind: 'funding-unattributed';
  readonly clientOrderId: '';
  readonly detail: string;
}

export interface FundingAttributionOptions {
  /** the settlement asset; funding in another asset is reported, not converted */
  readonly quote: string;
  /** the last close of the symbol (NaN when none yet) */
  readonly markOf: (symbol: string) => number;
  /** the time of the last event passed on: a payment is never stamped before it */
  readonly notBefore: () => number;
  readonly emit: (payment: FundingPayment) => void;
  readonly onIssue?: (issue: FundingIssue) => void;
}

/**
 * Funding the exchange settled, as the pipeline's FundingPayment for the symbol it belongs to.
 * ACCOUNT_UPDATE FUNDING_FEE: isolated margin lists the position; cross margin only the balance,
 * so it must be our one open position, else it is reported as unattributed. A FUNDING_FEE with a
 * zero balance change is left to the user stream, which reads the amount from the income ledger
 * and sends it as a funding-income event (the ledger names the symbol).
 */
export function fundingAttribution(opts: FundingAttributionOptions) {
  /** signed position per symbol: from ACCOUNT_UPDATE positions, moved by our fills in between */
  const positions = new Map<string, number>();
  const pay = (symbol: string, change: number, time: number): void => {
    const qty = positions.get(symbol) ?? 0;
    const mark = opts.markOf(symbol);
    const amount = -change;
    opts.emit({
      kind: 'funding',
      time: Math.max(time, opts.notBefore()),
      symbol,
      rate: qty !== 0 && mark > 0 ? amount / (qty * mark) : 0,
      positionQty: qty,
      markPrice: mark,
      amount,
    });
  };
  const unattributed = (detail: string): void =>
    opts.onIssue?.({ kind: 'funding-unattributed', clientOrderId: '', detail });
  return {
    /** the exchange says what is held (read at a restart) */
    holds(symbol: string, signedQty: number): void {
      positions.set(symbol, signedQty);
    },
    /** a fill moved the position */
    moved(symbol: string, signedQty: number): void {
      positions.set(symbol, (positions.get(symbol) ?? 0) + signedQty);
    },
    onAccountUpdate(u: AccountUpdate): void {
      for (const p of u.positions) if (p.positionSide === 'BOTH') positions.set(p.symbol, p.positionAmt);
      if (u.reason !== 'FUNDING_FEE') return;
      const change = u.balances.find((b) => b.asset === opts.quote)?.change ?? 0;
      // bc "0": the user stream reads the amount from /fapi/v1/income (a funding-income event)
      if (change === 0) return;
      const listed = u.positions.filter((p) => p.positionAmt !== 0);
      const open = [...positions].filter(([, q]) => q !== 0);
      const symbol = listed.length === 1 ? listed[0]!.symbol : open.length === 1 ? open[0]![0] : undefined;
      if (symbol === undefined)
        return unattributed(`funding ${change} ${opts.quote} with ${open.length} open positions`);
      pay(symbol, change, u.eventTime);
    },
    /** the ledger names the symbol: no attribution needed */
    onFundingIncome(u: FundingIncome): void {
      if (u.asset !== opts.quote || u.symbol === '')
        return unattributed(`funding ${u.income} ${u.asset} (tranId ${u.tranId}) for symbol '${u.symbol}'`);
      pay(u.symbol, u.income, u.time);
    },
  };
}
