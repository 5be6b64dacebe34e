/**
 * The plain (unmasked) Tx0 fee payload, big-endian (spec §4.6.1, addendum
 * §4.1): int16 version 1, int32 feeIndice, 2-byte scode payload (`00 00` =
 * none), int16 partner payload (0 = SAMOURAI; G0–G2 clients write 0), zero
 * padding up to 64 bytes (V0 OP_RETURN) or 46 bytes (V1 OP_RETURN).
 *
 * @module
 */

import { DecodeError, ProtocolError } from '../errors.ts';

/** Decoded fee payload. */
export interface FeePayload {
  feeVersion: number;
  feeIndice: number;
  /** 2-byte scode payload, or null when the payload bytes are `00 00`. */
  scodePayload: Uint8Array | null;
  feePartner: number;
}

/** Length of the fee payload of a V0 OP_RETURN (and of the V0 OP_RETURN data). */
export const FEE_PAYLOAD_LENGTH = 64;
/** Length of the fee payload masked into a V1 (80-byte) OP_RETURN (addendum §4.4). */
export const FEE_PAYLOAD_V1_LENGTH = 46;
/** Bytes of a fee payload that carry data (the rest is zero padding). */
export const FEE_PAYLOAD_DATA_LENGTH = 10;
/** The only fee payload version. */
export const FEE_PAYLOAD_VERSION = 1;
/** Length of an scode payload. */
export const SCODE_PAYLOAD_LENGTH = 2;

/**
 * Encodes a fee payload (64 bytes). Throws {@link ProtocolError}
 * `Invalid feePayload: <len> vs 2` when the scode payload is not 2 bytes, and
 * RangeError when feeIndice or feePartner does not fit its field.
 */
export function encodeFeePayload(
  p: {
    feeIndice: number;
    scodePayload?: Uint8Array | null;
    feePartner?: number;
  },
  length: number = FEE_PAYLOAD_LENGTH,
): Uint8Array {
  if (!Number.isInteger(length) || length < FEE_PAYLOAD_DATA_LENGTH || length > FEE_PAYLOAD_LENGTH) {
    throw new RangeError(`Invalid fee payload length "${length}"`);
  }
  const scode = p.scodePayload ?? null;
  if (scode !== null && scode.length !== SCODE_PAYLOAD_LENGTH) {
    throw new ProtocolError(`Invalid feePayload: ${scode.length} vs ${SCODE_PAYLOAD_LENGTH}`);
  }
  const partner = p.feePartner ?? 0;
  checkInt(p.feeIndice, -0x8000_0000, 0x7fff_ffff, 'feeIndice');
  checkInt(partner, -0x8000, 0x7fff, 'feePartner');
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setInt16(0, FEE_PAYLOAD_VERSION);
  view.setInt32(2, p.feeIndice);
  if (scode !== null) out.set(scode, 6);
  view.setInt16(8, partner);
  return out;
}

/**
 * Decodes a fee payload; returns null ("no fee data") unless it is 64 bytes
 * with version 1. Payload bytes `00 00` decode as no scode.
 */
export function decodeFeePayload(data: Uint8Array): FeePayload | null {
  if (data.length !== FEE_PAYLOAD_LENGTH) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const feeVersion = view.getInt16(0);
  if (feeVersion !== FEE_PAYLOAD_VERSION) return null;
  const scode = data.slice(6, 8);
  return {
    feeVersion,
    feeIndice: view.getInt32(2),
    scodePayload: scode[0] === 0 && scode[1] === 0 ? null : scode,
    feePartner: view.getInt16(8),
  };
}

/**
 * Parses a fee payload of any length ≥ 10 as the 0.23.36 coordinator does
 * (addendum §4.1: version must be 1, trailing bytes are not checked). Throws
 * {@link DecodeError} (codec `fee-payload`) on a short payload or another
 * version.
 */
export function parseFeePayload(data: Uint8Array): FeePayload {
  if (data.length < FEE_PAYLOAD_DATA_LENGTH) {
    throw new DecodeError(
      'fee-payload',
      `Invalid FeePayload length: ${data.length} < ${FEE_PAYLOAD_DATA_LENGTH}`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const feeVersion = view.getInt16(0);
  if (feeVersion !== FEE_PAYLOAD_VERSION) {
    throw new DecodeError(
      'fee-payload',
      `Invalid FeePayload version: ${feeVersion} vs ${FEE_PAYLOAD_VERSION}`,
    );
  }
  const scode = data.slice(6, 8);
  return {
    feeVersion,
    feeIndice: view.getInt32(2),
    scodePayload: scode[0] === 0 && scode[1] === 0 ? null : scode,
    feePartner: view.getInt16(8),
  };
}

/** Encodes an scode payload number as int16 big-endian (2 bytes); RangeError outside int16. */
export function scodePayloadFromShort(n: number): Uint8Array {
  checkInt(n, -0x8000, 0x7fff, 'scode payload');
  const out = new Uint8Array(SCODE_PAYLOAD_LENGTH);
  new DataView(out.buffer).setInt16(0, n);
  return out;
}

/** Decodes a 2-byte scode payload as a signed int16; throws {@link DecodeError} on another length. */
export function shortFromScodePayload(b: Uint8Array): number {
  if (b.length !== SCODE_PAYLOAD_LENGTH) {
    throw new DecodeError('fee-payload', `Invalid scode payload length ${b.length} (expected 2)`);
  }
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getInt16(0);
}

function checkInt(n: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`Invalid ${what} "${n}"`);
}
