/**
 * The mix transaction (spec §3.8): version 1, lock time 0, one input per
 * confirmed input (empty scriptSig, sequence 0xFFFFFFFF), one output of the
 * denomination per receive address, inputs and outputs BIP69-sorted, no change
 * and no OP_RETURN. Sent to clients as the Z85 of the legacy (non-witness)
 * serialisation; broadcast with the witnesses attached.
 *
 * @module
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { Transaction } from '@scure/btc-signer';
import { sortInputsBip69, sortOutputsBip69 } from '#shared/bitcoin/bip69.ts';
import { addressToOutputScript, type NetworkName } from '#shared/bitcoin/network.ts';

/** One input of the mix: the UTXO spent and what is needed to verify its witness. */
export interface MixTxInput {
  txid: string;
  index: number;
  value: number;
  scriptPubKey: Uint8Array;
}

/** The built transaction with inputs and outputs in their final (BIP69) order. */
export interface MixTx {
  tx: Transaction;
  /** Inputs in transaction order. */
  inputs: MixTxInput[];
  /** Output scripts in transaction order. */
  outputScripts: Uint8Array[];
}

/** Builds the unsigned mix transaction; throws `DecodeError` if an address does not belong to `network`. */
export function buildMixTx(
  inputs: readonly MixTxInput[],
  receiveAddresses: readonly string[],
  denomination: number,
  network: NetworkName,
): MixTx {
  const sortedInputs = sortInputsBip69(inputs);
  const outputs = sortOutputsBip69(
    receiveAddresses.map((address) => ({
      value: BigInt(denomination),
      script: addressToOutputScript(address, network),
    })),
  );
  const tx = new Transaction({ version: 1, lockTime: 0, allowUnknownOutputs: true });
  for (const input of sortedInputs) {
    tx.addInput({
      txid: hexToBytes(input.txid),
      index: input.index,
      sequence: 0xffffffff,
      witnessUtxo: { script: input.scriptPubKey, amount: BigInt(input.value) },
    });
  }
  for (const output of outputs) tx.addOutput({ script: output.script, amount: output.value });
  return { tx, inputs: sortedInputs, outputScripts: outputs.map((o) => o.script) };
}

/** Legacy serialisation (no marker/flag, no witnesses, empty scriptSigs): what SIGNING sends in Z85. */
export function legacyTxBytes(mixTx: MixTx): Uint8Array {
  return mixTx.tx.toBytes(true, false);
}

/** Sets the witness stack of input `inputIndex` (transaction order). */
export function setInputWitness(mixTx: MixTx, inputIndex: number, witness: Uint8Array[]): void {
  mixTx.tx.updateInput(inputIndex, { finalScriptWitness: witness }, true);
}

/** Full segwit serialisation with the witnesses set so far (for broadcast and `mix_log.raw_tx`). */
export function signedTxBytes(mixTx: MixTx): Uint8Array {
  return mixTx.tx.toBytes(true, true);
}

/** Virtual size with the witnesses set so far: ceil((3 × base size + total size) / 4). */
export function mixTxVsize(mixTx: MixTx): number {
  return Math.ceil((3 * legacyTxBytes(mixTx).length + signedTxBytes(mixTx).length) / 4);
}

/** Miner fee of the mix: Σ input values − Σ output values. */
export function mixTxFee(mixTx: MixTx, denomination: number): number {
  const inSum = mixTx.inputs.reduce((sum, input) => sum + input.value, 0);
  return inSum - mixTx.outputScripts.length * denomination;
}
