/**
 * Argsort that orders TIES the way numpy 1.24's default `np.argsort` (introsort: median-of-3
 * quicksort, insertion sort up to 16 elements, heapsort past the depth limit) does. Optuna assigns
 * the neighbour-gap bandwidths through `np.argsort(mus)`; with repeated observations (grids,
 * integers) and unequal recency weights, which duplicate gets which bandwidth changes the density,
 * so matching Optuna exactly needs the same (unstable) tie order. Values must not be NaN.
 */
const SMALL = 15;

export function argsortLikeNumpy(values: ArrayLike<number>): number[] {
  const n = values.length;
  const idx = Array.from({ length: n }, (_, i) => i);
  if (n < 2) return idx;
  const v = values;
  const swap = (a: number, b: number) => {
    const t = idx[a]!;
    idx[a] = idx[b]!;
    idx[b] = t;
  };
  const stack: [number, number, number][] = [];
  let lo = 0;
  let hi = n - 1;
  let depth = 2 * Math.floor(Math.log2(n));
  for (;;) {
    if (depth < 0) {
      heapsort(v, idx, lo, hi - lo + 1);
    } else {
      while (hi - lo > SMALL) {
        const mid = lo + ((hi - lo) >> 1);
        if (v[idx[mid]!]! < v[idx[lo]!]!) swap(mid, lo);
        if (v[idx[hi]!]! < v[idx[mid]!]!) swap(hi, mid);
        if (v[idx[mid]!]! < v[idx[lo]!]!) swap(mid, lo);
        const pivot = v[idx[mid]!]!;
        let i = lo;
        let j = hi - 1;
        swap(mid, j);
        for (;;) {
          do i++;
          while (v[idx[i]!]! < pivot);
          do j--;
          while (pivot < v[idx[j]!]!);
          if (i >= j) break;
          swap(i, j);
        }
        swap(i, hi - 1);
        // the larger side waits on the stack, the loop continues on the smaller one
        depth--;
        if (i - lo < hi - i) {
          stack.push([i + 1, hi, depth]);
          hi = i - 1;
        } else {
          stack.push([lo, i - 1, depth]);
          lo = i + 1;
        }
      }
      for (let i = lo + 1; i <= hi; i++) {
        const k = idx[i]!;
        const x = v[k]!;
        let j = i;
        while (j > lo && x < v[idx[j - 1]!]!) {
          idx[j] = idx[j - 1]!;
          j--;
        }
        idx[j] = k;
      }
    }
    const next = stack.pop();
    if (!next) break;
    [lo, hi, depth] = next;
  }
  return idx;
}

/** numpy's heapsort fallback on idx[start, start + count), 1-based heap as numpy writes it. */
function heapsort(v: ArrayLike<number>, idx: number[], start: number, count: number): void {
  const at = (p: number) => idx[start + p - 1]!;
  const set = (p: number, x: number) => {
    idx[start + p - 1] = x;
  };
  let n = count;
  const sift = (from: number, tmp: number) => {
    let i = from;
    let j = from << 1;
    while (j <= n) {
      if (j < n && v[at(j)]! < v[at(j + 1)]!) j++;
      if (v[tmp]! < v[at(j)]!) {
        set(i, at(j));
        i = j;
        j += j;
      } else break;
    }
    set(i, tmp);
  };
  for (let l = n >> 1; l > 0; l--) sift(l, at(l));
  while (n > 1) {
    const tmp = at(n);
    set(n, at(1));
    n--;
    sift(1, tmp);
  }
}
