import type { Engine } from './matching.kernel.ts';
import { money } from './payloads.ts';

/** One row of an account's income ledger (`GET /fapi/v1/income`). Only funding is recorded. */
export interface IncomeEntry {
  readonly account: string;
  readonly symbol: string;
  readonly incomeType: 'FUNDING_FEE';
  /** signed balance change: negative = paid */
  readonly income: number;
  readonly time: number;
  readonly tranId: number;
}

/**
 * The funding ledger behind `/fapi/v1/income` and the `bc` of ACCOUNT_UPDATE FUNDING_FEE: each
 * funding settlement is the balance change it made, per account, with a tranId.
 */
export class IncomeLedger {
  private readonly rows: IncomeEntry[] = [];
  private nextTranId = 9_000_000_001;

  /** every account's balance, taken just before a settlement */
  balances(engine: Engine): Map<string, number> {
    return new Map([...engine.accounts.values()].map((a) => [a.id, a.balance]));
  }

  /** records what a settlement of `symbol` at `time` moved, against the balances taken before it */
  recordFunding(engine: Engine, before: ReadonlyMap<string, number>, symbol: string, time: number): void {
    for (const a of engine.accounts.values()) {
      const change = a.balance - (before.get(a.id) ?? a.balance);
      if (change === 0) continue;
      this.rows.push({
        account: a.id,
        symbol,
        incomeType: 'FUNDING_FEE',
        income: change,
        time,
        tranId: this.nextTranId++,
      });
    }
  }

  /** the balance change of a settlement (the `bc` of its ACCOUNT_UPDATE), 0 when none */
  change(account: string, symbol: string, time: number): number {
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const r = this.rows[i]!;
      if (r.account === account && r.symbol === symbol && r.time === time) return r.income;
    }
    return 0;
  }

  /** `GET /fapi/v1/income`: oldest first from startTime (else the most recent `limit`), ≤ 1000 */
  query(
    account: string,
    q: { symbol?: string; incomeType?: string; startTime?: number; endTime?: number; limit?: number },
  ): Record<string, unknown>[] {
    const limit = Math.min(q.limit ?? 100, 1000);
    const rows = this.rows.filter(
      (r) =>
        r.account === account &&
        (q.symbol === undefined || r.symbol === q.symbol) &&
        (q.incomeType === undefined || r.incomeType === q.incomeType) &&
        (q.startTime === undefined || r.time >= q.startTime) &&
        (q.endTime === undefined || r.time <= q.endTime),
    );
    const picked = q.startTime !== undefined ? rows.slice(0, limit) : rows.slice(-limit);
    return picked.map((r) => ({
      symbol: r.symbol,
      incomeType: r.incomeType,
      income: money(r.income),
      asset: 'USDT',
      info: '',
      time: r.time,
      tranId: r.tranId,
      tradeId: '',
    }));
  }
}
