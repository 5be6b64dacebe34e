/**
 * Coordinator side of the Tx0 fee data (spec §4.6, §4.8 step 1): find the
 * OP_RETURN of a Tx0, take input 0's public key, unmask the payload with the
 * secret wallet's notification private key and decode it.
 *
 * @module
 */

import { hexToBytes } from '@noble/hashes/utils.js';
import { Script, Transaction } from '@scure/btc-signer';
import { decodeFeePayload, type FeePayload } from './fee_payload.ts';
import { ecdhSharedX, serializeOutpoint, xorMask } from './xor_mask.ts';

/**
 * Returns the data pushed by the first output that has value 0 and a script
 * of exactly two chunks, `OP_RETURN <push>` (spec §4.6.4), or null.
 */
export function findOpReturnPayload(tx: Transaction): Uint8Array | null {
  for (let i = 0; i < tx.outputsLength; i++) {
    const out = tx.getOutput(i);
    if (out.amount !== 0n || out.script === undefined) continue;
    let chunks: readonly unknown[];
    try {
      chunks = Script.decode(out.script);
    } catch {
      continue;
    }
    if (chunks.length !== 2 || chunks[0] !== 'RETURN') continue;
    const data = chunks[1];
    if (data instanceof Uint8Array) return data;
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
 * private key (m/47'/coin'/0'/0 of the secret wallet). Returns null ("no fee
 * data": not a Tx0) when the transaction does not parse, has no OP_RETURN,
 * no usable input-0 public key, or the unmasked payload is not 64 bytes of
 * version 1. Never throws.
 */
export function decodeTx0FeeData(
  rawTx: Uint8Array | string,
  notificationPrivKey: Uint8Array,
): FeePayload | null {
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
  return decodeTx0FeeDataFromTx(tx, notificationPrivKey);
}

/** Same as {@link decodeTx0FeeData} on an already parsed transaction. Never throws. */
export function decodeTx0FeeDataFromTx(tx: Transaction, notificationPrivKey: Uint8Array): FeePayload | null {
  try {
    const masked = findOpReturnPayload(tx);
    if (masked === null || masked.length !== 64) return null;
    const pubKey = input0PublicKey(tx);
    if (pubKey === null) return null;
    const input = tx.getInput(0);
    if (input.txid === undefined || input.index === undefined) return null;
    const outpoint = serializeOutpoint(bytesToHexLower(input.txid), input.index);
    const plain = xorMask(masked, ecdhSharedX(notificationPrivKey, pubKey), outpoint);
    return decodeFeePayload(plain);
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
