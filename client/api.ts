/**
 * The Whirlpool client library API: {@link WhirlpoolClient} ties a
 * {@link Wallet}, a coordinator ({@link CoordinatorRest} + STOMP sessions) and
 * a bitcoin node (UTXO source, broadcast) together. Usable without the CLI.
 *
 * @example Tx0 then mix every premix output
 * ```ts
 * import { WhirlpoolClient } from '#client/api.ts';
 * import { Wallet } from '#client/wallet/wallet.ts';
 * import { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
 *
 * const wallet = Wallet.fromMnemonic(words, { network: 'regtest' });
 * const client = new WhirlpoolClient({
 *   serverUrl: 'http://127.0.0.1:8080', wallet, rpc: new BitcoinRpc({ url: nodeUrl }),
 * });
 * await client.open(); // checkOutput, for the generations that call it
 * const [pool] = await client.listPools();
 * const tx0 = await client.tx0({ poolId: pool.poolId, utxos: await client.utxos('deposit') });
 * const handles = client.premixUtxos(tx0).map((u) => client.mix(u, { poolId: pool.poolId }));
 * handles[0].on('phase', (phase) => console.log(phase));
 * const outcomes = await Promise.all(handles.map((h) => h.done));
 * ```
 *
 * The client behaves exactly like one Java client generation
 * (`client/generations.ts`): `generation` picks it, from G0 (0.23.18) to G6
 * (0.24.3: `POST /rest/tx0/v1`, V1 OP_RETURN, push, random bordereau,
 * checkOutput, `blockHeight`); the default is `DEFAULT_GENERATION`.
 *
 * With directory discovery instead of one coordinator URL (cluster):
 * ```ts
 * const client = new WhirlpoolClient({
 *   bootstrap: { urls: ['https://mirror.example', 'https://a.pool.example:8080'], directoryPublicKey: '<64 hex>' },
 *   wallet, rpc,
 * });
 * ```
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { hexToBytes } from '@noble/hashes/utils.js';
import type { NetworkName } from '#shared/bitcoin/network.ts';
import { signMessage } from '#shared/bitcoin/signed_message.ts';
import { z85Encode } from '#shared/codec/z85.ts';
import type { PoolInfo } from '#shared/protocol/messages.ts';
import type { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
import { BtcdUtxoSource, type Utxo, type UtxoSource } from './chain/utxo_source.ts';
import {
  type CoordinatorLocator,
  DirectoryLocator,
  FixedLocator,
  type LocateHint,
} from './discovery/coordinator_locator.ts';
import { DirectoryClient } from './discovery/directory_client.ts';
import {
  checkOutputDecision,
  DEFAULT_GENERATION,
  findUnusedIndex,
  type GenerationId,
  type GenerationProfile,
  generation as generationProfile,
  premixCount,
  tx0DataCall,
  tx0NotifyCall,
} from './generations.ts';
import { MixSession, type MixSessionOptions } from './mix/mix_session.ts';
import type { MixEvents, MixOutcome, MixTransport, MixUtxo, ReceiveAddress } from './mix/mix_types.ts';
import { CoordinatorRest, CoordinatorRestError, Tx0PushError } from './rest/coordinator_rest.ts';
import { linkabilityWarnings } from './rest/network_identity.ts';
import { Socks5Agent, socks5Fetch, withFreshCredentials } from './rest/socks5.ts';
import {
  premixValue as computePremixValue,
  MAX_TX0_OUTPUTS,
  type Tx0Preview,
  tx0Preview,
} from './tx0/premix_value.ts';
import {
  buildTx0,
  feeSpecFromTx0Data,
  feeSpecFromTx0DataV1,
  type SpendableUtxo,
  type Tx0,
  type Tx0FeeSpec,
} from './tx0/tx0_builder.ts';
import type { AccountName, Wallet } from './wallet/wallet.ts';

export type { Utxo, UtxoSource } from './chain/utxo_source.ts';
export type { GenerationId, GenerationProfile } from './generations.ts';
export type { MixEvents, MixOutcome, MixPhase, MixTransport, MixUtxo } from './mix/mix_types.ts';
export type { Tx0 } from './tx0/tx0_builder.ts';

/** Directory discovery (cluster): where to fetch the signed directory and the key it must be signed with. */
export interface BootstrapOptions {
  /** Bootstrap mirror URLs and coordinator instance base URLs (all serve `GET /instances`). */
  urls: readonly string[];
  /**
   * Pinned root public keys (32 bytes or 64 hex each; pin the next root too
   * while rotating): every record must carry its instance key's certificate
   * by one of them. Exactly one of this and `directoryPublicKey`.
   */
  directoryRootKeys?: ReadonlyArray<string | Uint8Array>;
  /** Legacy single-key mode: the one directory key signing every record (no certificates). */
  directoryPublicKey?: string | Uint8Array;
  /** Use the onion URLs of the verified directory records, never their clear URLs (default false). */
  preferOnion?: boolean;
}

