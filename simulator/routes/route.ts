import type { SimContext } from '../context.ts';
import { bad, invalid, missing } from '../api-error.ts';

/** One authenticated (or public) REST call, after auth: `params` holds only what counts. */
export interface Ctx {
  method: string;
  name: string;
  version: number;
  params: URLSearchParams;
  account: string;
  /** wall time of the request */
  now: number;
}

export interface Reply {
  status?: number;
  body: unknown;
}

export type Security = 'NONE' | 'KEY' | 'SIGNED';

export interface Route {
  handle(ctx: Ctx): Reply;
  /** default SIGNED */
  security?: Security | ((version: number) => Security);
  /** documented versions (reference/aster-api.md §2); default v1 (HMAC) and v3 (EIP-712) */
  versions?: readonly number[];
  /** request weight; default 1 */
  weight?: number | ((params: URLSearchParams) => number);
}

/** keyed "METHOD name", e.g. "GET klines" */
export type RouteTable = Record<string, Route>;

export function symbolParam(sim: SimContext, ctx: Ctx): string;
export function symbolParam(sim: SimContext, ctx: Ctx, required: false): string | undefined;
export function symbolParam(sim: SimContext, ctx: Ctx, required = true): string | undefined {
  const s = ctx.params.get('symbol');
  if (s === null || s === '') {
    if (required) throw missing('symbol');
    return undefined;
  }
  if (!sim.filters.has(s)) throw bad(-1121, 'Invalid symbol.');
  return s;
}

export function intParam(ctx: Ctx, name: string): number | undefined {
  const v = ctx.params.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v))
    throw bad(-1100, `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.`);
  return Number(v);
}

export function boolParam(ctx: Ctx, name: string): boolean | undefined {
  const v = ctx.params.get(name);
  if (v === null || v === '') return undefined;
  const l = v.toLowerCase();
  if (l !== 'true' && l !== 'false') throw invalid(name);
  return l === 'true';
}

/** a positive `limit`, default `fallback`, capped at `max` */
export function limitParam(ctx: Ctx, fallback: number, max: number): number {
  const limit = Math.min(intParam(ctx, 'limit') ?? fallback, max);
  if (limit <= 0) throw invalid('limit');
  return limit;
}

/** a JSON-array parameter (batchOrders, orderIdList, origClientOrderIdList), name matched case-insensitively */
export function jsonList(ctx: Ctx, name: string): unknown[] {
  let raw: string | null = ctx.params.get(name);
  if (raw === null) for (const [k, v] of ctx.params) if (k.toLowerCase() === name.toLowerCase()) raw = v;
  if (raw === null || raw === '') throw missing(name);
  try {
    const v = JSON.parse(raw) as unknown;
    if (!Array.isArray(v)) throw new Error('not a list');
    return v;
  } catch {
    throw invalid(name);
  }
}

/** one object for a symbol, else the list over the simulator's symbols */
export function oneOrAll(sim: SimContext, ctx: Ctx, one: (symbol: string) => unknown): unknown {
  const s = symbolParam(sim, ctx, false);
  return s ? one(s) : sim.symbols.map(one);
}
