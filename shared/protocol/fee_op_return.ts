/**
 * The two Tx0 fee OP_RETURN formats (addendum §4.3–§4.5), both directions:
 *
 * - **V0** (64 bytes, script `6a 40 …`): the 64-byte payload XOR
 *   HMAC-SHA512(key = input-0 outpoint, msg = x(ECDH(input-0 key,
 *   notification key))) — G0–G4 clients.
 * - **V1** (80 bytes, script `6a 4c 50 …`): the 46-byte payload XOR the first
 *   46 bytes of HMAC-SHA512(key = input-0 outpoint, msg = x(ECDH(masking key,
 *   notification key))) ‖ the 33-byte compressed masking public key ‖ `01` —
 *   G5–G6 clients; the masking key is chosen by the client and embedded, so
 *   the coordinator needs no input public key.
 *
 * Hand-written: the format is Whirlpool's own; the primitives (secp256k1 ECDH,
 * HMAC-SHA512) come from @noble. Decoders throw {@link DecodeError} only.
 *
 * @module
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import { DecodeError } from '../errors.ts';
import { FEE_PAYLOAD_LENGTH, FEE_PAYLOAD_V1_LENGTH } from './fee_payload.ts';
import { ecdhSharedX, xorMask } from './xor_mask.ts';

/** OP_RETURN data length of a V0 fee OP_RETURN. */
export const FEE_OP_RETURN_V0_LENGTH = 64;
/** OP_RETURN data length of a V1 fee OP_RETURN. */
export const FEE_OP_RETURN_V1_LENGTH = 80;
/** Last byte of a V1 fee OP_RETURN. */
export const FEE_OP_RETURN_V1_VERSION = 1;

/** Which OP_RETURN format `data` is (addendum §4.4 recognition), or null when neither. */
export function feeOpReturnVersion(data: Uint8Array): 0 | 1 | null {
  if (data.length === FEE_OP_RETURN_V0_LENGTH) return 0;
  if (data.length === FEE_OP_RETURN_V1_LENGTH && data[79] === FEE_OP_RETURN_V1_VERSION) return 1;
  return null;
}

/** The output script carrying `data` (V0: `6a 40 <64>`; V1: `6a 4c 50 <80>`, OP_PUSHDATA1). */
export function feeOpReturnScript(data: Uint8Array): Uint8Array {
  const version = feeOpReturnVersion(data);
  if (version === null) throw new RangeError(`Not a fee OP_RETURN: ${data.length} bytes`);
  const head = version === 0 ? [0x6a, 0x40] : [0x6a, 0x4c, 0x50];
  const out = new Uint8Array(head.length + data.length);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

/**
 * Masks a 64-byte payload into a V0 OP_RETURN with input 0's private key and
 * the fee payment code's notification public key.
 */
export function maskFeeOpReturnV0(
  payload: Uint8Array,
  outpoint: Uint8Array,
  input0PrivKey: Uint8Array,
  notificationPubKey: Uint8Array,
): Uint8Array {
  if (payload.length !== FEE_PAYLOAD_LENGTH) {
    throw new RangeError(`Invalid feePayload.length: ${payload.length} vs ${FEE_PAYLOAD_LENGTH}`);
  }
  return xorMask(payload, ecdhSharedX(input0PrivKey, notificationPubKey), outpoint);
}

/**
 * Unmasks a V0 OP_RETURN with input 0's public key and the coordinator's
 * notification private key → the 64 plain bytes. Throws {@link DecodeError}.
 */
export function unmaskFeeOpReturnV0(
  data: Uint8Array,
  outpoint: Uint8Array,
  input0PubKey: Uint8Array,
  notificationPrivKey: Uint8Array,
  secp?: Secp256k1,
): Uint8Array {
  if (data.length !== FEE_OP_RETURN_V0_LENGTH) {
    throw new DecodeError('fee-op-return', `Invalid V0 OP_RETURN length: ${data.length}`);
  }
  let shared: Uint8Array;
  try {
    shared = ecdhSharedX(notificationPrivKey, input0PubKey, secp);
  } catch (err) {
    throw new DecodeError('fee-op-return', 'Invalid input-0 public key', { cause: err });
  }
  return xorMask(data, shared, outpoint);
}

/**
 * Builds a V1 OP_RETURN (80 bytes) from a 46-byte payload, the Tx0's input-0
 * outpoint, the fee payment code's notification public key and a masking
 * private key (a fresh random key for every Tx0; fixed only in tests).
 */
export function maskFeeOpReturnV1(
  payload: Uint8Array,
  outpoint: Uint8Array,
  notificationPubKey: Uint8Array,
  maskingPrivKey: Uint8Array,
): Uint8Array {
  if (payload.length !== FEE_PAYLOAD_V1_LENGTH) {
    throw new RangeError(`Invalid feePayload.length: ${payload.length} vs ${FEE_PAYLOAD_V1_LENGTH}`);
  }
  const masked = xorMask(payload, ecdhSharedX(maskingPrivKey, notificationPubKey), outpoint);
  const out = new Uint8Array(FEE_OP_RETURN_V1_LENGTH);
  out.set(masked, 0);
  out.set(secp256k1.getPublicKey(maskingPrivKey, true), FEE_PAYLOAD_V1_LENGTH);
  out[79] = FEE_OP_RETURN_V1_VERSION;
  return out;
}

/**
 * Unmasks a V1 OP_RETURN with the coordinator's V1 notification private key
 * → the 46 plain payload bytes. Throws {@link DecodeError} on a wrong length,
 * version byte or masking key that is not a curve point.
 */
export function unmaskFeeOpReturnV1(
  data: Uint8Array,
  outpoint: Uint8Array,
  notificationPrivKey: Uint8Array,
  secp?: Secp256k1,
): Uint8Array {
  if (feeOpReturnVersion(data) !== 1) {
    throw new DecodeError('fee-op-return', `Invalid V1 OP_RETURN (${data.length} bytes)`);
  }
  const maskingPubKey = data.slice(FEE_PAYLOAD_V1_LENGTH, 79);
  let shared: Uint8Array;
  try {
    shared = ecdhSharedX(notificationPrivKey, maskingPubKey, secp);
  } catch (err) {
    throw new DecodeError('fee-op-return', 'Invalid V1 masking public key', { cause: err });
  }
  return xorMask(data.slice(0, FEE_PAYLOAD_V1_LENGTH), shared, outpoint);
}