/** Default upper bound of the random delay before registerOutput, ms (REGISTER_OUTPUT lasts 120 s by default). */
export const DEFAULT_REGISTER_OUTPUT_DELAY_MAX_MS = 3000;
/** Largest accepted bound of that delay, ms (well inside the default 120 s REGISTER_OUTPUT phase). */
export const MAX_REGISTER_OUTPUT_DELAY_MS = 60_000;

/** Options of {@link WhirlpoolClient}: exactly one of `serverUrl` / `bootstrap`. */
export interface WhirlpoolClientOptions {
  /** Coordinator base URL (`http(s)://host:port`): one fixed coordinator (0.23 behaviour). */
  serverUrl?: string;
  /**
   * Instead of `serverUrl`: discover the coordinators through the verified
   * directory. REST (`/rest/pools`, `/rest/tx0`) goes to a random live instance,
   * each mix session to the owner of its pool with `acceptRedirect` on; after a
   * redirect or a lost / failed connection the directory is refreshed first.
   */
  bootstrap?: BootstrapOptions;
  wallet: Wallet;
  /** Bitcoin node (broadcast, confirmations); also the default UTXO source (btcd `searchrawtransactions`). */
  rpc?: BitcoinRpc;
  /** Where UTXOs come from (default: {@link BtcdUtxoSource} on `rpc`). */
  utxoSource?: UtxoSource;
  /** fetch for `/rest/pools`, `/rest/tx0` and SockJS `/info`. */
  fetch?: typeof fetch;
  /** fetch for `/rest/registerOutput` — give it another network identity (Tor circuit / SOCKS5 proxy). */
  registerOutputFetch?: typeof fetch;
  /**
   * SOCKS5 proxy (e.g. Tor, `socks5h://127.0.0.1:9050`) for everything:
   * REST, the mix sessions' WebSockets and registerOutput, with fresh random
   * credentials per request and per mix attempt (Tor isolates circuits by
   * credentials), so no two mix attempts and no input and output share a
   * circuit. `fetch` / `registerOutputFetch` / `session.wsOptions`, when given, win.
   */
  socksProxy?: string;
  /** SOCKS5 proxy for registerOutput only (fresh credentials per request); default `socksProxy`. */
  registerOutputProxy?: string;
  /**
   * Upper bound (ms) of the uniformly random delay before each registerOutput
   * (default {@link DEFAULT_REGISTER_OUTPUT_DELAY_MAX_MS}, at most
   * {@link MAX_REGISTER_OUTPUT_DELAY_MS}; 0 = post at once), so the order and
   * timing of outputs do not mirror the notification.
   */
  registerOutputDelayMaxMs?: number;
  /** Where configuration warnings go (linkable input/output, insecure URLs); default `console.warn`. */
  onWarning?: (message: string) => void;
  /** STOMP transport: `sockjs` (Java client, default) or `websocket` (raw, Android). */
  transport?: MixTransport;
  /** Raw WebSocket path (default `/ws/connect/websocket`). */
  wsPath?: string;
  /** Scode sent with `/rest/tx0`. */
  scode?: string | null;
  /** Connect retry delay (default 5 000 ms) and give-up time (default 500 000 ms), spec §9.4. */
  reconnectDelayMs?: number;
  reconnectUntilMs?: number;
  /** Delay before retrying after MIX_FAILED / DISCONNECTED (default 300 000 ms, spec §9.5). */
  mixRetryDelayMs?: number;
  /** STOMP heart-beat (default 20 000 ms). */
  heartbeatMs?: number;
  /** Cluster addendum: follow RedirectResponse to the instance serving the pool (default false). */
  acceptRedirect?: boolean;
  /** Prefer onion URLs when following a redirect (default false). */
  preferOnion?: boolean;
  /** Extra options handed to every mix session (debug sink, ws options, scaled random retry window). */
  session?: Pick<MixSessionOptions, 'debug' | 'wsOptions' | 'connectTimeoutMs' | 'randomRetryWindow'>;
  /** Client generation to behave as (default {@link DEFAULT_GENERATION}). */
  generation?: GenerationId;
  /** `partnerId` of `POST /rest/tx0[/v1]` (default `SAMOURAI`; Sparrow sends `SPARROW`). */
  partnerId?: string;
  /** Pause after each checkOutput answer `Output already registered` during the index search (default 500 ms, like 0.24.3). */
  checkOutputPauseMs?: number;
}

