/**
 * The runtime of one served pool (spec §3.1): its mustMix and liquidity
 * queues, its current mix, the lock that serialises everything touching them,
 * the RSA key of the next mix (generated ahead of time), and drain /
 * deactivation for the cluster.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { MixRsaKey } from '#coordinator/crypto/mix_rsa_key.ts';
import type { Logger } from '#coordinator/log.ts';
import type { MixStore } from '#coordinator/store/mix_store.ts';
import type { Secp256k1 } from '#shared/crypto/secp256k1.ts';
import type { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
import { NotifiableError } from './errors.ts';
import { compositionCounts } from './mix_composition.ts';
import { MixRound } from './mix_round.ts';
import type { MixSession } from './mix_session.ts';
import {
  InputAlreadyRegisteredError,
  InputPool,
  outpointKey,
  type RegisteredInput,
} from './registered_input.ts';
import type { LeaseFence, MixEngineParams, MixStatus, PoolConfig } from './types.ts';

/** Shared dependencies of every pool runtime. */
export interface PoolDeps {
  params: MixEngineParams;
  store: Pick<MixStore, 'blame' | 'saveMixResult' | 'saveOutput'>;
  rpc: Pick<BitcoinRpc, 'getTxOut' | 'sendRawTransaction'>;
  logger: Logger;
  generateKey: () => Promise<MixRsaKey>;
  random: () => number;
  /** Witness verification backend (default: the portable noble one). */
  secp256k1?: Secp256k1;
}

/** Live counters of a pool (for /rest/pools and the dashboard). */
export interface PoolState {
  mixId: string;
  mixStatus: MixStatus;
  elapsedTime: number;
  nbConfirmed: number;
  nbConfirmedMustMix: number;
  nbConfirmedLiquidity: number;
  minerFeeAccumulated: number;
  nbConfirming: number;
  nbMustMixQueued: number;
  nbLiquidityQueued: number;
}

/** One served pool. */
export class PoolRuntime {
  readonly config: PoolConfig;
  readonly mustMixQueue = new InputPool();
  readonly liquidityQueue = new InputPool();
  readonly #deps: PoolDeps;
  #fence: LeaseFence | null;
  #round: MixRound | null = null;
  #lock: Promise<void> = Promise.resolve();
  #nextKey: Promise<MixRsaKey>;
  #draining = false;
  #stopped = false;
  #drainWaiters: Array<() => void> = [];

  constructor(config: PoolConfig, fence: LeaseFence | null, deps: PoolDeps) {
    this.config = config;
    this.#fence = fence;
    this.#deps = deps;
    this.#nextKey = this.#generateKey();
    void this.runLocked(() => this.#openNextMix());
  }

  get round(): MixRound | null {
    return this.#round;
  }
  get fence(): LeaseFence | null {
    return this.#fence;
  }
  /** Replaces the lease fence carried by this pool's writes (lease renewed under a new epoch). */
  set fence(fence: LeaseFence | null) {
    this.#fence = fence;
  }
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Runs `fn` after every earlier locked task of this pool; its result or error goes to the caller only. */
  runLocked<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#lock.then(fn);
    this.#lock = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  #generateKey(): Promise<MixRsaKey> {
    const key = this.#deps.generateKey();
    key.catch((err: unknown) =>
      this.#deps.logger.error({ err, poolId: this.config.id }, 'mix key generation failed'),
    );
    return key;
  }

