/**
 * Tx0 builder (spec §4.7.1, addendum §4.3–§4.7): spends deposit P2WPKH UTXOs
 * into N premix outputs, the coordinator fee output (or `feeChange` back to
 * the wallet), change, and the masked fee payload in an `OP_RETURN`:
 *
 * - **V0** (`6a40…`, 64 bytes, G0–G4): the 64-byte payload masked with the
 *   ECDH secret of the first input *after* BIP69 sorting and the notification
 *   key of the coordinator's payment code (§4.6.2). G0–G2 build the payload
 *   themselves from `GET /rest/tx0` (`feeIndice`, scode payload); G3–G4 get
 *   it from `POST /rest/tx0`.
 * - **V1** (`6a4c50…`, 80 bytes, G5–G6): the 46-byte payload of
 *   `POST /rest/tx0/v1` masked with a fresh random key whose public key is
 *   embedded (addendum §4.5).
 *
 * Inputs and outputs are BIP69-sorted. Version 1, lock time 0, sequence
 * 0xFFFFFFFF, SIGHASH_ALL (BIP143).
 *
 * @module
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { SigHash, Transaction } from '@scure/btc-signer';
import { notificationPubKeyFromPaymentCode } from '#shared/bitcoin/bip47.ts';
import { sortInputsBip69, sortOutputsBip69 } from '#shared/bitcoin/bip69.ts';
import { addressToOutputScript, type NetworkName } from '#shared/bitcoin/network.ts';
import { z85Decode } from '#shared/codec/z85.ts';
import { feeOpReturnScript, maskFeeOpReturnV0, maskFeeOpReturnV1 } from '#shared/protocol/fee_op_return.ts';
import { encodeFeePayload } from '#shared/protocol/fee_payload.ts';
import type { Tx0Data, Tx0DataResponse } from '#shared/protocol/messages.ts';
import { serializeOutpoint } from '#shared/protocol/xor_mask.ts';

/** A P2WPKH UTXO the builder may spend, with its key. */
export interface SpendableUtxo {
  txid: string;
  vout: number;
  value: number;
  /** P2WPKH output script of the UTXO. */
  script: Uint8Array;
  privateKey: Uint8Array;
}

/** Dust limit of a P2WPKH output; smaller change is left to the miners. */
export const DUST_LIMIT = 546;

/** What the Tx0 pays the coordinator and the plain fee payload it masks, whatever endpoint gave it. */
export interface Tx0FeeSpec {
  feeValue: number;
  feeChange: number;
  feeAddress: string | null;
  feePaymentCode: string;
  /** Plain fee payload: 64 bytes for a V0 OP_RETURN, 46 for V1. */
  feePayload: Uint8Array;
}

/** Fee spec of a `GET /rest/tx0` answer: the client builds the 64-byte payload itself (G0–G2). */
export function feeSpecFromTx0DataV1(data: Tx0DataResponse): Tx0FeeSpec {
  const scodePayload = data.feePayload64 ? z85Decode(data.feePayload64) : null;
  return {
    feeValue: data.feeValue,
    feeChange: data.feeChange,
    feeAddress: data.feeAddress,
    feePaymentCode: data.feePaymentCode,
    feePayload: encodeFeePayload({ feeIndice: data.feeValue > 0 ? data.feeIndice : 0, scodePayload }),
  };
}

/** Fee spec of one pool's entry of `POST /rest/tx0[/v1]`: the payload comes from the server (G3+). */
export function feeSpecFromTx0Data(data: Tx0Data): Tx0FeeSpec {
  return {
    feeValue: data.feeValue,
    feeChange: data.feeChange,
    feeAddress: data.feeAddress,
    feePaymentCode: data.feePaymentCode,
    feePayload: z85Decode(data.feePayload64),
  };
}

/** Input of {@link buildTx0}. */
export interface Tx0BuildParams {
  network: NetworkName;
  inputs: readonly SpendableUtxo[];
  /** `GET /rest/tx0` answer for the pool (G0–G2); or give `fee`. */
  tx0Data?: Tx0DataResponse;
  /** Fee and plain payload (any generation); wins over `tx0Data`. */
  fee?: Tx0FeeSpec;
  /** OP_RETURN format (default V0). */
  opReturn?: 'V0' | 'V1';
  /** V1 masking private key (default: a fresh random key, as the Java client draws one per Tx0). */
  maskingKey?: Uint8Array;
  premixValue: number;
  /** One address per premix output. */
  premixAddresses: readonly string[];
  /** Tx0 miner fee, sats (change absorbs the rest). */
  minerFee: number;
  /** Change address (deposit change chain); required when there is change above dust. */
  changeAddress?: string | null;
  /** Where `feeChange` goes when `feeValue` is 0 (a deposit change address). */
  feeChangeAddress?: string | null;
}

/** One output of a built Tx0. */
export interface Tx0Output {
  vout: number;
  value: number;
  script: Uint8Array;
  kind: 'premix' | 'fee' | 'feeChange' | 'change' | 'opReturn';
  address: string | null;
}

