/**
 * What REGISTER_INPUT needs from the transaction that created a UTXO — its
 * outputs (script, value, address) and, lazily, its Tx0 fee data — parsed
 * once per txid and kept in a bounded cache. A Tx0 carries up to hundreds of
 * premix outputs that register one by one; unmasking its fee payload costs an
 * ECDH, so it is done once per Tx0, not once per premix. Everything cached is
 * a pure function of the transaction bytes, except the node's verbose answer
 * for a transaction already in a block ({@link TxFactsCache.confirmedRaw}):
 * its block time no longer changes and its confirmations only grow (the
 * caller still checks the UTXO with gettxout every time, which catches a
 * reorganisation that removed it).
 *
 * @module
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { Transaction } from '@scure/btc-signer';
import { type NetworkName, outputScriptToAddress } from '#shared/bitcoin/network.ts';
import type { Secp256k1 } from '#shared/crypto/secp256k1.ts';
import { decodeTx0FeeDataFromTx, type Tx0FeeData, type Tx0FeeKeys } from '#shared/protocol/tx0_fee_data.ts';
import type { RawTransactionVerbose } from '#shared/rpc/bitcoin_rpc.ts';

/** One output of the transaction. */
export interface TxOutputFacts {
  script: Uint8Array;
  value: number;
  /** Address on the engine's network, null for scripts without one. */
  address: string | null;
}

/** Parsed facts of one transaction. */
export interface TxFacts {
  txid: string;
  outputs: TxOutputFacts[];
  /** Outpoints spent (the cascading check of addendum §4.9 needs the parent). */
  inputs?: ReadonlyArray<{ txid: string; index: number }>;
  /** Tx0 fee data (spec §4.6; V0 or V1 OP_RETURN, addendum §4.4), null = "no fee data"; decoded on first use. */
  feeData(): Tx0FeeData | null;
}

/** Bounded (LRU) cache of {@link TxFacts} by txid. */
export class TxFactsCache {
  readonly #max: number;
  readonly #network: NetworkName;
  readonly #keys: Uint8Array | Tx0FeeKeys;
  readonly #secp: Secp256k1 | undefined;
  readonly #entries = new Map<string, TxFacts>();
  readonly #confirmed = new Map<string, RawTransactionVerbose>();
  readonly #inflight = new Map<string, Promise<RawTransactionVerbose | null>>();

  /**
   * `keys`: the notification key(s) of the secret wallet(s), V0 and V1 (one
   * key = both); `secp` runs the fee-data ECDH (default: the portable noble one).
   */
  constructor(network: NetworkName, keys: Uint8Array | Tx0FeeKeys, max = 2000, secp?: Secp256k1) {
    this.#network = network;
    this.#keys = keys;
    this.#secp = secp;
    this.#max = max;
  }

  /** The node's last verbose answer for `txid` if it was already in a block, else undefined. */
  confirmedRaw(txid: string): RawTransactionVerbose | undefined {
    return this.#confirmed.get(txid);
  }

  /**
   * Runs `fetch` for `txid` unless a fetch of the same txid is already under
   * way, in which case its result is shared (the premixes of one Tx0 tend to
   * register together).
   */
  fetchRaw(
    txid: string,
    fetch: (txid: string) => Promise<RawTransactionVerbose | null>,
  ): Promise<RawTransactionVerbose | null> {
    let pending = this.#inflight.get(txid);
    if (!pending) {
      pending = fetch(txid).finally(() => this.#inflight.delete(txid));
      this.#inflight.set(txid, pending);
    }
    return pending;
  }

  /** Remembers a verbose answer when the transaction is in a block (bounded like the facts). */
  rememberRaw(raw: RawTransactionVerbose): void {
    if (raw.confirmations <= 0 || raw.blockhash === null) return;
    this.#confirmed.delete(raw.txid);
    this.#confirmed.set(raw.txid, raw);
    if (this.#confirmed.size > this.#max) {
      const oldest = this.#confirmed.keys().next().value;
      if (oldest !== undefined) this.#confirmed.delete(oldest);
    }
  }

  /** Facts of `txid` whose raw hex is `hex` (parsed on a miss). Throws on an unparsable transaction. */
  get(txid: string, hex: string): TxFacts {
    const hit = this.#entries.get(txid);
    if (hit) {
      this.#entries.delete(txid);
      this.#entries.set(txid, hit);
      return hit;
    }
    const facts = this.#parse(txid, hex);
    this.#entries.set(txid, facts);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return facts;
  }

  #parse(txid: string, hex: string): TxFacts {
    const tx = Transaction.fromRaw(hexToBytes(hex), {
      allowUnknownOutputs: true,
      allowUnknownInputs: true,
      disableScriptCheck: true,
    });
    const outputs: TxOutputFacts[] = [];
    for (let i = 0; i < tx.outputsLength; i++) {
      const output = tx.getOutput(i);
      const script = output.script ?? new Uint8Array();
      outputs.push({
        script,
        value: Number(output.amount ?? 0n),
        address: outputScriptToAddress(script, this.#network),
      });
    }
    const inputs: Array<{ txid: string; index: number }> = [];
    for (let i = 0; i < tx.inputsLength; i++) {
      const input = tx.getInput(i);
      if (input.txid !== undefined && input.index !== undefined)
        inputs.push({ txid: bytesToHex(input.txid), index: input.index });
    }
    let feeData: Tx0FeeData | null | undefined;
    const key = this.#keys;
    const secp = this.#secp;
    return {
      txid,
      outputs,
      inputs,
      feeData() {
        if (feeData === undefined) feeData = decodeTx0FeeDataFromTx(tx, key, secp);
        return feeData;
      },
    };
  }
}
