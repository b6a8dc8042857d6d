/**
 * Did-you-mean for command-line words: the nearest candidate by edit distance (adjacent swaps count
 * as one edit), offered only when it is close enough to be a plausible typo.
 */

/** Optimal-string-alignment distance between a and b, case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows = s.length + 1;
  const cols = t.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[s.length]![t.length]!;
}

/**
 * The candidate nearest to `word`, or undefined when none is within a third of the word's length
 * (at least 2 edits), or when a candidate contains the word as a prefix of at least 3 letters.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const distance = editDistance(word, c);
    if (distance < bestDistance) {
      best = c;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  if (best !== undefined && bestDistance <= limit) return best;
  if (word.length >= 3) return candidates.find((c) => c.toLowerCase().startsWith(word.toLowerCase()));
  return undefined;
}

/** ` (did you mean X?)` or nothing. */
export function didYouMean(
  word: string,
  candidates: readonly string[],
  show: (c: string) => string = (c) => c,
): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : ` (did you mean ${show(c)}?)`;
}
