/**
 * One simulated wallet of the demo, built on the client library
 * ({@link WhirlpoolClient}) and bootstrap discovery ({@link DirectoryClient}):
 * it makes Tx0s from its deposit through any active instance, and runs one
 * "lane" per UTXO that mixes it, then remixes the postmix output forever.
 * Before every attempt a lane asks the directory which instance owns its pool
 * and connects there, so when the owner dies (kill -9) the lane's attempt
 * fails (DISCONNECTED), the lane refreshes the directory and reconnects to the
 * new owner — the failover a cluster-aware client performs.
 *
 * @module
 */
import { type MixOutcome, type MixPhase, type MixUtxo, WhirlpoolClient } from '#client/api.ts';
import type { DirectoryClient } from '#client/discovery/directory_client.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import type { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';

/**
 * What a lane is doing: `queued` = registered, waiting in the pool;
 * `confirming` = invited into a mix, confirming its input (the coordinator
 * sends it back to the queue when the mix already holds an input of the
 * same transaction or wallet); `mixing` = its input is in the mix.
 */
export type LaneState =
  | 'waiting-confirmation'
  | 'connecting'
  | 'queued'
  | 'confirming'
  | 'mixing'
  | 'retrying'
  | 'ended';

/** One UTXO being mixed and remixed. */
export interface Lane {
  state: LaneState;
  utxo: MixUtxo;
  /** Instance the current attempt talks to. */
  instanceId: string | null;
  phase: MixPhase | null;
  lastError: string | null;
}

/** Options of {@link DemoWallet}. */
export interface DemoWalletOptions {
  name: string;
  poolId: string;
  denomination: number;
  rpc: BitcoinRpc;
  directory: DirectoryClient;
  transport: 'sockjs' | 'websocket';
  /** Delay before a lane retries after a failed attempt, ms. */
  retryDelayMs: number;
  /** Successful mixes after which a lane stops remixing its UTXO (the wallet then makes new Tx0s). */
  mixesPerUtxo: () => number;
  /** Called once per successful mix of this wallet (mixId). */
  onMix(mixId: string, poolId: string, instanceId: string | null): void;
  /** Progress messages worth printing. */
  log(message: string): void;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Instance URLs whose last Tx0 failed, until when to avoid them (shared by the wallets of the run). */
const unreachableUntil = new Map<string, number>();

const MIXING_PHASES: ReadonlySet<MixPhase> = new Set([
  'CONFIRMED_INPUT',
  'REGISTERING_OUTPUT',
  'REGISTERED_OUTPUT',
  'REVEALED_OUTPUT',
  'SIGNING',
  'SIGNED',
]);

/** A simulated wallet (see module doc). */
export class DemoWallet {
  readonly name: string;
  readonly poolId: string;
  readonly wallet: Wallet;
  readonly lanes: Lane[] = [];
  mixes = 0;
  failures = 0;
  tx0s = 0;
  readonly #o: DemoWalletOptions;
  readonly #clients = new Map<string, WhirlpoolClient>();
  readonly #abort = new AbortController();
  readonly #running = new Set<Promise<void>>();
  readonly #sessions = new Set<{ stop(message?: string): void }>();

  constructor(opts: DemoWalletOptions) {
    this.#o = opts;
    this.name = opts.name;
    this.poolId = opts.poolId;
    this.wallet = Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' });
  }

  /** A fresh deposit address to fund. */
  depositAddress(): string {
    return this.wallet.account('deposit').nextKey(0).address;
  }

  /** Lanes still running. */
  activeLanes(): number {
    return this.lanes.filter((l) => l.state !== 'ended').length;
  }

  #client(url: string): WhirlpoolClient {
    let c = this.#clients.get(url);
    if (!c) {
      c = new WhirlpoolClient({
        serverUrl: url,
        wallet: this.wallet,
        rpc: this.#o.rpc,
        transport: this.#o.transport,
        reconnectDelayMs: 1000,
        reconnectUntilMs: 3000,
        heartbeatMs: 5000,
        session: { connectTimeoutMs: 10_000 },
      });
      this.#clients.set(url, c);
    }
    return c;
  }

