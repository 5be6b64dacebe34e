/**
 * userHash, the same-wallet marker of ConfirmInputRequest (spec §4.4).
 *
 * @module
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/** Returns lowercase hex SHA-256 of the wallet's PREMIX chain 0 index 0 address (never sent). */
export function userPreHash(premixAddress0: string): string {
  return bytesToHex(sha256(utf8ToBytes(premixAddress0)));
}

/** Returns lowercase hex SHA-256 of `mixId ‖ preHash`, sent as ConfirmInputRequest.userHash. */
export function userHash(mixId: string, preHash: string): string {
  return bytesToHex(sha256(utf8ToBytes(mixId + preHash)));
}
