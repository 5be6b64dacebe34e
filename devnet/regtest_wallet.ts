/**
 * A test wallet for regtest btcd, which has no wallet RPC: one secp256k1 key
 * whose P2WPKH address is the node's `--miningaddr`, so every mined block pays
 * it. The wallet finds its mature coinbase outputs by walking the chain
 * (`getblockhash` → `getblock` → `getrawtransaction`), keeps the change of its
 * own spends, and signs P2WPKH spends with @scure/btc-signer.
 *
 * Besides `fund`/`fundMany` it exposes the raw pieces other tests need:
 * `createTransaction` (signed, not broadcast — e.g. with a too-low fee),
 * `broadcast`, and {@link buildP2wpkhSpend} to spend outputs of any key.
 *
 * State is in memory: one wallet per node, calls are serialised.
 *
 * @module
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { p2wpkh, Transaction } from '@scure/btc-signer';
import { z } from 'zod';
import { addressToOutputScript, btcNetwork, p2wpkhAddress } from '#shared/bitcoin/network.ts';
import type { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';

/** @scure/btc-signer network object for regtest (bcrt1 addresses). */
export const REGTEST_NETWORK = btcNetwork('regtest');

/** Blocks a coinbase output must be buried under before it can be spent. */
export const COINBASE_MATURITY = 100;

/** Outputs below this many sats are dust for P2WPKH at the default relay fee (Core: 294; btcd: 546 for P2PKH). */
export const DUST_LIMIT_SATS = 546n;

/** Fee rate used when none is given, sat/vB (btcd's minimum relay fee is 1 sat/vB). */
export const DEFAULT_FEE_RATE = 2;

/** Destination of an output: an address (regtest) or a raw output script. */
export type OutputTarget = { address: string; sats: bigint } | { script: Uint8Array; sats: bigint };

/** An output some key can spend with a P2WPKH signature. */
export interface SpendInput {
  txid: string;
  vout: number;
  sats: bigint;
  privateKey: Uint8Array;
  /** nSequence (default 0xfffffffd: RBF signalled, locktime honoured). */
  sequence?: number;
}

/** A signed transaction, not necessarily broadcast. */
export interface SignedTx {
  txid: string;
  hex: string;
  vsize: number;
  fee: bigint;
  /** Index of the change output, `null` when there is none. */
  changeVout: number | null;
}

/** Options shared by transaction builders. Give `fee` (absolute) or `feeRate` (sat/vB), not both. */
export interface FeeOptions {
  /** Fee rate in sat/vB (may be fractional or 0). Default {@link DEFAULT_FEE_RATE}. */
  feeRate?: number;
  /** Absolute fee in sats; overrides `feeRate`. */
  fee?: bigint;
}

/** An output the test wallet owns. */
export interface WalletUtxo {
  txid: string;
  vout: number;
  sats: bigint;
  /** Height of the block whose coinbase this is, `null` for change outputs. */
  coinbaseHeight: number | null;
}

/** A wallet transaction, signed but not yet broadcast (see {@link RegtestWallet.broadcast}). */
export interface WalletTransaction extends SignedTx {
  inputs: WalletUtxo[];
  /** Amount of the change output, 0n when there is none. */
  changeSats: bigint;
}

/** Result of {@link RegtestWallet.fund}: the funded outpoint and the whole transaction. */
export interface FundResult {
  txid: string;
  vout: number;
  hex: string;
}

function outputScript(target: OutputTarget): Uint8Array {
  if ('script' in target) return target.script;
  return addressToOutputScript(target.address, 'regtest');
}

/** Regtest output script (scriptPubKey) of an address; throws `DecodeError` on an address of another network. */
export function regtestOutputScript(address: string): Uint8Array {
  return outputScript({ address, sats: 0n });
}

/** Regtest P2WPKH (bcrt1q) address of a compressed public key. */
export function regtestP2wpkhAddress(publicKey: Uint8Array): string {
  return p2wpkhAddress(publicKey, 'regtest');
}

/** Size in vbytes a P2WPKH spend with these outputs roughly has (for coin selection only). */
function estimateVsize(inputCount: number, outputScripts: readonly Uint8Array[]): number {
  const outputs = outputScripts.reduce((sum, s) => sum + 8 + 1 + s.length, 0);
  return Math.ceil(10.5 + 68.25 * inputCount + outputs);
}

function feeFor(vsize: number, opts: FeeOptions): bigint {
  if (opts.fee !== undefined) return opts.fee;
  const rate = opts.feeRate ?? DEFAULT_FEE_RATE;
  return BigInt(Math.ceil(vsize * rate));
}

function signOnce(
  inputs: readonly SpendInput[],
  outputs: ReadonlyArray<{ script: Uint8Array; sats: bigint }>,
  opts: { version?: number; lockTime?: number },
): Transaction {
  const tx = new Transaction({
    version: opts.version ?? 2,
    lockTime: opts.lockTime ?? 0,
    allowUnknownOutputs: true,
    lowR: true,
  });
  for (const input of inputs) {
    const pub = secp256k1.getPublicKey(input.privateKey, true);
    tx.addInput({
      txid: input.txid,
      index: input.vout,
      sequence: input.sequence ?? 0xfffffffd,
      witnessUtxo: { script: p2wpkh(pub).script, amount: input.sats },
    });
  }
  for (const o of outputs) tx.addOutput({ script: o.script, amount: o.sats });
  for (let i = 0; i < inputs.length; i++) tx.signIdx(inputs[i]!.privateKey, i);
  tx.finalize();
  return tx;
}