/** A signed Tx0. */
export interface Tx0 {
  txid: string;
  /** Signed transaction with witnesses. */
  hex: string;
  vsize: number;
  outputs: Tx0Output[];
  premixOutputs: Tx0Output[];
  /** OP_RETURN data: 64 masked bytes (V0), or 46 masked bytes ‖ masking key ‖ `01` (V1). */
  opReturnData: Uint8Array;
  minerFee: number;
  change: number;
}

/** Builds and signs a Tx0. Throws on inconsistent amounts or a missing address. */
export function buildTx0(p: Tx0BuildParams): Tx0 {
  if (p.inputs.length === 0) throw new RangeError('Tx0 needs at least one input');
  const nbPremix = p.premixAddresses.length;
  if (nbPremix === 0) throw new RangeError('Tx0 needs at least one premix output');
  const data = p.fee ?? (p.tx0Data ? feeSpecFromTx0DataV1(p.tx0Data) : null);
  if (!data) throw new RangeError('buildTx0 needs fee or tx0Data');
  const spend = p.inputs.reduce((a, u) => a + u.value, 0);
  const feeOutValue = data.feeValue > 0 ? data.feeValue : data.feeChange;
  let change = spend - nbPremix * p.premixValue - feeOutValue - p.minerFee;
  if (change < 0) {
    throw new RangeError(
      `Tx0 inputs ${spend} sats do not cover ${nbPremix} × ${p.premixValue} + fee ${feeOutValue} + miner fee ${p.minerFee}`,
    );
  }
  let minerFee = p.minerFee;
  if (change > 0 && change < DUST_LIMIT) {
    minerFee += change;
    change = 0;
  }

  const sortedInputs = sortInputsBip69(p.inputs.map((u) => ({ ...u, index: u.vout })));
  const input0 = sortedInputs[0]!;

  // Fee payload masked into the OP_RETURN: V0 with input 0's key (spec §4.6.2), V1 with a fresh key (§4.5).
  const outpoint = serializeOutpoint(input0.txid, input0.vout);
  const notificationKey = notificationPubKeyFromPaymentCode(data.feePaymentCode);
  const masked =
    (p.opReturn ?? 'V0') === 'V1'
      ? maskFeeOpReturnV1(
          data.feePayload,
          outpoint,
          notificationKey,
          p.maskingKey ?? secp256k1.utils.randomSecretKey(),
        )
      : maskFeeOpReturnV0(data.feePayload, outpoint, input0.privateKey, notificationKey);
  const opReturnScript = feeOpReturnScript(masked);

  const outs: Array<Omit<Tx0Output, 'vout'> & { value: number }> = [];
  for (const address of p.premixAddresses) {
    outs.push({
      kind: 'premix',
      value: p.premixValue,
      address,
      script: addressToOutputScript(address, p.network),
    });
  }
  if (data.feeValue > 0) {
    if (!data.feeAddress) throw new Error('Tx0 data has a fee value but no fee address');
    outs.push({
      kind: 'fee',
      value: data.feeValue,
      address: data.feeAddress,
      script: addressToOutputScript(data.feeAddress, p.network),
    });
  } else if (data.feeChange > 0) {
    if (!p.feeChangeAddress) throw new Error('Tx0 data asks for feeChange but no feeChangeAddress was given');
    outs.push({
      kind: 'feeChange',
      value: data.feeChange,
      address: p.feeChangeAddress,
      script: addressToOutputScript(p.feeChangeAddress, p.network),
    });
  }
  if (change > 0) {
    if (!p.changeAddress) throw new Error(`Tx0 has ${change} sats of change but no changeAddress was given`);
    outs.push({
      kind: 'change',
      value: change,
      address: p.changeAddress,
      script: addressToOutputScript(p.changeAddress, p.network),
    });
  }
  outs.push({ kind: 'opReturn', value: 0, address: null, script: opReturnScript });

  const sortedOutputs = sortOutputsBip69(outs.map((o) => ({ ...o, value: BigInt(o.value) })));
  const tx = new Transaction({ version: 1, lockTime: 0, allowUnknownOutputs: true });
  for (const u of sortedInputs) {
    tx.addInput({
      txid: u.txid,
      index: u.vout,
      sequence: 0xffffffff,
      witnessUtxo: { script: u.script, amount: BigInt(u.value) },
      sighashType: SigHash.ALL,
    });
  }
  for (const o of sortedOutputs) tx.addOutput({ script: o.script, amount: o.value });
  sortedInputs.forEach((u, i) => {
    tx.signIdx(u.privateKey, i, [SigHash.ALL]);
    tx.finalizeIdx(i);
  });

  const outputs: Tx0Output[] = sortedOutputs.map((o, vout) => ({
    vout,
    value: Number(o.value),
    script: o.script,
    kind: o.kind,
    address: o.address,
  }));
  return {
    txid: tx.id,
    hex: bytesToHex(tx.extract()),
    vsize: tx.vsize,
    outputs,
    premixOutputs: outputs.filter((o) => o.kind === 'premix'),
    opReturnData: masked,
    minerFee,
    change,
  };
}
