/**
 * UTXO tracking for the client through a node's JSON-RPC: {@link UtxoSource}
 * with a btcd implementation (`searchrawtransactions`, needs `--addrindex`;
 * sees mempool outputs) and a Bitcoin Core one (`scantxoutset`, confirmed
 * outputs only), both using `gettxout` to drop spent outputs and read
 * confirmations.
 *
 * @module
 */
import { z } from 'zod';
import { RpcError } from '#shared/errors.ts';
import { type BitcoinRpc, btcToSats } from '#shared/rpc/bitcoin_rpc.ts';

/** An unspent output of one of the watched addresses. */
export interface Utxo {
  txid: string;
  vout: number;
  value: number;
  address: string;
  scriptPubKeyHex: string;
  /** 0 while in the mempool. */
  confirmations: number;
}

/** Where the client learns about its UTXOs. */
export interface UtxoSource {
  /** Unspent outputs paying any of `addresses`. */
  listUnspent(addresses: readonly string[]): Promise<Utxo[]>;
  /** Confirmations of an unspent output, or null when it is spent or unknown. */
  confirmations(txid: string, vout: number): Promise<number | null>;
}

const SearchTxSchema = z.array(
  z.object({
    txid: z.string(),
    vout: z.array(
      z.object({
        value: z.number(),
        n: z.number().int(),
        scriptPubKey: z.object({
          hex: z.string(),
          address: z.string().optional(),
          addresses: z.array(z.string()).optional(),
        }),
      }),
    ),
  }),
);

/** Runs up to `limit` promises at once. */
async function mapLimit<T, R>(xs: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(xs.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < xs.length) {
      const i = next++;
      out[i] = await fn(xs[i] as T);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, xs.length) }, worker));
  return out;
}

/** btcd UTXO source: `searchrawtransactions` per address, then `gettxout` per candidate output. */
export class BtcdUtxoSource implements UtxoSource {
  readonly #rpc: BitcoinRpc;
  readonly #concurrency: number;

  constructor(rpc: BitcoinRpc, opts: { concurrency?: number } = {}) {
    this.#rpc = rpc;
    this.#concurrency = opts.concurrency ?? 4;
  }

  async listUnspent(addresses: readonly string[]): Promise<Utxo[]> {
    const found = await mapLimit(addresses, this.#concurrency, (a) => this.#forAddress(a));
    return found.flat();
  }

  async confirmations(txid: string, vout: number): Promise<number | null> {
    const out = await this.#rpc.getTxOut(txid, vout, true);
    return out ? out.confirmations : null;
  }

  async #forAddress(address: string): Promise<Utxo[]> {
    let txs: z.infer<typeof SearchTxSchema>;
    try {
      txs = await this.#rpc.call('searchrawtransactions', [address, 1, 0, 10_000, 0, false], SearchTxSchema);
    } catch (err) {
      // btcd: -5 "No information available about address"
      if (err instanceof RpcError && err.code === -5) return [];
      throw err;
    }
    const candidates: Array<{ txid: string; vout: number; hex: string }> = [];
    const seen = new Set<string>();
    for (const tx of txs) {
      for (const o of tx.vout) {
        const addrs = o.scriptPubKey.address ? [o.scriptPubKey.address] : (o.scriptPubKey.addresses ?? []);
        const key = `${tx.txid}:${o.n}`;
        if (addrs.includes(address) && !seen.has(key)) {
          seen.add(key);
          candidates.push({ txid: tx.txid, vout: o.n, hex: o.scriptPubKey.hex });
        }
      }
    }
    const utxos = await mapLimit(candidates, this.#concurrency, async (c): Promise<Utxo | null> => {
      const out = await this.#rpc.getTxOut(c.txid, c.vout, true);
      if (!out) return null;
      return {
        txid: c.txid,
        vout: c.vout,
        value: out.value,
        address,
        scriptPubKeyHex: out.scriptPubKeyHex,
        confirmations: out.confirmations,
      };
    });
    return utxos.filter((u): u is Utxo => u !== null);
  }
}

const ScanSchema = z.object({
  success: z.boolean().optional(),
  height: z.number().int().optional(),
  unspents: z.array(
    z.object({
      txid: z.string(),
      vout: z.number().int(),
      scriptPubKey: z.string(),
      desc: z.string().optional(),
      amount: z.number(),
      height: z.number().int(),
    }),
  ),
});

/** Bitcoin Core UTXO source: one `scantxoutset` over `addr(...)` descriptors (confirmed outputs only). */
export class CoreUtxoSource implements UtxoSource {
  readonly #rpc: BitcoinRpc;

  constructor(rpc: BitcoinRpc) {
    this.#rpc = rpc;
  }

  async listUnspent(addresses: readonly string[]): Promise<Utxo[]> {
    if (addresses.length === 0) return [];
    const res = await this.#rpc.call(
      'scantxoutset',
      ['start', addresses.map((a) => `addr(${a})`)],
      ScanSchema,
    );
    const tip = res.height ?? (await this.#rpc.getBlockCount());
    const byScript = new Map<string, string>();
    for (const u of res.unspents) {
      const m = /addr\(([^)]+)\)/.exec(u.desc ?? '');
      if (m?.[1]) byScript.set(u.scriptPubKey, m[1]);
    }
    return res.unspents.map((u) => ({
      txid: u.txid,
      vout: u.vout,
      value: btcToSats(u.amount),
      address: byScript.get(u.scriptPubKey) ?? '',
      scriptPubKeyHex: u.scriptPubKey,
      confirmations: u.height > 0 ? tip - u.height + 1 : 0,
    }));
  }

  async confirmations(txid: string, vout: number): Promise<number | null> {
    const out = await this.#rpc.getTxOut(txid, vout, true);
    return out ? out.confirmations : null;
  }
}