/**
 * Builds and signs a transaction spending P2WPKH outputs of any keys.
 * Outputs keep their order; with `changeScript`, a change output is appended
 * that takes inputs − outputs − fee, and is left out when it would be dust.
 * Without `changeScript` the fee is whatever inputs − outputs leaves.
 * Throws when the inputs do not cover outputs + fee. Nothing is checked for
 * standardness: tests may build transactions the node refuses on purpose.
 */
export function buildP2wpkhSpend(
  opts: {
    inputs: readonly SpendInput[];
    outputs: readonly OutputTarget[];
    changeScript?: Uint8Array;
    version?: number;
    lockTime?: number;
  } & FeeOptions,
): SignedTx {
  const outs = opts.outputs.map((o) => ({ script: outputScript(o), sats: o.sats }));
  const totalIn = opts.inputs.reduce((s, i) => s + i.sats, 0n);
  const totalOut = outs.reduce((s, o) => s + o.sats, 0n);
  const txOpts = { version: opts.version, lockTime: opts.lockTime };
  const finish = (tx: Transaction, changeVout: number | null): SignedTx => ({
    txid: tx.id,
    hex: tx.hex,
    vsize: tx.vsize,
    fee: totalIn - totalOut - (changeVout === null ? 0n : (tx.getOutput(changeVout).amount ?? 0n)),
    changeVout,
  });
  if (!opts.changeScript) {
    if (totalIn < totalOut) {
      throw new Error(`Inputs of ${totalIn} sats do not cover outputs of ${totalOut} sats`);
    }
    return finish(signOnce(opts.inputs, outs, txOpts), null);
  }
  // Sign with a placeholder change to learn the size, then with the real change. Low-R signatures
  // are 71 or (1 in 256, when s is short) 70 bytes, so the final transaction can be a vbyte larger
  // than the placeholder: re-sign with the larger fee until the fee covers the signed size.
  const withChange = [...outs, { script: opts.changeScript, sats: 0n }];
  let fee = feeFor(signOnce(opts.inputs, withChange, txOpts).vsize, opts);
  for (let round = 0; totalIn - totalOut - fee >= DUST_LIMIT_SATS; round++) {
    withChange[withChange.length - 1]!.sats = totalIn - totalOut - fee;
    const tx = signOnce(opts.inputs, withChange, txOpts);
    const needed = feeFor(tx.vsize, opts);
    if (needed <= fee || round >= 4) return finish(tx, outs.length);
    fee = needed;
  }
  const feeWithout = feeFor(signOnce(opts.inputs, outs, txOpts).vsize, opts);
  if (totalIn - totalOut < feeWithout) {
    throw new Error(
      `Inputs of ${totalIn} sats do not cover outputs of ${totalOut} sats plus a fee of ${feeWithout}`,
    );
  }
  return finish(signOnce(opts.inputs, outs, txOpts), null);
}

const BlockSchema = z.object({ height: z.number().int(), tx: z.array(z.string()).min(1) });

/**
 * The regtest test wallet: one key, its mature coinbase outputs and its
 * change. Not safe against other spenders of its key (there are none).
 */
