/**
 * XorMask of the Tx0 fee payload (spec §4.6.2): mask = HMAC-SHA512(key =
 * serialized outpoint of Tx0 input 0, message = ECDH x-coordinate between the
 * input-0 key and the coordinator's BIP47 notification key).
 *
 * @module
 */

import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { nobleSecp256k1, type Secp256k1 } from '../crypto/secp256k1.ts';
import { DecodeError } from '../errors.ts';

/** Serializes an outpoint: 32-byte txid in wire (little-endian) order ‖ uint32 LE index (36 bytes). */
export function serializeOutpoint(txid: string, index: number): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(txid)) throw new DecodeError('outpoint', `Invalid txid "${txid}"`);
  if (!Number.isInteger(index) || index < 0 || index > 0xffff_ffff) {
    throw new DecodeError('outpoint', `Invalid output index "${index}"`);
  }
  const out = new Uint8Array(36);
  out.set(hexToBytes(txid.toLowerCase()).reverse(), 0);
  new DataView(out.buffer).setUint32(32, index, true);
  return out;
}

/**
 * Returns the 32-byte big-endian x-coordinate of privKey × pubKey (ECDH).
 * Throws on an invalid key (callers treat it as "no fee data"). `secp`
 * defaults to the portable implementation (the coordinator passes libsecp256k1).
 */
export function ecdhSharedX(
  privKey: Uint8Array,
  pubKey: Uint8Array,
  secp: Secp256k1 = nobleSecp256k1,
): Uint8Array {
  return secp.ecdhX(privKey, pubKey);
}

/**
 * XORs `data` (at most 64 bytes) with HMAC-SHA512(key = outpoint, message =
 * sharedX). Masking and unmasking are the same operation.
 */
export function xorMask(data: Uint8Array, sharedX: Uint8Array, outpoint: Uint8Array): Uint8Array {
  const mask = hmac(sha512, outpoint, sharedX);
  if (data.length > mask.length)
    throw new RangeError(`Cannot mask ${data.length} bytes (max ${mask.length})`);
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ mask[i]!;
  return out;
}