/** Options of {@link WhirlpoolClient.tx0}. */
export interface Tx0Options {
  poolId: string;
  /** Deposit UTXOs to spend (default: all deposit UTXOs with ≥ 1 confirmation... or any when `minConfirmations` is 0). */
  utxos?: readonly Utxo[];
  /** Tx0 miner fee rate, sat/vB (default 1). */
  feeRate?: number;
  /** Mix miner fee rate used for the premix value, sat/vB (default = feeRate). */
  mixFeeRate?: number;
  /** Upper bound of premix outputs (default 600). */
  maxOutputs?: number;
  /** Scode for this Tx0 (default: the client's). */
  scode?: string | null;
  /** Broadcast through `rpc` (default true). */
  broadcast?: boolean;
}

/** Options of {@link WhirlpoolClient.mix}. */
export interface MixOptions {
  poolId: string;
  /** Expected denomination (default: from `/rest/pools`). */
  denomination?: number;
  /** Mixes to reach: 1 = mix once (default); n > 1 remixes the output until n mixes succeeded; 0 = forever. */
  mixsTarget?: number;
  /** Attempts after MIX_FAILED / DISCONNECTED before giving up (default unlimited). */
  maxAttempts?: number;
  /** Delay before a retry after MIX_FAILED / DISCONNECTED (default: client's `mixRetryDelayMs`). */
  retryDelayMs?: number;
  /** Confirmations a postmix output needs before it is remixed (default 1, like the Java client). */
  remixMinConfirmations?: number;
  /** Poll interval while waiting for confirmations (default 10 000 ms). */
  confirmationPollMs?: number;
  /** Overrides the client's transport for this UTXO. */
  transport?: MixTransport;
}

/** A UTXO being mixed (and maybe remixed): events of every attempt, and the final outcome. */
export class MixHandle extends EventEmitter<MixEvents & { done: [outcome: MixOutcome] }> {
  /** Resolves with the last outcome (SUCCESS of the last mix, or the failure that ended the loop). */
  readonly done: Promise<MixOutcome>;
  /** Successful mixes so far. */
  mixCount = 0;
  /** Current UTXO (changes after each successful mix). */
  utxo: MixUtxo;
  #session: MixSession | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;

  constructor(utxo: MixUtxo, run: (h: MixHandle) => Promise<MixOutcome>) {
    super();
    this.utxo = utxo;
    this.done = Promise.resolve().then(() => run(this));
    this.done.then(
      (o) => this.emit('done', o),
      () => {},
    );
  }

  /** Whether {@link stop} was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Stops the current attempt and any retry / remix. */
  stop(): void {
    this.#stopped = true;
    this.#session?.stop();
    this.#wake?.();
  }

  /** @internal */
  attach(session: MixSession | null): void {
    this.#session = session;
  }

  /** @internal sleeps `ms` unless stopped. */
  sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(t);
        self.#wake = null;
        resolve();
      }
      this.#wake = done;
    });
  }
}

