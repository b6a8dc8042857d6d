/**
 * The netting rule for several strategies on one symbol, in one-way position mode (one position
 * per symbol, long or short). Pure: wishes in, one outcome out.
 *
 * - The position's owner (the strategy whose entry signal opened it) may close it with its exit
 *   rule: that wins over everything.
 * - Every strategy with a view agrees → one signal, from the strongest (the first on a tie).
 * - They disagree while a position is held → the first strategy against the position speaks: its
 *   signal closes the position (consensus turns a signal against a position into an exit, never a
 *   reversal on the same bar).
 * - They disagree while flat → no entry: the conflict is reported, not resolved by a guess.
 */

export interface Wish {
  direction: 1 | -1;
  strength: number;
}

export type NetOutcome =
  | { readonly kind: 'none' }
  | { readonly kind: 'signal'; readonly index: number; readonly direction: 1 | -1; readonly strength: number }
  | { readonly kind: 'conflict'; readonly long: number; readonly short: number };

export const NO_SIGNAL: NetOutcome = Object.freeze({ kind: 'none' });

/**
 * @param wishes one per strategy, in the declared order (null = no view)
 * @param held the side held on the symbol (0 = flat)
 * @param ownerExits index of the owner when its exit rule fired, else −1
 */
export function netWishes(wishes: readonly (Wish | null)[], held: -1 | 0 | 1, ownerExits: number): NetOutcome {
  if (ownerExits >= 0 && held !== 0)
    return { kind: 'signal', index: ownerExits, direction: held > 0 ? -1 : 1, strength: 1 };
  let best = -1;
  let firstLong = -1;
  let firstShort = -1;
  for (let i = 0; i < wishes.length; i++) {
    const w = wishes[i];
    if (w === null || w === undefined) continue;
    if (w.direction > 0) {
      if (firstLong < 0) firstLong = i;
    } else if (firstShort < 0) firstShort = i;
    if (best < 0 || w.strength > wishes[best]!.strength) best = i;
  }
  if (best < 0) return NO_SIGNAL;
  if (firstLong >= 0 && firstShort >= 0) {
    if (held === 0) return { kind: 'conflict', long: firstLong, short: firstShort };
    const against = held > 0 ? firstShort : firstLong;
    return { kind: 'signal', index: against, direction: held > 0 ? -1 : 1, strength: wishes[against]!.strength };
  }
  const w = wishes[best]!;
  return { kind: 'signal', index: best, direction: w.direction, strength: w.strength };
}
