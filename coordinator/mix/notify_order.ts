/**
 * The order in which a mix notifies its confirmed inputs of REGISTER_OUTPUT:
 * a uniform random permutation (Fisher–Yates), so the order of the
 * registerOutput POSTs that follow says nothing about the order of the
 * confirmations (issue 12). Pure: the random source is injected.
 *
 * @module
 */

/** A uniformly shuffled copy of `items`; `random` returns values in [0, 1). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1)));
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}
