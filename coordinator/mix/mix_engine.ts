/**
 * The coordinator's mix engine: the STOMP application behind `/ws/*` (pool
 * subscription, registerInput, confirmInput, revealOutput, signing,
 * disconnects), the `/rest/registerOutput` handler, and pool activation for
 * the cluster. Messages of one session are handled one after the other, in
 * arrival order; each pool's state changes under that pool's lock.
 *
 * @module
 */
import type { MixRsaKey } from '#coordinator/crypto/mix_rsa_key.ts';
import { generateMixRsaKey } from '#coordinator/crypto/mix_rsa_key.ts';
import type { Logger } from '#coordinator/log.ts';
import type { MixStore } from '#coordinator/store/mix_store.ts';
import { feeAddressAt } from '#shared/bitcoin/fee_address.ts';
import { networkId } from '#shared/bitcoin/network.ts';
import { nobleSecp256k1, type Secp256k1 } from '#shared/crypto/secp256k1.ts';
import {
  HEADER_POOL_ID,
  HEADER_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  WS_CONFIRM_INPUT,
  WS_REGISTER_INPUT,
  WS_REVEAL_OUTPUT,
  WS_SIGNING,
} from '#shared/protocol/constants.ts';
import { serverErrorCode } from '#shared/protocol/error_codes.ts';
import {
  ConfirmInputRequestSchema,
  parseJson,
  RegisterInputRequestSchema,
  type RegisterOutputRequest,
  RevealOutputRequestSchema,
  SigningRequestSchema,
} from '#shared/protocol/messages.ts';
import type { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
import { BlockHeightCache, isBlockHeightAccepted } from './block_height.ts';
import { clientMessage, MixInternalError, NotifiableError } from './errors.ts';
import { validateRegisterInput } from './input_validator.ts';
import type { MixRound } from './mix_round.ts';
import type { MixSession } from './mix_session.ts';
import { PoolRuntime, type PoolState } from './pool_runtime.ts';
import { isValidReceiveAddress } from './receive_address.ts';
import { InputAlreadyRegisteredError } from './registered_input.ts';
import { type TxFacts, TxFactsCache } from './tx_facts.ts';
import type { LeaseFence, MixEngineParams, PoolConfig } from './types.ts';

/** Per-pool view for /rest/pools and the dashboard. */
export interface PoolSnapshot extends PoolState {
  poolId: string;
  denomination: number;
  feeValue: number;
  mustMixBalanceMin: number;
  mustMixBalanceCap: number;
  mustMixBalanceMax: number;
  minAnonymitySet: number;
  minMustMix: number;
  mixAnonymitySet: number;
  /** Inputs invited-but-unconfirmed + queued mustMix + queued liquidity (spec §2.5). */
  nbRegistered: number;
  /** Whether this instance serves the pool. */
  served: boolean;
}

/** Construction options of {@link MixEngine}. */
export interface MixEngineOptions {
  pools: readonly PoolConfig[];
  params: MixEngineParams;
  store: MixStore;
  rpc: BitcoinRpc;
  logger: Logger;
  /** RSA key factory (default: a fresh RSA-2048 key). */
  generateKey?: () => Promise<MixRsaKey>;
  /** Uniform [0, 1) source for choosing liquidities (default Math.random). */
  random?: () => number;
  /** Hot crypto (signed messages, witnesses, Tx0 ECDH); default the portable noble one. */
  secp256k1?: Secp256k1;
}

/** The mix engine; implements the transport's `StompApplication`. */
export class MixEngine {
  readonly #configs: ReadonlyMap<string, PoolConfig>;
  readonly #params: MixEngineParams;
  readonly #store: MixStore;
  readonly #rpc: BitcoinRpc;
  readonly #logger: Logger;
  readonly #generateKey: () => Promise<MixRsaKey>;
  readonly #random: () => number;
  readonly #pools = new Map<string, PoolRuntime>();
  /** Subscribed pool per session (closing a pool's sessions on deactivation). */
  readonly #subscriptions = new Map<string, { session: MixSession; poolId: string }>();
  /** Tail of each session's message chain (per-session ordering). */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #feeAddresses = new Map<string, string>();
  readonly #txFacts: TxFactsCache;
  readonly #secp: Secp256k1;
  readonly #blockHeight: BlockHeightCache;

  constructor(opts: MixEngineOptions) {
    this.#configs = new Map(opts.pools.map((p) => [p.id, p]));
    this.#params = opts.params;
    this.#store = opts.store;
    this.#rpc = opts.rpc;
    this.#logger = opts.logger;
    this.#generateKey = opts.generateKey ?? generateMixRsaKey;
    this.#random = opts.random ?? Math.random;
    this.#secp = opts.secp256k1 ?? nobleSecp256k1;
    this.#txFacts = new TxFactsCache(
      opts.params.network,
      {
        v0: opts.params.secretWalletNotificationPrivKey,
        v1: opts.params.secretWalletV1NotificationPrivKey ?? opts.params.secretWalletNotificationPrivKey,
      },
      undefined,
      this.#secp,
    );
    this.#blockHeight = new BlockHeightCache(() => opts.rpc.getBlockCount(), {
      refreshMs: opts.params.blockHeightRefreshMs ?? 120_000,
    });
  }

  // ---------------------------------------------------------------------------
  // Pools (cluster stream)

  /** Starts serving a pool (a new mix with a fresh key, empty queues). Idempotent; updates the fence. */
  activatePool(poolId: string, fence: LeaseFence | null): void {
    const config = this.#configs.get(poolId);
    if (!config) throw new Error(`Cannot activate pool '${poolId}': not configured`);
    const existing = this.#pools.get(poolId);
    if (existing && !existing.stopped) {
      existing.fence = fence;
      return;
    }
    this.#pools.set(
      poolId,
      new PoolRuntime(config, fence, {
        params: this.#params,
        store: this.#store,
        rpc: this.#rpc,
        logger: this.#logger,
        generateKey: this.#generateKey,
        random: this.#random,
        secp256k1: this.#secp,
      }),
    );
    this.#logger.info({ poolId, fence }, 'pool activated');
  }

  /**
   * Stops serving a pool without blaming anyone. `immediate`: the current mix
   * is dropped and the pool's sessions are closed at once. `drain`: no more
   * invitations; a mix still in CONFIRM_INPUT is dropped, a started one runs to
   * its end; then the pool's sessions are closed.
   */
  async deactivatePool(poolId: string, mode: 'immediate' | 'drain'): Promise<void> {
    const pool = this.#pools.get(poolId);
    if (!pool) return;
    if (mode === 'immediate') {
      this.#pools.delete(poolId);
      pool.stopImmediately();
    } else {
      await pool.drain();
      if (this.#pools.get(poolId) === pool) this.#pools.delete(poolId);
    }
    const sessions = new Set<MixSession>(pool.sessions());
    for (const sub of this.#subscriptions.values()) if (sub.poolId === poolId) sessions.add(sub.session);
    for (const session of sessions) if (!session.closed) session.close(`pool ${poolId} moved`);
    this.#logger.info({ poolId, mode }, 'pool deactivated');
  }

  /** Whether `poolId` is configured on this instance (served here or not). */
  isConfiguredPool(poolId: string): boolean {
    return this.#configs.has(poolId);
  }

  /** Ids of the pools this instance serves. */
  servedPools(): string[] {
    return [...this.#pools.keys()];
  }

  /** Drops every pool immediately (process shutdown; no persistence, no blame). */
  stop(): void {
    for (const pool of this.#pools.values()) pool.stopImmediately();
    this.#pools.clear();
  }

  /** One entry per configured pool, served or not. */
  snapshot(now: number = Date.now()): PoolSnapshot[] {
    return [...this.#configs.values()].map((config) => {
      const pool = this.#pools.get(config.id);
      const state: PoolState = pool
        ? pool.state(now)
        : {
            mixId: '',
            mixStatus: 'CONFIRM_INPUT',
            elapsedTime: 0,
            nbConfirmed: 0,
            nbConfirmedMustMix: 0,
            nbConfirmedLiquidity: 0,
            minerFeeAccumulated: 0,
            nbConfirming: 0,
            nbMustMixQueued: 0,
            nbLiquidityQueued: 0,
          };
      return {
        ...state,
        poolId: config.id,
        denomination: config.denomination,
        feeValue: config.feeValue,
        mustMixBalanceMin: config.denomination + config.minerFeeMin,
        mustMixBalanceCap: config.denomination + config.minerFeeCap,
        mustMixBalanceMax: config.denomination + config.minerFeeMax,
        minAnonymitySet: config.anonymitySet,
        minMustMix: config.mustMixMin,
        mixAnonymitySet: config.anonymitySet,
        nbRegistered: state.nbConfirming + state.nbMustMixQueued + state.nbLiquidityQueued,
        served: pool !== undefined,
      };
    });
  }

  /** The pool whose current mix has this inputsHash (REGISTER_OUTPUT routing), else null. */
  findMixByInputsHash(inputsHash: string): { poolId: string } | null {
    for (const [poolId, pool] of this.#pools) {
      if (pool.round && !pool.round.ended && pool.round.inputsHash === inputsHash) return { poolId };
    }
    return null;
  }

  // ---------------------------------------------------------------------------
  // STOMP application

  /** SUBSCRIBE: SubscribePoolResponse (or `Pool not found`) after the reference's 1 s delay. */
  onSubscribe(session: MixSession, _destination: string, headers: ReadonlyMap<string, string>): void {
    const poolId = headers.get(HEADER_POOL_ID);
    if (poolId !== undefined) this.#subscriptions.set(session.id, { session, poolId });
    const timer = setTimeout(() => {
      if (session.closed) return;
      const pool = poolId === undefined ? undefined : this.#pools.get(poolId);
      if (!pool) {
        this.#logger.info({ session: session.id, poolId }, 'subscribe: pool not found');
        session.sendPrivate('ErrorResponse', {
          mixId: null,
          errorCode: serverErrorCode('Pool not found'),
          message: 'Pool not found',
        });
        return;
      }
      const config = pool.config;
      session.sendPrivate('SubscribePoolResponse', {
        networkId: networkId(this.#params.network),
        denomination: config.denomination,
        mustMixBalanceMin: config.denomination + config.minerFeeMin,
        mustMixBalanceCap: config.denomination + config.minerFeeCap,
        mustMixBalanceMax: config.denomination + config.minerFeeMax,
      });
    }, this.#params.subscribeDelayMs);
    timer.unref?.();
  }

  /** SEND to one of the `/ws/*` destinations; handled after the session's earlier messages (resolves when handled). */
  onSend(
    session: MixSession,
    destination: string,
    headers: ReadonlyMap<string, string>,
    body: string,
  ): Promise<void> {
    return this.#enqueue(session, async () => {
      try {
        const version = headers.get(HEADER_PROTOCOL_VERSION);
        if (version !== PROTOCOL_VERSION) {
          throw new NotifiableError(
            `Version mismatch: server=${PROTOCOL_VERSION}, client=${version ?? 'unknown'}`,
          );
        }
        switch (destination) {
          case WS_REGISTER_INPUT:
            await this.#registerInput(session, body);
            break;
          case WS_CONFIRM_INPUT: {
            const req = parseJson(ConfirmInputRequestSchema, body);
            await this.#withMix(req.mixId, (round) => round.confirmInput(session, req));
            break;
          }
          case WS_REVEAL_OUTPUT: {
            const req = parseJson(RevealOutputRequestSchema, body);
            await this.#withMix(req.mixId, (round) => round.revealOutput(session, req));
            break;
          }
          case WS_SIGNING: {
            const req = parseJson(SigningRequestSchema, body);
            await this.#withMix(req.mixId, (round) => round.signing(session, req));
            break;
          }
          default:
            this.#logger.debug({ session: session.id, destination }, 'SEND to a destination without handler');
        }
      } catch (err) {
        if (err instanceof InputAlreadyRegisteredError) {
          this.#logger.debug({ session: session.id, err: err.message }, 'duplicate registration ignored');
          return;
        }
        const message = clientMessage(err);
        // a refusal is the client's problem: debug, without a stack (counted in whirlpool_register_input_total)
        this.#logger.debug(
          { session: session.id, destination, err: (err as Error).message },
          `${destination} error: ${message}`,
        );
        if (!session.closed)
          session.sendPrivate('ErrorResponse', { mixId: null, errorCode: serverErrorCode(message), message });
      }
    });
  }

  /** The session ended (§3.11): remove its input everywhere; blame and FAIL a started mix. */
  onDisconnect(session: MixSession): void {
    this.#subscriptions.delete(session.id);
    this.#enqueue(session, async () => {
      for (const pool of this.#pools.values()) {
        await pool
          .runLocked(() => pool.disconnect(session.id))
          .catch((err: unknown) =>
            this.#logger.error({ err, session: session.id }, 'disconnect handling failed'),
          );
      }
    });
    const tail = this.#chains.get(session.id);
    tail?.finally(() => {
      if (this.#chains.get(session.id) === tail) this.#chains.delete(session.id);
    });
  }

  #enqueue(session: MixSession, task: () => Promise<void>): Promise<void> {
    const previous = this.#chains.get(session.id) ?? Promise.resolve();
    const next = previous.then(task).catch((err: unknown) => {
      this.#logger.error({ err, session: session.id }, 'session task failed');
    });
    this.#chains.set(session.id, next);
    return next;
  }

  async #registerInput(session: MixSession, body: string): Promise<void> {
    const req = parseJson(RegisterInputRequestSchema, body);
    // addendum §6.1: before any other check
    if (req.blockHeight !== undefined && req.blockHeight > 0) {
      const tip = await this.#blockHeight.height();
      if (!isBlockHeightAccepted(req.blockHeight, tip, this.#params.blockHeightMaxSpread ?? 10)) {
        throw new NotifiableError('invalid blockHeight');
      }
    }
    const input = await validateRegisterInput(req, {
      rpc: this.#rpc,
      store: this.#store,
      network: this.#params.network,
      scodes: this.#params.scodes,
      txFacts: this.#txFacts,
      feeAddressAt: (index, partner) => this.#feeAddressAt(index, partner ?? 0),
      partners: this.#params.partners,
      allPools: [...this.#configs.values()],
      fetchTx: (txid) => this.#fetchTxFacts(txid),
      testMode: this.#params.testMode,
      secp256k1: this.#secp,
      findPool: (poolId) => this.#pools.get(poolId)?.config ?? null,
    });
    const pool = this.#pools.get(input.poolId);
    if (!pool) throw new NotifiableError('Pool not found');
    await pool.runLocked(async () => {
      if (session.closed) return;
      if (pool.stopped || this.#pools.get(input.poolId) !== pool) throw new NotifiableError('Pool not found');
      pool.register({ ...input, username: session.id, session, ip: session.ip, lastUserHash: null });
    });
  }

  #feeAddressAt(index: number, partner: number): string {
    const key = `${partner}:${index}`;
    let address = this.#feeAddresses.get(key);
    if (address === undefined) {
      address = feeAddressAt(this.#params.feeAddressSeed, this.#params.network, index, partner);
      if (this.#feeAddresses.size < 10_000) this.#feeAddresses.set(key, address);
    }
    return address;
  }

  /** A transaction's facts and block time for the cascading parent check (addendum §4.9). */
  async #fetchTxFacts(txid: string): Promise<{ facts: TxFacts; timeMs: number } | null> {
    const raw =
      this.#txFacts.confirmedRaw(txid) ??
      (await this.#txFacts.fetchRaw(txid, (id) => this.#rpc.getRawTransaction(id)));
    if (!raw) return null;
    this.#txFacts.rememberRaw(raw);
    return { facts: this.#txFacts.get(txid, raw.hex), timeMs: (raw.time ?? 0) * 1000 };
  }

  /** Runs `fn` on the current mix `mixId` under its pool's lock; unknown mix → `Error` (Mix not found). */
  async #withMix(mixId: string, fn: (round: MixRound) => Promise<void>): Promise<void> {
    for (const pool of this.#pools.values()) {
      if (pool.round?.mixId !== mixId) continue;
      await pool.runLocked(async () => {
        const round = pool.round;
        if (!round || round.mixId !== mixId || round.ended)
          throw new MixInternalError(`Mix not found: ${mixId}`);
        await fn(round);
      });
      return;
    }
    throw new MixInternalError(`Mix not found: ${mixId}`);
  }

  // ---------------------------------------------------------------------------
  // REST

  /**
   * `POST /rest/registerOutput` (§3.6); throws {@link NotifiableError} or an
   * internal error (→ `Error`). Unlike the spec's order, address reuse is
   * only looked up after the signature verified (in the mix): otherwise this
   * endpoint answers "was this address ever a mix output" to anyone.
   */
  async registerOutput(req: RegisterOutputRequest): Promise<void> {
    if (!isValidReceiveAddress(req.receiveAddress, this.#params.network)) {
      throw new NotifiableError('Invalid receiveAddress');
    }
    const found = this.findMixByInputsHash(req.inputsHash);
    const pool = found ? this.#pools.get(found.poolId) : undefined;
    if (!pool) throw new MixInternalError(`Mix failed: no current mix for inputsHash ${req.inputsHash}`);
    await pool.runLocked(async () => {
      const round = pool.round;
      if (!round || round.ended || round.inputsHash !== req.inputsHash) {
        throw new MixInternalError(`Mix failed: no current mix for inputsHash ${req.inputsHash}`);
      }
      await round.registerOutput(req);
    });
  }
}