  /** Creates the pool's next mix with the key generated ahead of time, and starts generating the following one. */
  async #openNextMix(): Promise<void> {
    if (this.#stopped || this.#draining) return;
    let key: MixRsaKey;
    try {
      key = await this.#nextKey;
    } catch {
      key = await this.#deps.generateKey();
    }
    this.#nextKey = this.#generateKey();
    if (this.#stopped || this.#draining) return;
    const round = new MixRound(randomUUID().replaceAll('-', ''), key, {
      pool: this.config,
      params: this.#deps.params,
      store: this.#deps.store,
      rpc: this.#deps.rpc,
      logger: this.#deps.logger.child({ poolId: this.config.id }),
      fence: () => this.#fence,
      mustMixQueue: this.mustMixQueue,
      liquidityQueue: this.liquidityQueue,
      inviting: () => !this.#draining && !this.#stopped,
      runLocked: (fn) => {
        this.runLocked(fn).catch((err: unknown) =>
          this.#deps.logger.error({ err, poolId: this.config.id }, 'mix timer action failed'),
        );
      },
      nextMix: (ended) => this.#onMixEnded(ended),
      random: this.#deps.random,
      secp256k1: this.#deps.secp256k1,
    });
    this.#round = round;
    this.#deps.logger.info({ poolId: this.config.id, mixId: round.mixId }, 'new mix');
    round.open();
  }

  async #onMixEnded(ended: MixRound): Promise<void> {
    if (this.#round !== ended) return;
    if (this.#draining || this.#stopped) {
      this.#resolveDrain();
      return;
    }
    await this.#openNextMix();
  }

  /**
   * Step 14 of §5.1 (under the lock): a duplicate outpoint throws
   * {@link InputAlreadyRegisteredError} (swallowed by the caller); a session
   * holding another input throws `Username already registered another input`.
   * A mustMix is invited at once while the mix is in CONFIRM_INPUT; anything
   * else waits in its queue.
   */
  register(input: RegisteredInput): void {
    const key = outpointKey(input);
    const round = this.#round;
    const confirmed = round ? round.confirmedInputs : [];
    const holders = [this.mustMixQueue, this.liquidityQueue, ...(round ? [round.confirming] : [])];
    if (holders.some((h) => h.has(key)) || confirmed.some((c) => outpointKey(c) === key)) {
      throw new InputAlreadyRegisteredError(key);
    }
    if (
      holders.some((h) => h.findByUsername(input.username)) ||
      confirmed.some((c) => c.username === input.username)
    ) {
      throw new NotifiableError(`Username already registered another input: ${input.username}`);
    }
    if (!input.liquidity && round && !round.ended && round.status === 'CONFIRM_INPUT' && !this.#draining) {
      round.inviteRegistered(input);
    } else if (input.liquidity) {
      this.liquidityQueue.register(input);
    } else {
      this.mustMixQueue.register(input);
    }
  }

  /** §3.11 for this pool (under the lock): drop the session's input from the queues and the current mix. */
  async disconnect(username: string): Promise<void> {
    this.mustMixQueue.removeByUsername(username);
    this.liquidityQueue.removeByUsername(username);
    if (this.#round && !this.#round.ended) await this.#round.onDisconnect(username);
  }

  /** Sessions holding an input in this pool (queued, confirming or confirmed). */
  sessions(): MixSession[] {
    const round = this.#round;
    return [
      ...this.mustMixQueue.list(),
      ...this.liquidityQueue.list(),
      ...(round ? [...round.confirming.list(), ...round.confirmedInputs] : []),
    ].map((i) => i.session);
  }

  /** Stops at once: the current mix is discarded without persisting, notifying or blaming. */
  stopImmediately(): void {
    this.#stopped = true;
    this.#round?.discard();
    this.mustMixQueue.clear();
    this.liquidityQueue.clear();
    this.#resolveDrain();
  }

  /**
   * Stops inviting; a mix still in CONFIRM_INPUT is discarded (no blame, no
   * FAIL: clients are disconnected by the caller and re-register elsewhere), a
   * started mix runs to SUCCESS/FAIL. Resolves when no mix is running.
   */
  async drain(): Promise<void> {
    this.#draining = true;
    let running: Promise<void> | null = null;
    await this.runLocked(async () => {
      const round = this.#round;
      if (!round || round.ended || round.status === 'CONFIRM_INPUT') {
        round?.discard();
        return;
      }
      running = new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    });
    if (running) await running;
    this.#stopped = true;
  }

  #resolveDrain(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Live counters (spec §2.5: nbRegistered = confirming + queued mustMix + queued liquidity). */
  state(now: number = Date.now()): PoolState {
    const round = this.#round;
    const confirmed = round ? round.confirmedInputs : [];
    const counts = compositionCounts(confirmed, this.config.denomination);
    return {
      mixId: round?.mixId ?? '',
      mixStatus: round?.status ?? 'CONFIRM_INPUT',
      elapsedTime: round ? now - round.createdAt : 0,
      nbConfirmed: counts.inputs,
      nbConfirmedMustMix: counts.mustMix,
      nbConfirmedLiquidity: counts.liquidities,
      minerFeeAccumulated: counts.minerFee,
      nbConfirming: round ? round.confirming.size : 0,
      nbMustMixQueued: this.mustMixQueue.size,
      nbLiquidityQueued: this.liquidityQueue.size,
    };
  }
}