export class RegtestWallet {
  readonly rpc: BitcoinRpc;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** bcrt1q address: pass it to btcd as `--miningaddr`. */
  readonly address: string;
  /** P2WPKH output script of {@link address}. */
  readonly script: Uint8Array;
  readonly #scriptHex: string;
  #utxos: WalletUtxo[] = [];
  #scannedHeight = 0;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(rpc: BitcoinRpc, privateKey: Uint8Array = secp256k1.utils.randomSecretKey()) {
    this.rpc = rpc;
    this.privateKey = privateKey;
    this.publicKey = secp256k1.getPublicKey(privateKey, true);
    this.address = regtestP2wpkhAddress(this.publicKey);
    this.script = p2wpkh(this.publicKey).script;
    this.#scriptHex = bytesToHex(this.script);
  }

  /** Runs `fn` after every earlier wallet call finished, so coin selection never races. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Adds coinbase outputs that matured since the last scan (spendable in the next block). */
  async #scan(): Promise<void> {
    const tip = await this.rpc.getBlockCount();
    const lastMature = tip - (COINBASE_MATURITY - 1);
    for (let height = this.#scannedHeight + 1; height <= lastMature; height++) {
      const hash = await this.rpc.call('getblockhash', [height], z.string());
      const block = await this.rpc.call('getblock', [hash], BlockSchema);
      const coinbaseTxid = block.tx[0]!;
      const raw = await this.rpc.getRawTransaction(coinbaseTxid);
      if (!raw) throw new Error(`Coinbase '${coinbaseTxid}' of block ${height} not found (is --txindex on?)`);
      const tx = Transaction.fromRaw(hexToBytes(raw.hex), { allowUnknownOutputs: true });
      for (let vout = 0; vout < tx.outputsLength; vout++) {
        const out = tx.getOutput(vout);
        if (out.script && out.amount !== undefined && bytesToHex(out.script) === this.#scriptHex) {
          this.#utxos.push({ txid: coinbaseTxid, vout, sats: out.amount, coinbaseHeight: height });
        }
      }
      this.#scannedHeight = height;
    }
  }

  /** Scans the chain for newly matured coinbase outputs. */
  refresh(): Promise<void> {
    return this.#serial(() => this.#scan());
  }

  /** Spendable outputs (mature coinbases and change, confirmed or not), oldest first. */
  listUnspent(): Promise<WalletUtxo[]> {
    return this.#serial(async () => {
      await this.#scan();
      return this.#utxos.map((u) => ({ ...u }));
    });
  }

  /** Sum of {@link listUnspent}. */
  async balance(): Promise<bigint> {
    return (await this.listUnspent()).reduce((s, u) => s + u.sats, 0n);
  }

  #create(
    outputs: readonly OutputTarget[],
    opts: FeeOptions & { inputs?: readonly WalletUtxo[]; change?: boolean },
  ): WalletTransaction {
    const scripts = outputs.map(outputScript);
    const target = outputs.reduce((s, o) => s + o.sats, 0n);
    let inputs: WalletUtxo[];
    if (opts.inputs) {
      inputs = [...opts.inputs];
    } else {
      inputs = [];
      let total = 0n;
      for (const utxo of this.#utxos) {
        inputs.push(utxo);
        total += utxo.sats;
        const fee = feeFor(estimateVsize(inputs.length, [...scripts, this.script]), opts);
        if (total >= target + fee) break;
      }
    }
    const signed = buildP2wpkhSpend({
      inputs: inputs.map((u) => ({ ...u, privateKey: this.privateKey })),
      outputs,
      changeScript: opts.change === false ? undefined : this.script,
      fee: opts.fee,
      feeRate: opts.feeRate,
    });
    return {
      ...signed,
      inputs,
      changeSats: signed.changeVout === null ? 0n : this.#outputSats(signed.hex, signed.changeVout),
    };
  }

  #outputSats(hex: string, vout: number): bigint {
    return Transaction.fromRaw(hexToBytes(hex), { allowUnknownOutputs: true }).getOutput(vout).amount ?? 0n;
  }

  /**
   * Builds and signs a transaction paying `outputs` from the wallet, with
   * change back to the wallet unless `change: false`. Nothing is broadcast
   * and the wallet's outputs stay unspent until {@link broadcast}. Give
   * `inputs` to choose the coins (e.g. to build a double spend), `feeRate: 0`
   * or a tiny `fee` to build a transaction the node must refuse.
   */
  createTransaction(
    outputs: readonly OutputTarget[],
    opts: FeeOptions & { inputs?: readonly WalletUtxo[]; change?: boolean } = {},
  ): Promise<WalletTransaction> {
    return this.#serial(async () => {
      await this.#scan();
      return this.#create(outputs, opts);
    });
  }

  /**
   * Sends a wallet transaction with `sendrawtransaction`; on success its
   * inputs leave the wallet and its change joins it. Node refusals throw the
   * typed RPC errors and change nothing.
   */
  broadcast(tx: WalletTransaction): Promise<string> {
    return this.#serial(() => this.#broadcast(tx));
  }

  async #broadcast(tx: WalletTransaction): Promise<string> {
    const txid = await this.rpc.sendRawTransaction(tx.hex);
    const spent = new Set(tx.inputs.map((u) => `${u.txid}:${u.vout}`));
    this.#utxos = this.#utxos.filter((u) => !spent.has(`${u.txid}:${u.vout}`));
    if (tx.changeVout !== null) {
      this.#utxos.push({ txid, vout: tx.changeVout, sats: tx.changeSats, coinbaseHeight: null });
    }
    return txid;
  }

  /** Pays `sats` to `address` in one broadcast transaction (unconfirmed: mine to confirm). */
  async fund(address: string, sats: bigint, opts: FeeOptions = {}): Promise<FundResult> {
    const { txid, hex, vouts } = await this.fundMany([{ address, sats }], opts);
    return { txid, vout: vouts[0]!, hex };
  }

  /** Pays every output in one broadcast transaction; `vouts[i]` is the index of `outputs[i]`. */
  fundMany(
    outputs: readonly OutputTarget[],
    opts: FeeOptions = {},
  ): Promise<{ txid: string; hex: string; vouts: number[] }> {
    return this.#serial(async () => {
      await this.#scan();
      const tx = this.#create(outputs, opts);
      const txid = await this.#broadcast(tx);
      return { txid, hex: tx.hex, vouts: outputs.map((_, i) => i) };
    });
  }

  /** Hex of the wallet's private key (for tests that hand it to a client). */
  get privateKeyHex(): string {
    return bytesToHex(this.privateKey);
  }
}
