/**
 * BIP69 lexicographical ordering of transaction inputs and outputs, used by
 * Tx0s and mix transactions (spec §4.7.1, §12 item 9). Hand-written: two
 * comparators, no library exposes them on their own.
 *
 * @module
 */

/**
 * Returns a sorted copy of the inputs: previous txid ascending as displayed
 * (big-endian hex, i.e. reversed wire order, compared case-insensitively),
 * then output index ascending.
 */
export function sortInputsBip69<T extends { txid: string; index: number }>(xs: readonly T[]): T[] {
  return [...xs].sort(compareInputs);
}

/**
 * Returns a sorted copy of the outputs: value ascending, then output script
 * bytes in lexicographical order (a prefix sorts first).
 */
export function sortOutputsBip69<T extends { value: bigint; script: Uint8Array }>(xs: readonly T[]): T[] {
  return [...xs].sort(compareOutputs);
}

function compareInputs(a: { txid: string; index: number }, b: { txid: string; index: number }): number {
  const ta = a.txid.toLowerCase();
  const tb = b.txid.toLowerCase();
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.index - b.index;
}

function compareOutputs(
  a: { value: bigint; script: Uint8Array },
  b: { value: bigint; script: Uint8Array },
): number {
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return compareBytes(a.script, b.script);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const len = Math.min(a.length, b.length);
  for (let i = 0; i < len; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
