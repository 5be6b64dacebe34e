/**
 * Coordinator side of the Tx0 fee data (spec §4.6, §4.8 step 1; addendum
 * §4.3–§4.5, §4.10 step 1): find the fee OP_RETURN of a Tx0 (64 bytes = V0,
 * 80 bytes ending in `01` = V1), unmask it — V0 with input 0's public key and
 * the V0 secret wallet's notification key, V1 with the embedded masking key
 * and the V1 secret wallet's notification key — and parse the payload.
 *
 * @module
 */

import { hexToBytes } from '@noble/hashes/utils.js';
import { Script, Transaction } from '@scure/btc-signer';
import type { Secp256k1 } from '../crypto/secp256k1.ts';
import { feeOpReturnVersion, unmaskFeeOpReturnV0, unmaskFeeOpReturnV1 } from './fee_op_return.ts';
import { type FeePayload, parseFeePayload } from './fee_payload.ts';
import { serializeOutpoint } from './xor_mask.ts';

/** Notification private keys of the two secret wallets (addendum §4.6); the same key may serve both. */
export interface Tx0FeeKeys {
  /** Unmasks 64-byte (V0) OP_RETURNs. */
  v0: Uint8Array;
  /** Unmasks 80-byte (V1) OP_RETURNs. */
  v1: Uint8Array;
}

/** Decoded fee data with where it was found. */
export interface Tx0FeeData extends FeePayload {
  /** 0: 64-byte OP_RETURN; 1: 80-byte OP_RETURN. */
  opReturnVersion: 0 | 1;
  /** Index of the OP_RETURN output. */
  opReturnIndex: number;
}

/** The data of output `i` when it has value 0 and a script of exactly `OP_RETURN <push>`, else null. */
function opReturnPush(tx: Transaction, i: number): Uint8Array | null {
  const out = tx.getOutput(i);
  if (out.amount !== 0n || out.script === undefined) return null;
  let chunks: readonly unknown[];
  try {
    chunks = Script.decode(out.script);
  } catch {
    return null;
  }
  if (chunks.length !== 2 || chunks[0] !== 'RETURN') return null;
  const data = chunks[1];
  return data instanceof Uint8Array ? data : null;
}

/**
 * The fee OP_RETURN as the 0.23.36 coordinator finds it (addendum §4.4): the
 * first output of value 0 whose script is exactly `OP_RETURN <push>` with 64
 * bytes, or 80 bytes ending in `01`. Null when there is none.
 */
export function findFeeOpReturn(tx: Transaction): { index: number; data: Uint8Array; version: 0 | 1 } | null {
  for (let i = 0; i < tx.outputsLength; i++) {
    const data = opReturnPush(tx, i);
    if (data === null) continue;
    const version = feeOpReturnVersion(data);
    if (version !== null) return { index: i, data, version };
  }
  return null;
}

/**
 * Returns the data pushed by the first output that has value 0 and a script
 * of exactly two chunks, `OP_RETURN <push>` (spec §4.6.4), or null.
 */
export function findOpReturnPayload(tx: Transaction): Uint8Array | null {
  for (let i = 0; i < tx.outputsLength; i++) {
    const data = opReturnPush(tx, i);
    if (data !== null) return data;
  }
  return null;
}

/**
 * Returns input 0's public key: witness item 1 (P2WPKH, P2SH-P2WPKH), else the
 * last push of a P2PKH scriptSig; null when neither holds a public key
 * (e.g. P2PK, whose key is in the previous output and must be fetched).
 */
export function input0PublicKey(tx: Transaction): Uint8Array | null {
  if (tx.inputsLength === 0) return null;
  const input = tx.getInput(0);
  const witness = input.finalScriptWitness;
  if (witness !== undefined && witness.length >= 2 && isPublicKey(witness[1]!)) return witness[1]!;
  if (input.finalScriptSig !== undefined && input.finalScriptSig.length > 0) {
    try {
      const chunks = Script.decode(input.finalScriptSig);
      const last = chunks[chunks.length - 1];
      if (chunks.length === 2 && last instanceof Uint8Array && isPublicKey(last)) return last;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Decodes the fee data of a raw Tx0 with the coordinator's notification
 * private key(s) (m/47'/coin'/0'/0 of the secret wallets; one key = both
 * versions). Returns null ("no fee data": not a Tx0) when the transaction
 * does not parse, has no fee OP_RETURN, a V0 one without usable input-0
 * public key, a V1 one with a bad masking key, or a payload that is not
 * version 1. Never throws.
 */
export function decodeTx0FeeData(
  rawTx: Uint8Array | string,
  keys: Uint8Array | Tx0FeeKeys,
): Tx0FeeData | null {
  let tx: Transaction;
  try {
    const bytes = typeof rawTx === 'string' ? hexToBytes(rawTx) : rawTx;
    tx = Transaction.fromRaw(bytes, {
      allowUnknownOutputs: true,
      allowUnknownInputs: true,
      disableScriptCheck: true,
      allowLegacyWitnessUtxo: true,
    });
  } catch {
    return null;
  }
  return decodeTx0FeeDataFromTx(tx, keys);
}

/**
 * Same as {@link decodeTx0FeeData} on an already parsed transaction, with the
 * ECDH on `secp` (default: the portable implementation). Never throws.
 */
export function decodeTx0FeeDataFromTx(
  tx: Transaction,
  keys: Uint8Array | Tx0FeeKeys,
  secp?: Secp256k1,
): Tx0FeeData | null {
  try {
    const { v0, v1 } = keys instanceof Uint8Array ? { v0: keys, v1: keys } : keys;
    const found = findFeeOpReturn(tx);
    if (found === null || tx.inputsLength === 0) return null;
    const input = tx.getInput(0);
    if (input.txid === undefined || input.index === undefined) return null;
    const outpoint = serializeOutpoint(bytesToHexLower(input.txid), input.index);
    let plain: Uint8Array;
    if (found.version === 1) {
      plain = unmaskFeeOpReturnV1(found.data, outpoint, v1, secp);
    } else {
      const pubKey = input0PublicKey(tx);
      if (pubKey === null) return null;
      plain = unmaskFeeOpReturnV0(found.data, outpoint, pubKey, v0, secp);
    }
    return { ...parseFeePayload(plain), opReturnVersion: found.version, opReturnIndex: found.index };
  } catch {
    return null;
  }
}

function isPublicKey(b: Uint8Array): boolean {
  return (b.length === 33 && (b[0] === 0x02 || b[0] === 0x03)) || (b.length === 65 && b[0] === 0x04);
}

function bytesToHexLower(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