/** A Whirlpool client for one wallet and one coordinator. */
export class WhirlpoolClient {
  readonly wallet: Wallet;
  readonly network: NetworkName;
  /** REST client of the fixed `serverUrl` (null with `bootstrap`: REST goes to an instance of the directory). */
  readonly rest: CoordinatorRest | null;
  /** Where REST calls and mix sessions go. */
  readonly locator: CoordinatorLocator;
  /** The discovery client (null with a fixed `serverUrl`). */
  readonly directory: DirectoryClient | null;
  readonly rpc: BitcoinRpc | null;
  readonly utxoSource: UtxoSource | null;
  /** The generation this client behaves as. */
  readonly generation: GenerationProfile;
  /** The profile its mix sessions use: {@link generation}, with the fixed reconnect unless a generation was asked for. */
  readonly #sessionGeneration: GenerationProfile;
  readonly #o: WhirlpoolClientOptions;
  /** REST fetch and registerOutput fetch in effect (from the options or the SOCKS proxies). */
  readonly #fetch: typeof fetch | undefined;
  readonly #registerOutputFetch: typeof fetch | undefined;
  readonly #registerOutputDelayMaxMs: number;
  #pools: PoolInfo[] | null = null;
  #restUrl: string | null = null;

  constructor(opts: WhirlpoolClientOptions) {
    if ((opts.serverUrl === undefined) === (opts.bootstrap === undefined)) {
      throw new Error('WhirlpoolClient needs exactly one of serverUrl and bootstrap');
    }
    this.#o = opts;
    this.generation = generationProfile(opts.generation ?? DEFAULT_GENERATION);
    // Java's 0.23.28+ random 5–120 s wait after a failed connect is emulated only when a generation
    // is asked for; by default the client keeps its own fixed, cluster-aware reconnect (another
    // listed instance at once), or every failover would cost its wallets up to two minutes.
    this.#sessionGeneration =
      opts.generation === undefined ? { ...this.generation, connectRetry: 'fixed' } : this.generation;
    this.wallet = opts.wallet;
    this.network = opts.wallet.network;
    const delay = opts.registerOutputDelayMaxMs ?? DEFAULT_REGISTER_OUTPUT_DELAY_MAX_MS;
    if (!Number.isSafeInteger(delay) || delay < 0 || delay > MAX_REGISTER_OUTPUT_DELAY_MS) {
      throw new Error(
        `registerOutputDelayMaxMs must be an integer from 0 to ${MAX_REGISTER_OUTPUT_DELAY_MS}, got ${delay}`,
      );
    }
    this.#registerOutputDelayMaxMs = delay;
    const outputProxy = opts.registerOutputProxy ?? opts.socksProxy;
    this.#fetch =
      opts.fetch ?? (opts.socksProxy ? socks5Fetch(opts.socksProxy, { isolate: true }) : undefined);
    this.#registerOutputFetch =
      opts.registerOutputFetch ?? (outputProxy ? socks5Fetch(outputProxy, { isolate: true }) : opts.fetch);
    const warn = opts.onWarning ?? ((m: string) => console.warn(`WARNING: ${m}`));
    for (const w of linkabilityWarnings({
      network: this.network,
      socksProxy: opts.socksProxy,
      registerOutputProxy: opts.registerOutputProxy,
      fetch: opts.fetch,
      registerOutputFetch: opts.registerOutputFetch,
      customWebSocket: opts.session?.wsOptions !== undefined,
    }))
      warn(w);
    this.rpc = opts.rpc ?? null;
    this.utxoSource = opts.utxoSource ?? (opts.rpc ? new BtcdUtxoSource(opts.rpc) : null);
    if (opts.bootstrap) {
      this.rest = null;
      this.directory = new DirectoryClient({
        bootstrapUrls: opts.bootstrap.urls,
        publicKey: opts.bootstrap.directoryPublicKey,
        rootKeys: opts.bootstrap.directoryRootKeys,
        network: opts.bootstrap.preferOnion ? 'onion' : 'clear',
        allowInsecureClear: opts.wallet.network === 'regtest',
        fetch: this.#fetch,
        onWarning: opts.onWarning,
      });
      this.locator = new DirectoryLocator(this.directory);
    } else {
      this.rest = this.#restFor(opts.serverUrl!);
      this.directory = null;
      this.locator = new FixedLocator(opts.serverUrl!);
    }
  }

