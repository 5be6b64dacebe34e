/**
 * Verification of one P2WPKH input signature of a transaction, used by the
 * coordinator when a client returns its witness in SIGNING (spec §3.8).
 * @scure/btc-signer has no script interpreter, so this checks the BIP143
 * SIGHASH_ALL preimage against the DER signature with a {@link Secp256k1}
 * (default: the portable noble one; the coordinator passes libsecp256k1).
 *
 * @module
 */

import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from '@noble/hashes/utils.js';
import type { Transaction } from '@scure/btc-signer';
import { nobleSecp256k1, type Secp256k1 } from '../crypto/secp256k1.ts';

const SIGHASH_ALL = 0x01;

/**
 * Returns true when `witness` = [DER signature ‖ SIGHASH_ALL, 33-byte
 * compressed pubkey] is a valid low-S signature of input `inputIndex` of `tx`
 * spending the P2WPKH output `prevScript` (`0014<hash160>`) of value `amount`,
 * and the pubkey hashes to that output. Never throws.
 */
export function verifyP2wpkhWitness(
  tx: Transaction,
  inputIndex: number,
  prevScript: Uint8Array,
  amount: bigint,
  witness: readonly Uint8Array[],
  secp: Secp256k1 = nobleSecp256k1,
): boolean {
  try {
    if (witness.length !== 2) return false;
    const [sigWithType, pubKey] = witness as [Uint8Array, Uint8Array];
    if (prevScript.length !== 22 || prevScript[0] !== 0x00 || prevScript[1] !== 0x14) return false;
    if (pubKey.length !== 33 || (pubKey[0] !== 0x02 && pubKey[0] !== 0x03)) return false;
    if (sigWithType.length < 9 || sigWithType[sigWithType.length - 1] !== SIGHASH_ALL) return false;
    const hash = ripemd160(sha256(pubKey));
    if (!bytesEqual(hash, prevScript.subarray(2))) return false;
    if (!Number.isSafeInteger(inputIndex) || inputIndex < 0 || inputIndex >= tx.inputsLength) return false;
    const scriptCode = concatBytes(Uint8Array.of(0x76, 0xa9, 0x14), hash, Uint8Array.of(0x88, 0xac));
    const sighash = tx.preimageWitnessV0(inputIndex, scriptCode, SIGHASH_ALL, amount);
    const der = sigWithType.subarray(0, sigWithType.length - 1);
    return secp.verifyDerLowS(der, sighash, pubKey);
  } catch {
    return false;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
