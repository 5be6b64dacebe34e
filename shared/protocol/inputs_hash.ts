/**
 * computeInputsHash (spec §4.5): the identifier of a mix's confirmed inputs
 * used by `/rest/registerOutput` and checked by clients before signing.
 *
 * @module
 */

import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/**
 * Returns the inputs hash: strings `txid + decimal(index)` (no separator),
 * sorted in Java `String` order, joined with `;`, SHA-512, lowercase hex
 * (128 characters).
 */
export function computeInputsHash(inputs: ReadonlyArray<{ txid: string; index: number }>): string {
  const parts = inputs.map((input) => `${input.txid}${input.index}`);
  // Default sort compares UTF-16 code units, which is Java String.compareTo order.
  parts.sort();
  return bytesToHex(sha512(utf8ToBytes(parts.join(';'))));
}