  /**
   * Makes one Tx0 (one premix output) from the confirmed deposit UTXOs
   * through a random active instance and starts a lane for the premix.
   * Returns false when there is nothing to spend or no instance answered.
   */
  async tx0(): Promise<boolean> {
    if (this.#abort.signal.aborted) return false;
    for (let attempt = 0; attempt < 3; attempt++) {
      let url: string;
      try {
        url = await this.#tx0Instance(attempt > 0);
      } catch (err) {
        this.#o.log(`${this.name}: no instance for a Tx0 (${(err as Error).message})`);
        return false;
      }
      const client = this.#client(url);
      try {
        const utxos = (await client.utxos('deposit')).filter((u) => u.confirmations >= 1);
        if (utxos.length === 0) return false;
        const tx0 = await client.tx0({ poolId: this.poolId, utxos, feeRate: 2, maxOutputs: 1 });
        this.tx0s++;
        for (const u of client.premixUtxos(tx0)) this.#startLane(u);
        return true;
      } catch (err) {
        unreachableUntil.set(url, Date.now() + 30_000);
        this.#o.log(`${this.name}: Tx0 through ${url} failed: ${(err as Error).message}`);
      }
    }
    return false;
  }

  /**
   * A random active instance for `/rest/tx0`, skipping those that failed in
   * the last 30 s: a killed instance stays in the directory until its record
   * expires (60 s), as it would for a real client.
   */
  async #tx0Instance(refresh: boolean): Promise<string> {
    let url = (await this.#o.directory.randomInstance({ refresh })).url;
    for (let i = 0; i < 8 && (unreachableUntil.get(url) ?? 0) > Date.now(); i++) {
      url = (await this.#o.directory.randomInstance()).url;
    }
    return url;
  }

  #startLane(utxo: MixUtxo): void {
    const lane: Lane = {
      state: 'waiting-confirmation',
      utxo,
      instanceId: null,
      phase: null,
      lastError: null,
    };
    this.lanes.push(lane);
    const p = this.#runLane(lane).catch((err: unknown) => {
      lane.lastError = (err as Error).message;
      this.#o.log(`${this.name}: lane ended on an error: ${lane.lastError}`);
    });
    this.#running.add(p);
    void p.finally(() => {
      lane.state = 'ended';
      this.#running.delete(p);
    });
  }

  async #runLane(lane: Lane): Promise<void> {
    const signal = this.#abort.signal;
    let refresh = false;
    const target = this.#o.mixesPerUtxo();
    let done = 0;
    while (!signal.aborted && done < target) {
      lane.state = 'waiting-confirmation';
      lane.phase = null;
      if (!(await this.#waitConfirmed(lane.utxo, signal))) {
        if (signal.aborted) return;
        const replacement = await this.#adoptUnusedPostmix();
        if (!replacement) return;
        lane.utxo = replacement;
        continue;
      }
      let endpoint: { url: string; instanceId: string };
      try {
        endpoint = await this.#o.directory.ownerOf(this.poolId, { refresh });
      } catch (err) {
        lane.state = 'retrying';
        lane.lastError = (err as Error).message;
        refresh = true;
        await sleep(this.#o.retryDelayMs, signal);
        continue;
      }
      const client = this.#client(endpoint.url);
      lane.state = 'connecting';
      lane.instanceId = endpoint.instanceId;
      const session = client.mixOnce(lane.utxo, { poolId: this.poolId, denomination: this.#o.denomination });
      this.#sessions.add(session);
      session.on('phase', (phase) => {
        lane.phase = phase;
        if (phase === 'REGISTERED_INPUT') lane.state = 'queued';
        else if (phase === 'CONFIRMING_INPUT') lane.state = 'confirming';
        else if (MIXING_PHASES.has(phase)) lane.state = 'mixing';
      });
      if (signal.aborted) session.stop('demo stopping');
      const outcome: MixOutcome = await session.run();
      this.#sessions.delete(session);
      if (outcome.status === 'SUCCESS') {
        this.mixes++;
        done++;
        refresh = false;
        lane.lastError = null;
        this.#o.onMix(outcome.mixId, this.poolId, endpoint.instanceId);
        lane.utxo = client.mixUtxo(outcome.receiveUtxo);
        continue;
      }
      if (outcome.reason === 'STOPPED' || signal.aborted) return;
      this.failures++;
      lane.state = 'retrying';
      lane.lastError = `${outcome.reason}: ${outcome.message}`;
      refresh = true;
      await sleep(this.#o.retryDelayMs, signal);
    }
  }

  /** Waits until `utxo` has a confirmation; false when it is spent or unknown, or on stop. */
  async #waitConfirmed(utxo: MixUtxo, signal: AbortSignal): Promise<boolean> {
    let unknownSince: number | null = null;
    while (!signal.aborted) {
      let out: Awaited<ReturnType<BitcoinRpc['getTxOut']>> = null;
      try {
        out = await this.#o.rpc.getTxOut(utxo.txid, utxo.vout, true);
      } catch {
        // node busy: try again
      }
      if (out && out.confirmations >= 1) return true;
      if (!out) {
        unknownSince ??= Date.now();
        if (Date.now() - unknownSince > 5000) return false;
      } else unknownSince = null;
      await sleep(1000, signal);
    }
    return false;
  }

  /**
   * After a lane's UTXO was spent behind its back (the mix succeeded while
   * the client lost the connection), adopts a postmix UTXO no lane uses.
   */
  async #adoptUnusedPostmix(): Promise<MixUtxo | null> {
    const [anyClient] = this.#clients.values();
    if (!anyClient) return null;
    try {
      const used = new Set(this.lanes.map((l) => `${l.utxo.txid}:${l.utxo.vout}`));
      const free = (await anyClient.utxos('postmix', 20)).find((u) => !used.has(`${u.txid}:${u.vout}`));
      return free ? anyClient.mixUtxo(free) : null;
    } catch {
      return null;
    }
  }

  /** Stops every lane (current attempts end with STOPPED) and waits for them. */
  async stop(): Promise<void> {
    this.#abort.abort();
    for (const s of this.#sessions) s.stop('demo stopping');
    await Promise.all([...this.#running]);
  }
}
