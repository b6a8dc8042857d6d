import { z } from 'zod';
import type { JournalEntry } from '../../pipelines/ports.ts';

/**
 * What a journal line may hold. Every entry is checked on replay, so a damaged or hand-edited
 * line stops the start with its file and line instead of killing the pipeline later (a bar with
 * `close: null` used to pass and end the live pipeline on its first calculation).
 */
const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const positive = finite.refine((v) => v > 0, 'must be > 0');
const nonNegative = finite.refine((v) => v >= 0, 'must be ≥ 0');
const time = z.number().int('must be an integer epoch ms').nonnegative();
const symbol = z.string().min(1);
// JSON writes NaN and ±Infinity as null: derived figures inside a decision may be null
const derived = z.number().nullable();

export const JournalBar = z
  .object({
    kind: z.literal('bar'),
    symbol,
    openTime: time,
    time,
    open: positive,
    high: positive,
    low: positive,
    close: positive,
    volume: nonNegative,
  })
  .refine((b) => b.high >= b.low, { message: 'high must be ≥ low', path: ['high'] })
  .refine((b) => b.time > b.openTime, { message: 'time (close time) must be after openTime', path: ['time'] });

const OperatorCommand = z.object({
  kind: z.literal('command'),
  time,
  command: z.enum(['halt', 'resume', 'emergency-stop']),
  origin: z.enum(['operator', 'warm-up']),
  reason: z.string(),
});

const CancelOrder = z.object({
  kind: z.literal('cancel-order'),
  time,
  symbol,
  clientOrderId: z.string().min(1),
  origin: z.literal('operator'),
  reason: z.string(),
});

const FeatureBar = z.looseObject({
  kind: z.literal('features'),
  time,
  symbol,
  bar: JournalBar,
  atr: derived,
  lookbackReturn: derived,
  volatility: derived,
  change24h: derived,
});

const ExternalDecision = z.object({
  kind: z.literal('decision'),
  time,
  symbol,
  seq: z.number().int().nonnegative(),
  action: z.enum(['enter-long', 'enter-short', 'exit']),
  confidence: z.number().min(0).max(1),
  source: z.string().min(1),
  price: positive,
  features: FeatureBar,
  gates: z.array(z.looseObject({ gate: z.string(), passed: z.boolean(), value: derived, limit: derived })),
  opinions: z.array(z.looseObject({ agent: z.string() })),
});

const side = z.enum(['BUY', 'SELL']);
// every reason a live fill can carry: 'liquidation' comes from the exchange's autoclose orders
const orderReason = z.enum([
  'entry',
  'exit',
  'delever',
  'halt-flatten',
  'stop',
  'trailing-stop',
  'take-profit',
  'liquidation',
]);

const Order = z.object({
  kind: z.literal('order'),
  time,
  symbol,
  clientOrderId: z.string().min(1),
  side,
  type: z.enum(['MARKET', 'STOP_MARKET', 'TAKE_PROFIT_MARKET']),
  quantity: nonNegative,
  reduceOnly: z.boolean(),
  stopPrice: nonNegative,
  refPrice: nonNegative,
  maxSlippageBps: nonNegative,
  reason: orderReason,
});

const VenueEvent = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('fill'),
    time,
    symbol,
    clientOrderId: z.string().min(1),
    side,
    quantity: positive,
    price: positive,
    fee: finite,
    liquidity: z.enum(['maker', 'taker']),
    reason: orderReason,
  }),
  z.object({ kind: z.literal('order-rejected'), time, symbol, clientOrderId: z.string().min(1), reason: z.string() }),
  z.object({
    kind: z.literal('funding'),
    time,
    symbol,
    rate: finite,
    positionQty: finite,
    markPrice: nonNegative,
    amount: finite,
  }),
  z.object({
    kind: z.literal('position-adopted'),
    time,
    symbol,
    side: z.enum(['LONG', 'SHORT']),
    quantity: positive,
    entryPrice: positive,
    stopPrice: nonNegative,
    takeProfitPrice: nonNegative,
    seq: z.number().int().nonnegative(),
  }),
]);

/**
 * A snapshot record: the kernel's state after the journal's first `inputs` inputs, with the
 * fingerprint it must match to be restored (pipelines/fingerprint.ts). The states are kept as the
 * JSON text statesToJson wrote (it carries ±Infinity and NaN): `states` the stages' (and the
 * simulated venue's), `engine` the live engine's own (inputs seen, orders in flight, read models).
 * `settings` (the fingerprinted settings by stage) and `code` say what changed on a mismatch.
 */
export const SnapshotData = z.object({
  kernel: z.string().min(1),
  fingerprint: z.string().min(1),
  code: z.string().min(1),
  settings: z.string().min(2),
  inputs: z.number().int().nonnegative(),
  /** close time of the last input before the snapshot (a bar's, or a command's) */
  lastInputTime: z.number(),
  states: z.string().min(2),
  engine: z.string().min(2),
});
export type SnapshotData = z.infer<typeof SnapshotData>;

export const JournalLine = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('meta'),
    time,
    data: z.object({
      mode: z.enum(['paper', 'live']),
      botId: z.string(),
      symbols: z.array(symbol).min(1),
      // the kernel the journal is written with (journals from before snapshots have none)
      kernel: z.string().min(1).optional(),
      fingerprint: z.string().min(1).optional(),
      code: z.string().min(1).optional(),
      settings: z.string().min(2).optional(),
    }),
  }),
  z.object({ type: z.literal('bar'), time, data: JournalBar }),
  z.object({
    type: z.literal('control'),
    time,
    data: z.discriminatedUnion('kind', [OperatorCommand, CancelOrder, ExternalDecision]),
  }),
  z.object({ type: z.literal('order'), time, data: Order }),
  z.object({
    type: z.literal('venue'),
    time,
    data: z.object({ phase: z.enum(['in-input', 'between']), event: VenueEvent }),
  }),
  z.object({ type: z.literal('snapshot'), time, data: z.looseObject(SnapshotData.shape) }),
]);

export type JournalMeta = {
  mode: 'paper' | 'live';
  botId: string;
  symbols: string[];
  kernel?: string;
  fingerprint?: string;
  code?: string;
  settings?: string;
};

/** The entry, or the first problem in words naming the field (e.g. `data.close: must be > 0`). */
export function checkJournalEntry(value: unknown): { entry: JournalEntry } | { problem: string } {
  const parsed = JournalLine.safeParse(value);
  if (parsed.success) return { entry: value as JournalEntry };
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return { problem: `${where}${issue.message}` };
}
