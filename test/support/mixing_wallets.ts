/**
 * Wallets that mix all the time, for cluster chaos suites: N reference
 * clients (`WhirlpoolClient`), each funded on btcd and holding the premix
 * outputs of one Tx0, mix their premix UTXOs one after the other in one pool.
 * With an anonymity set of N every mix takes one UTXO of each wallet (inputs
 * from N distinct Tx0s). A UTXO whose mix ends in failure is tried again, as
 * a wallet would, up to `retries` more times, unless it is spent (a mix
 * went through without its SUCCESS reaching the client). Every phase of every client is
 * passed to `onPhase` listeners (e.g. to inject a fault at SIGNING).
 *
 * @module
 */
import {
  type BootstrapOptions,
  type MixHandle,
  type MixOutcome,
  type MixPhase,
  type MixTransport,
  WhirlpoolClient,
} from '#client/api.ts';
import type { MixUtxo } from '#client/mix/mix_types.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import type { BtcdNode } from '#devnet/btcd.ts';

/** The final outcome of one premix UTXO. */
export interface UtxoOutcome {
  wallet: number;
  utxo: string;
  outcome: MixOutcome;
  attempts: number;
}

/** One wallet's client settings: a fixed coordinator URL, or cluster discovery. */
export type MixingWalletSpec = {
  transport: MixTransport;
} & (
  | {
      /** Coordinator URL the client talks to. */
      url: string;
      /** Follow redirects (false: an unmodified 0.23 client, relayed by the instance it reaches). */
      acceptRedirect: boolean;
    }
  | {
      /** Bootstrap list and pinned key (the client follows redirects and pool moves). */
      bootstrap: BootstrapOptions;
    }
);

/**
 * Mix phases in which stopping a client could cut a started mix (and get it
 * blamed): from CONFIRMING_INPUT on, since the coordinator may already have
 * taken the confirmation and started the mix when the client stops.
 */
const IN_MIX: readonly MixPhase[] = [
  'CONFIRMING_INPUT',
  'CONFIRMED_INPUT',
  'REGISTERING_OUTPUT',
  'REGISTERED_OUTPUT',
  'REVEALED_OUTPUT',
  'SIGNING',
  'SIGNED',
];

/** Options of {@link prepareMixingWallets}. */
export interface MixingWalletsOptions {
  btcd: BtcdNode;
  poolId: string;
  /** Pool denomination, sats. */
  denomination: number;
  wallets: MixingWalletSpec[];
  premixPerWallet: number;
  /** Attempts after a failed outcome for one UTXO (default 5). */
  retries?: number;
  /** Client reconnection window (default 60 000 ms). */
  reconnectUntilMs?: number;
}

/** The wallets, their workers, and what happened. */
export interface MixingWallets {
  readonly clients: WhirlpoolClient[];
  readonly outcomes: UtxoOutcome[];
  /** Client outcomes that were SUCCESS. */
  successes(): Array<Extract<MixOutcome, { status: 'SUCCESS' }>>;
  /** Adds a listener of every phase of every client; returns its remover. */
  onPhase(listener: (wallet: number, phase: MixPhase) => void): () => void;
  /** Starts mixing; resolves when every UTXO has its final outcome. */
  run(): Promise<void>;
  /** Stops every running mix. */
  stop(): void;
  /**
   * Ends the run without cutting a started mix: no new UTXO and no retry;
   * clients waiting in a queue are stopped at once, clients inside a mix may
   * finish it for up to `graceMs`, then everything left is stopped.
   */
  finish(graceMs: number): Promise<void>;
}

/** Funds the wallets, makes one Tx0 each (mined), and returns them ready to {@link MixingWallets.run}. */
export async function prepareMixingWallets(o: MixingWalletsOptions): Promise<MixingWallets> {
  const clients = o.wallets.map(
    (w) =>
      new WhirlpoolClient({
        ...('url' in w ? { serverUrl: w.url, acceptRedirect: w.acceptRedirect } : { bootstrap: w.bootstrap }),
        wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' }),
        rpc: o.btcd.rpc,
        transport: w.transport,
        reconnectDelayMs: 500,
        reconnectUntilMs: o.reconnectUntilMs ?? 60_000,
      }),
  );
  await o.btcd.wallet.fundMany(
    clients.map((c) => ({
      address: c.wallet.account('deposit').nextKey(0).address,
      sats: BigInt(o.premixPerWallet * (o.denomination + 10_000) + 100_000),
    })),
  );
  await o.btcd.mine(1);
  const premix: MixUtxo[][] = [];
  for (const c of clients) {
    const tx0 = await c.tx0({
      poolId: o.poolId,
      utxos: await c.utxos('deposit'),
      feeRate: 2,
      maxOutputs: o.premixPerWallet,
    });
    if (tx0.premixOutputs.length !== o.premixPerWallet)
      throw new Error(`Tx0 made ${tx0.premixOutputs.length} premix outputs, not ${o.premixPerWallet}`);
    premix.push(c.premixUtxos(tx0));
  }
  await o.btcd.mine(1);

  const outcomes: UtxoOutcome[] = [];
  const listeners = new Set<(wallet: number, phase: MixPhase) => void>();
  /** Running handles and the last phase of each. */
  const handles = new Map<MixHandle, MixPhase | null>();
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const retries = o.retries ?? 5;

  async function mixAll(wallet: number): Promise<void> {
    const client = clients[wallet]!;
    for (const utxo of premix[wallet]!) {
      let attempts = 0;
      let outcome: MixOutcome;
      do {
        attempts++;
        const h = client.mix(utxo, { poolId: o.poolId, retryDelayMs: 500 });
        handles.set(h, null);
        h.on('phase', (p) => {
          if (handles.has(h)) handles.set(h, p);
          for (const l of listeners) l(wallet, p);
        });
        outcome = await h.done;
        handles.delete(h);
        if (outcome.status === 'SUCCESS' || stopped) break;
        // Spent meanwhile (a mix went through but its SUCCESS never reached the client): nothing left to retry.
        if ((await o.btcd.rpc.getTxOut(utxo.txid, utxo.vout, true)) === null) break;
        await new Promise((r) => setTimeout(r, 1000));
      } while (attempts <= retries);
      outcomes.push({ wallet, utxo: `${utxo.txid}:${utxo.vout}`, outcome, attempts });
      if (stopped) return;
    }
  }

  return {
    clients,
    outcomes,
    successes: () =>
      outcomes
        .map((u) => u.outcome)
        .filter((x): x is Extract<MixOutcome, { status: 'SUCCESS' }> => x.status === 'SUCCESS'),
    onPhase(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    run() {
      running = Promise.all(clients.map((_, i) => mixAll(i))).then(() => undefined);
      return running;
    },
    stop() {
      stopped = true;
      for (const h of handles.keys()) h.stop();
    },
    async finish(graceMs) {
      stopped = true;
      const until = Date.now() + graceMs;
      for (;;) {
        for (const [h, phase] of handles) if (phase === null || !IN_MIX.includes(phase)) h.stop();
        if (handles.size === 0 || Date.now() > until) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const h of handles.keys()) h.stop();
      await running;
    },
  };
}