  #restFor(serverUrl: string): CoordinatorRest {
    return new CoordinatorRest({
      serverUrl,
      fetch: this.#fetch,
      registerOutputFetch: this.#registerOutputFetch,
      followRedirect: (location, requestUrl) => this.locator.registerOutputRedirect(location, requestUrl),
    });
  }

  /**
   * Runs a pool-independent REST call: on the fixed coordinator, or on a random
   * live instance of the directory. When that instance cannot be reached it is
   * reported to the locator (avoided for a while) and the call goes to another
   * listed instance, the directory refreshed before the first retry; the error
   * is thrown once no untried instance is left.
   */
  async #callRest<T>(call: (rest: CoordinatorRest) => Promise<T>): Promise<T> {
    if (this.rest) {
      this.#restUrl = this.rest.serverUrl;
      return call(this.rest);
    }
    const tried = new Set<string>();
    let url = await this.locator.restUrl();
    for (;;) {
      this.#restUrl = url;
      try {
        return await call(this.#restFor(url));
      } catch (err) {
        if (!(err instanceof CoordinatorRestError) || err.status !== null) throw err;
        tried.add(url);
        this.locator.reportUnreachable(url);
        url = await this.locator.restUrl({ refresh: tried.size === 1 });
        if (tried.has(url)) throw err;
      }
    }
  }

  /** Pools of the coordinator, largest denomination first (cached until the next call). */
  async listPools(): Promise<PoolInfo[]> {
    this.#pools = await this.#callRest((rest) => rest.pools());
    return this.#pools;
  }

  /** One pool by id (fetches the list if needed). Throws when the coordinator has no such pool. */
  async pool(poolId: string): Promise<PoolInfo> {
    const find = () => this.#pools?.find((p) => p.poolId === poolId);
    let pool = find();
    if (!pool) {
      await this.listPools();
      pool = find();
    }
    if (!pool) throw new Error(`Coordinator ${this.#restUrl} has no pool '${poolId}'`);
    return pool;
  }

  /**
   * Unspent outputs of an account (derives `gap` addresses past each chain's
   * counter; default 10). Needs a UTXO source.
   */
  async utxos(account: AccountName, gap = 10): Promise<Utxo[]> {
    const source = this.#source();
    const acc = this.wallet.account(account);
    const addresses: string[] = [];
    for (const chain of [0, 1] as const) {
      const end = acc.counter(chain).next + gap;
      for (let i = 0; i < end; i++) addresses.push(acc.key(chain, i).address);
    }
    return source.listUnspent(addresses);
  }

  /** Balance of each account, sats (scans like {@link utxos}). */
  async balances(gap = 10): Promise<Record<AccountName, number>> {
    const names: AccountName[] = ['deposit', 'premix', 'postmix', 'badbank'];
    const sums = await Promise.all(
      names.map(async (n) => (await this.utxos(n, gap)).reduce((a, u) => a + u.value, 0)),
    );
    return Object.fromEntries(names.map((n, i) => [n, sums[i]])) as Record<AccountName, number>;
  }

  /**
   * Opens the wallet's Whirlpool side the way the generation does: from G1 on
   * (except 0.23.48+ CLI builds) `POST /rest/checkOutput` for the next postmix
   * receive address, signed by its key. `Output already registered` moves the
   * postmix index past the used ones (forward search); any other failure
   * throws for G1–G4 (their wallet does not open) and is ignored by G6.
   * Returns what was decided, for logs and tests.
   */
  async open(): Promise<'skipped' | 'ok' | 'index-fixed' | 'ignored'> {
    const g = this.generation;
    if (g.checkOutput === 'none') return 'skipped';
    const postmix = this.wallet.account('postmix');
    const counter = postmix.counter(0);
    const probe = async (index: number): Promise<'ok' | 'index-used' | 'ignore'> => {
      const key = postmix.key(0, index);
      let ok = true;
      let message: string | null = null;
      try {
        await this.#callRest((rest) =>
          rest.checkOutput(key.address, signMessage(key.address, key.privateKey)),
        );
      } catch (err) {
        if (!(err instanceof CoordinatorRestError)) throw err;
        ok = false;
        message = err.serverMessage;
        const decision = checkOutputDecision(g, message, ok);
        if (decision === 'abort') {
          throw new Error(`checkOutput failed, the ${g.id} wallet does not open: ${err.message}`, {
            cause: err,
          });
        }
        if (decision === 'ignore') return 'ignore';
        return 'index-used';
      }
      return checkOutputDecision(g, message, ok) === 'ok' ? 'ok' : 'ignore';
    };
    const first = counter.reserve();
    counter.release(first);
    const answer = await probe(first);
    if (answer === 'ok') return 'ok';
    if (answer === 'ignore') return 'ignored';
    const pause = this.#o.checkOutputPauseMs ?? 500;
    const unused = await findUnusedIndex(first, async (i) => {
      const used = (await probe(i)) === 'index-used';
      if (used && pause > 0) await new Promise((r) => setTimeout(r, pause));
      return used;
    });
    for (let i = counter.next; i < unused; i++) counter.confirm(i);
    return 'index-fixed';
  }

  /** The Tx0 fee data of one pool, fetched the generation's way (GET, POST /rest/tx0, POST /rest/tx0/v1). */
  async tx0FeeSpec(poolId: string, scode: string | null): Promise<Tx0FeeSpec> {
    const g = this.generation;
    const call = tx0DataCall(g, poolId, scode, { partnerId: this.#o.partnerId });
    if (call.method === 'GET')
      return feeSpecFromTx0DataV1(await this.#callRest((rest) => rest.tx0DataGet(call)));
    const all = await this.#callRest((rest) => rest.tx0DataV2(call));
    const mine = all.tx0Datas.find((d) => d.poolId === poolId);
    if (!mine) throw new Error(`Coordinator ${this.#restUrl} sent no Tx0 data for pool '${poolId}'`);
    return feeSpecFromTx0Data(mine);
  }

  /** Fetches the Tx0 data (the generation's endpoint) and computes what a Tx0 of `utxos` would look like. */
  async tx0Preview(
    opts: Omit<Tx0Options, 'broadcast'> & { utxos: readonly Utxo[] },
  ): Promise<Tx0Preview & { fee: Tx0FeeSpec }> {
    const pool = await this.pool(opts.poolId);
    const fee = await this.tx0FeeSpec(opts.poolId, opts.scode ?? this.#o.scode ?? null);
    const feeRate = opts.feeRate ?? 1;
    const walletMax = Math.min(opts.maxOutputs ?? MAX_TX0_OUTPUTS, MAX_TX0_OUTPUTS);
    const max = this.generation.capsByTx0MaxOutputs ? Math.min(walletMax, pool.tx0MaxOutputs) : walletMax;
    premixCount(this.generation, walletMax, walletMax, pool.tx0MaxOutputs); // `Invalid nbPremix=0` before any work
    const preview = tx0Preview({
      spendValue: opts.utxos.reduce((a, u) => a + u.value, 0),
      nbInputs: opts.utxos.length,
      premixValue: computePremixValue(pool, opts.mixFeeRate ?? feeRate),
      feeValue: fee.feeValue,
      feeChange: fee.feeChange,
      tx0FeeRate: feeRate,
      maxOutputs: max,
    });
    return { ...preview, fee };
  }

  /**
   * Builds, signs and (by default) broadcasts a Tx0 spending deposit UTXOs:
   * premix outputs to fresh PREMIX receive addresses, change and feeChange to
   * DEPOSIT change addresses (spec §4.7). Broadcast as the generation does:
   * through `rpc` (+ `POST /rest/tx0Notify` for G1–G3), or `POST
   * /rest/tx0/push` (G4+), rebuilt with fresh addresses when the push names
   * reused outputs (up to 5 attempts, 0.23.40+).
   */
  async tx0(opts: Tx0Options): Promise<Tx0> {
    const utxos = opts.utxos ?? (await this.utxos('deposit'));
    if (utxos.length === 0) throw new Error('No deposit UTXO to spend in a Tx0');
    const g = this.generation;
    const inputs: SpendableUtxo[] = utxos.map((u) => {
      const key = this.wallet.keyForAddress(u.address);
      if (!key)
        throw new Error(`UTXO ${u.txid}:${u.vout} pays '${u.address}', which is not a key of this wallet`);
      return { txid: u.txid, vout: u.vout, value: u.value, script: key.script, privateKey: key.privateKey };
    });
    const premix = this.wallet.account('premix');
    const deposit = this.wallet.account('deposit');
    for (let attempt = 1; ; attempt++) {
      const preview = await this.tx0Preview({ ...opts, utxos });
      const tx0 = buildTx0({
        network: this.network,
        inputs,
        fee: preview.fee,
        opReturn: g.opReturn,
        premixValue: preview.premixValue,
        premixAddresses: Array.from({ length: preview.nbPremix }, () => premix.nextKey(0).address),
        minerFee: preview.tx0MinerFee,
        changeAddress: preview.change > 0 ? deposit.nextKey(1).address : null,
        feeChangeAddress: preview.fee.feeValue === 0 ? deposit.nextKey(1).address : null,
      });
      if (!(opts.broadcast ?? true)) return tx0;
      if (g.broadcast === 'self') {
        if (!this.rpc) throw new Error('Cannot broadcast the Tx0: no bitcoin RPC configured');
        await this.rpc.sendRawTransaction(tx0.hex);
        const notify = tx0NotifyCall(g, tx0.txid, opts.poolId);
        // The Java clients only log a tx0Notify failure.
        if (notify) await this.#callRest((rest) => rest.postNoContent(notify)).catch(() => {});
        return tx0;
      }
      try {
        const txid = await this.#callRest((rest) =>
          rest.tx0Push(z85Encode(hexToBytes(tx0.hex)), opts.poolId),
        );
        if (txid !== tx0.txid) throw new Error(`Coordinator pushed ${txid}, expected Tx0 ${tx0.txid}`);
        return tx0;
      } catch (err) {
        const reuse = err instanceof Tx0PushError ? err.voutsAddressReuse : null;
        if (!reuse || reuse.length === 0 || attempt >= g.tx0PushAttempts) throw err;
        // Fresh premix and change addresses were drawn above; the next build uses new ones.
      }
    }
  }

  /** The premix outputs of a Tx0 as mixable UTXOs (keys from the wallet). */
  premixUtxos(tx0: Tx0): MixUtxo[] {
    return tx0.premixOutputs.map((o) =>
      this.mixUtxo({ txid: tx0.txid, vout: o.vout, value: o.value, address: o.address! }),
    );
  }

  /** A wallet UTXO as a mixable UTXO (throws when the address is not the wallet's). */
  mixUtxo(u: { txid: string; vout: number; value: number; address: string }): MixUtxo {
    const key = this.wallet.keyForAddress(u.address);
    if (!key)
      throw new Error(`UTXO ${u.txid}:${u.vout} pays '${u.address}', which is not a key of this wallet`);
    return {
      txid: u.txid,
      vout: u.vout,
      value: u.value,
      privateKey: key.privateKey,
      publicKey: key.publicKey,
    };
  }

  /**
   * Mixes one UTXO (premix, or postmix as liquidity). Retries after
   * MIX_FAILED / DISCONNECTED after `retryDelayMs` (spec §9.5), never after
   * INPUT_REJECTED / INTERNAL_ERROR / PROTOCOL_MISMATCH; remixes the output
   * until `mixsTarget` mixes succeeded.
   */
  mix(utxo: MixUtxo, opts: MixOptions): MixHandle {
    return new MixHandle(utxo, (h) => this.#mixLoop(h, opts));
  }

  /** Starts one single attempt (no retry, no remix); resolves with its outcome. */
  mixOnce(utxo: MixUtxo, opts: Pick<MixOptions, 'poolId' | 'denomination' | 'transport'>): MixSession {
    const session = this.#session(utxo, opts, opts.denomination ?? null);
    void session.run();
    return session;
  }

  async #mixLoop(h: MixHandle, opts: MixOptions): Promise<MixOutcome> {
    const denomination = opts.denomination ?? (await this.pool(opts.poolId)).denomination;
    const target = opts.mixsTarget ?? 1;
    let attempts = 0;
    for (;;) {
      const session = this.#session(h.utxo, opts, denomination);
      session.on('phase', (p, d) => h.emit('phase', p, d));
      session.on('reconnect', (i) => h.emit('reconnect', i));
      session.on('redirect', (i) => h.emit('redirect', i));
      h.attach(session);
      if (h.stopped) session.stop();
      const outcome = await session.run();
      h.attach(null);
      h.emit('attempt', outcome);
      if (outcome.status === 'FAIL') {
        attempts++;
        const retryable = outcome.reason === 'MIX_FAILED' || outcome.reason === 'DISCONNECTED';
        if (!retryable || h.stopped || (opts.maxAttempts !== undefined && attempts >= opts.maxAttempts)) {
          return outcome;
        }
        await h.sleep(opts.retryDelayMs ?? this.#o.mixRetryDelayMs ?? 300_000);
        if (this.generation.checkOutputAfterMixFail && !h.stopped) await this.open().catch(() => {});
        continue;
      }
      h.mixCount++;
      attempts = 0;
      if ((target !== 0 && h.mixCount >= target) || h.stopped) return outcome;
      const next = this.mixUtxo(outcome.receiveUtxo);
      await this.#waitConfirmations(
        h,
        next,
        opts.remixMinConfirmations ?? 1,
        opts.confirmationPollMs ?? 10_000,
      );
      if (h.stopped) return outcome;
      h.utxo = next;
    }
  }

  /** Confirmations of output `vout` of `txid` (null: unknown to the node or spent), from the UTXO source. */
  confirmations(txid: string, vout: number): Promise<number | null> {
    return this.#source().confirmations(txid, vout);
  }

  async #waitConfirmations(h: MixHandle, u: MixUtxo, min: number, pollMs: number): Promise<void> {
    if (min <= 0) return;
    const source = this.#source();
    while (!h.stopped) {
      const c = await source.confirmations(u.txid, u.vout);
      if (c !== null && c >= min) return;
      await h.sleep(pollMs);
    }
  }

  #session(
    utxo: MixUtxo,
    opts: Pick<MixOptions, 'poolId' | 'transport'>,
    denomination: number | null,
  ): MixSession {
    const postmix = this.wallet.account('postmix');
    const o = this.#o;
    const poolId = opts.poolId;
    const discovery = o.bootstrap
      ? {
          acceptRedirect: true,
          preferOnion: o.bootstrap.preferOnion ?? false,
          locate: (hint: LocateHint) => this.locator.mixUrl(poolId, hint),
        }
      : { acceptRedirect: o.acceptRedirect, preferOnion: o.preferOnion };
    return new MixSession({
      serverUrl: o.serverUrl ?? '',
      network: this.network,
      poolId: opts.poolId,
      denomination,
      utxo,
      receiveAddress: (): ReceiveAddress => {
        const key = postmix.reserveKey(0);
        return {
          address: key.address,
          confirm: () => postmix.counter(0).confirm(key.index),
          release: () => postmix.counter(0).release(key.index),
        };
      },
      userPreHash: this.wallet.userPreHash(),
      rest: this.rest ?? this.#restFor('http://unresolved.invalid'),
      transport: opts.transport ?? o.transport,
      wsPath: o.wsPath,
      reconnectDelayMs: o.reconnectDelayMs,
      reconnectUntilMs: o.reconnectUntilMs,
      heartbeatMs: o.heartbeatMs,
      fetch: this.#fetch,
      registerOutputDelayMaxMs: this.#registerOutputDelayMaxMs,
      ...discovery,
      restForUrl: (serverUrl) => this.#restFor(serverUrl),
      ...this.#attemptWebSocket(),
      generation: this.#sessionGeneration,
      blockHeight: this.rpc ? () => this.rpc!.getBlockCount() : undefined,
      ...o.session,
    });
  }

  /**
   * WebSocket options of one mix attempt: with `socksProxy`, an agent with
   * fresh random credentials (its own Tor circuit, shared by no other
   * attempt and by no registerOutput), TLS on top for `https:` URLs.
   */
  #attemptWebSocket(): Pick<MixSessionOptions, 'wsOptions'> {
    const proxy = this.#o.socksProxy;
    if (!proxy) return {};
    const identity = withFreshCredentials(proxy);
    const plain = new Socks5Agent(identity);
    const secure = new Socks5Agent(identity, { secure: true });
    return { wsOptions: (url: string) => ({ agent: /^(https|wss):/.test(url) ? secure : plain }) };
  }

  #source(): UtxoSource {
    if (!this.utxoSource) throw new Error('No UTXO source configured (pass rpc or utxoSource)');
    return this.utxoSource;
  }
}
