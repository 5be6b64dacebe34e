/**
 * Checks the 0.23.18 client makes on the mix transaction before signing it
 * (spec §4.11), as a pure function: a malicious or buggy coordinator must not
 * obtain a signature for a transaction that steals the input, links it, or
 * differs from the mix the client registered for.
 *
 * @module
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { Transaction } from '@scure/btc-signer';
import { type NetworkName, outputScriptToAddress } from '#shared/bitcoin/network.ts';
import { computeInputsHash } from '#shared/protocol/inputs_hash.ts';
import { MAX_INPUT_FEE } from '../tx0/premix_value.ts';

/** Why a mix transaction was refused. */
export type MixTxRejection =
  | 'MALFORMED_TX'
  | 'INPUTS_HASH_MISMATCH'
  | 'INPUT_MISSING'
  | 'OUTPUT_MISSING'
  | 'FEE_TOO_HIGH'
  | 'INPUT_OUTPUT_COUNT'
  | 'PREV_TX_REUSE'
  | 'OUTPUT_AMOUNT'
  | 'DUPLICATE_OUTPUT';

/** What the client knows about its own participation. */
export interface MixTxExpectation {
  network: NetworkName;
  /** From the REGISTER_OUTPUT notification. */
  inputsHash: string;
  denomination: number;
  /** The client's UTXO. */
  utxo: { txid: string; vout: number; value: number };
  liquidity: boolean;
  receiveAddress: string;
}

/** Result of {@link checkMixTx}. */
export type MixTxCheck =
  | { ok: true; tx: Transaction; inputIndex: number; outputIndex: number }
  | { ok: false; code: MixTxRejection; message: string };

/** Parses the legacy-serialized unsigned mix transaction (SIGNING `transaction64`, decoded). */
export function parseMixTx(raw: Uint8Array): Transaction {
  return Transaction.fromRaw(raw, {
    allowUnknownOutputs: true,
    allowUnknownInputs: true,
    disableScriptCheck: true,
  });
}

function reject(code: MixTxRejection, message: string): MixTxCheck {
  return { ok: false, code, message };
}

/**
 * Verifies the mix transaction `raw` (or an already parsed one) against what
 * the client registered. Never throws; returns the rejection reason.
 */
export function checkMixTx(raw: Uint8Array | Transaction, exp: MixTxExpectation): MixTxCheck {
  let tx: Transaction;
  try {
    tx = raw instanceof Transaction ? raw : parseMixTx(raw);
  } catch (err) {
    return reject('MALFORMED_TX', `Mix transaction does not parse: ${(err as Error).message}`);
  }
  const inputs: Array<{ txid: string; index: number }> = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const inp = tx.getInput(i);
    if (!inp.txid || inp.index === undefined) return reject('MALFORMED_TX', `Mix input ${i} has no outpoint`);
    inputs.push({ txid: bytesToHex(inp.txid), index: inp.index });
  }
  const outputs: Array<{ value: number; address: string | null }> = [];
  for (let i = 0; i < tx.outputsLength; i++) {
    const out = tx.getOutput(i);
    if (!out.script || out.amount === undefined)
      return reject('MALFORMED_TX', `Mix output ${i} is incomplete`);
    outputs.push({ value: Number(out.amount), address: outputScriptToAddress(out.script, exp.network) });
  }

  const hash = computeInputsHash(inputs);
  if (hash !== exp.inputsHash) {
    return reject(
      'INPUTS_HASH_MISMATCH',
      `Inputs hash ${hash} differs from the registered '${exp.inputsHash}'`,
    );
  }
  const inputIndex = inputs.findIndex((i) => i.txid === exp.utxo.txid && i.index === exp.utxo.vout);
  if (inputIndex < 0) {
    return reject(
      'INPUT_MISSING',
      `Own input ${exp.utxo.txid}:${exp.utxo.vout} is not in the mix transaction`,
    );
  }
  const outputIndex = outputs.findIndex((o) => o.address === exp.receiveAddress);
  if (outputIndex < 0) {
    return reject('OUTPUT_MISSING', `Own output '${exp.receiveAddress}' is not in the mix transaction`);
  }
  const fee = exp.utxo.value - outputs[outputIndex]!.value;
  if (fee > MAX_INPUT_FEE || fee < 0 || (exp.liquidity && fee !== 0)) {
    return reject('FEE_TOO_HIGH', `Own input would pay ${fee} sats (liquidity=${exp.liquidity})`);
  }
  if (inputs.length !== outputs.length) {
    return reject('INPUT_OUTPUT_COUNT', `Mix has ${inputs.length} inputs but ${outputs.length} outputs`);
  }
  const prevTxids = new Set<string>();
  for (const i of inputs) {
    if (prevTxids.has(i.txid)) return reject('PREV_TX_REUSE', `Prev-tx reuse detected: ${i.txid}`);
    prevTxids.add(i.txid);
  }
  for (const [i, o] of outputs.entries()) {
    if (o.value !== exp.denomination) {
      return reject(
        'OUTPUT_AMOUNT',
        `Mix output ${i} is ${o.value} sats, not the denomination ${exp.denomination}`,
      );
    }
  }
  const addresses = new Set<string>();
  for (const [i, o] of outputs.entries()) {
    const key = o.address ?? `script:${i}`;
    if (o.address !== null && addresses.has(key)) {
      return reject('DUPLICATE_OUTPUT', `Two mix outputs pay '${o.address}'`);
    }
    addresses.add(key);
  }
  return { ok: true, tx, inputIndex, outputIndex };
}
