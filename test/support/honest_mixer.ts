/**
 * Honest wallets for the abuse suite and bench: N reference clients
 * (`WhirlpoolClient`, 127.0.0.1) funded on btcd, each holding the premix
 * outputs of one Tx0, that mix one UTXO each on demand ({@link HonestMixer.mixOnce})
 * so a test can run one mix while an attack runs and time it.
 *
 * @module
 */
import { type MixOutcome, type MixTransport, WhirlpoolClient } from '#client/api.ts';
import type { MixUtxo } from '#client/mix/mix_types.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import type { BtcdNode } from '#devnet/btcd.ts';

/** See module doc. */
export interface HonestMixer {
  readonly clients: WhirlpoolClient[];
  /** Every wallet mixes its next premix UTXO; resolves with the outcomes and the wall time. */
  mixOnce(timeoutMs?: number): Promise<{ outcomes: MixOutcome[]; ms: number }>;
  /** Premix UTXOs left per wallet. */
  left(): number;
  stop(): void;
}

/** Funds `transports.length` wallets with `mixes` premix UTXOs each (one Tx0 each, mined). */
export async function prepareHonestMixer(o: {
  btcd: BtcdNode;
  url: string;
  poolId: string;
  denomination: number;
  transports: MixTransport[];
  mixes: number;
}): Promise<HonestMixer> {
  const clients = o.transports.map(
    (transport) =>
      new WhirlpoolClient({
        serverUrl: o.url,
        acceptRedirect: true,
        wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' }),
        rpc: o.btcd.rpc,
        transport,
        reconnectDelayMs: 500,
        reconnectUntilMs: 60_000,
      }),
  );
  await o.btcd.wallet.fundMany(
    clients.map((c) => ({
      address: c.wallet.account('deposit').nextKey(0).address,
      sats: BigInt(o.mixes * (o.denomination + 10_000) + 100_000),
    })),
  );
  await o.btcd.mine(1);
  const premix: MixUtxo[][] = [];
  for (const c of clients) {
    const tx0 = await c.tx0({
      poolId: o.poolId,
      utxos: await c.utxos('deposit'),
      feeRate: 2,
      maxOutputs: o.mixes,
    });
    premix.push(c.premixUtxos(tx0));
  }
  await o.btcd.mine(1);
  const running = new Set<{ stop(): void }>();
  return {
    clients,
    left: () => Math.min(...premix.map((p) => p.length)),
    async mixOnce(timeoutMs = 90_000) {
      const t0 = performance.now();
      const handles = clients.map((c, i) => {
        const utxo = premix[i]!.shift();
        if (!utxo) throw new Error('honest mixer: no premix UTXO left');
        const h = c.mix(utxo, { poolId: o.poolId, retryDelayMs: 500 });
        running.add(h);
        return h;
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          for (const h of handles) h.stop();
          reject(new Error(`honest mix did not finish within ${timeoutMs} ms`));
        }, timeoutMs);
      });
      try {
        const outcomes = await Promise.race([Promise.all(handles.map((h) => h.done)), timeout]);
        return { outcomes, ms: performance.now() - t0 };
      } finally {
        clearTimeout(timer);
        for (const h of handles) running.delete(h);
      }
    },
    stop() {
      for (const h of running) h.stop();
    },
  };
}
