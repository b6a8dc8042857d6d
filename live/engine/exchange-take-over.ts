import type { PositionAdopted } from '../../pipelines/model/index.ts';
import { describeAdoption, planAdoption } from './adoption.ts';
import type { VenuePort } from './venue-reconciler.ts';

/** What a take-over from the exchange ended with: a reason to halt, or a problem to show (or none). */
export type TakeOverOutcome = { readonly halt: string } | { readonly problem: string | null };

/**
 * A start from the exchange, carried out (see adoption.ts for what is decided): our orders that
 * guard nothing are cancelled, the stops and take-profits kept are handed to the execution port,
 * each position goes to `adopt` (the engine journals it and puts it in between inputs), and one
 * line is logged. An exchange that cannot say what it holds is a reason to halt entries.
 */
export async function takeOverFromExchange(
  venue: VenuePort,
  opts: { botId: string; symbols: readonly string[]; time: number },
  adopt: (e: PositionAdopted) => void,
  log?: (line: string) => void,
): Promise<TakeOverOutcome> {
  let plan;
  try {
    plan = planAdoption(await venue.holdings(), opts);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { halt: `start from the exchange: its positions could not be read (${why}); entries halted` };
  }
  const refused: string[] = [];
  for (const o of plan.stale)
    await venue
      .cancel(o)
      .catch((e: unknown) => refused.push(`${o.clientOrderId}: ${e instanceof Error ? e.message : String(e)}`));
  venue.adoptWorking(plan.working);
  for (const e of plan.adopted) adopt(e);
  log?.(describeAdoption(plan));
  return { problem: refused.length > 0 ? `start from the exchange: could not cancel ${refused.join('; ')}` : null };
}
