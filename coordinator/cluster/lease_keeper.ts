/**
 * The lease keeper: holds this instance's pool leases, renews them every
 * `renewIntervalMs`, and steps down from a pool the moment it can no longer
 * prove it owns it:
 *
 * - a renewal answered with `affectedRows = 0` (someone else has the lease,
 *   or it expired) → step down at once;
 * - the last successful renewal is older than `ttlMs - safetyMarginMs` on the
 *   MONOTONIC clock (`performance.now()`) → step down. This is checked by a
 *   watchdog timer and again before any renewal result is acted upon, so an
 *   instance that was paused (SIGSTOP), partitioned from the database, or
 *   whose renewals hang, gives the pool up before the database lease can
 *   expire and anyone else can acquire it.
 *
 * A database error is a renewal that did not happen: it extends nothing, the
 * keeper keeps trying at every tick, and the local deadline decides when to
 * step down. A lease's local deadline is counted from the moment its last
 * successful renewal (or acquisition) was SENT, which is never later than the
 * database's own `NOW(3)` when it executed the statement.
 *
 * @module
 */
import type { Logger } from '#coordinator/log.ts';
import type { LeaseFence } from '#coordinator/mix/types.ts';
import type { LeaseStore } from './lease_store.ts';

/** Why the keeper stopped holding a lease on its own. */
export type StepDownReason = 'renewal-refused' | 'local-expiry' | 'lost';

/** Details handed to {@link LeaseKeeperOptions.onLost}. */
export interface LeaseLoss {
  fence: LeaseFence;
  reason: StepDownReason;
  /** Monotonic time (same clock as `monotonicNow`) after which the lease was no longer trusted. */
  deadlineMono: number;
}

/** Options of {@link LeaseKeeper}. */
export interface LeaseKeeperOptions {
  store: Pick<LeaseStore, 'acquire' | 'renew' | 'release'>;
  instanceId: string;
  /** Lease duration written on every acquire / renew (DB clock). */
  ttlMs: number;
  renewIntervalMs: number;
  /** Stop trusting a lease this long before its TTL runs out (clock-rate drift, timer lag). */
  safetyMarginMs: number;
  /** How often the watchdog checks local deadlines (default min(250, renewIntervalMs / 4)). */
  watchdogIntervalMs?: number;
  /** Monotonic clock in ms (default `performance.now`). */
  monotonicNow?: () => number;
  /** Called once per lease the keeper gives up on its own (never for {@link LeaseKeeper.release}). */
  onLost: (loss: LeaseLoss) => void;
  logger: Logger;
}

interface Held {
  fence: LeaseFence;
  /** Monotonic time after which the lease is no longer trusted. */
  deadline: number;
  renewing: boolean;
}

/** Keeps and renews the pool leases of one instance (see module doc). */
export class LeaseKeeper {
  readonly #o: LeaseKeeperOptions;
  readonly #now: () => number;
  readonly #held = new Map<string, Held>();
  #renewTimer: NodeJS.Timeout | null = null;
  #watchdogTimer: NodeJS.Timeout | null = null;

  constructor(opts: LeaseKeeperOptions) {
    if (!(opts.safetyMarginMs > 0 && opts.safetyMarginMs < opts.ttlMs)) {
      throw new Error(
        `Lease safety margin ${opts.safetyMarginMs} ms must be > 0 and < the TTL ${opts.ttlMs} ms`,
      );
    }
    if (!(opts.renewIntervalMs > 0 && opts.renewIntervalMs < opts.ttlMs - opts.safetyMarginMs)) {
      throw new Error(
        `Lease renew interval ${opts.renewIntervalMs} ms must be > 0 and < TTL - margin (${opts.ttlMs - opts.safetyMarginMs} ms)`,
      );
    }
    this.#o = opts;
    this.#now = opts.monotonicNow ?? (() => performance.now());
  }

  /** Trust window of a lease renewed or acquired at monotonic time `sentAt`. */
  #deadlineFrom(sentAt: number): number {
    return sentAt + this.#o.ttlMs - this.#o.safetyMarginMs;
  }

  /** Starts the renewal and watchdog timers (idempotent). */
  start(): void {
    if (this.#renewTimer) return;
    this.#renewTimer = setInterval(() => void this.renewAll(), this.#o.renewIntervalMs);
    const wd =
      this.#o.watchdogIntervalMs ?? Math.min(250, Math.max(10, Math.floor(this.#o.renewIntervalMs / 4)));
    this.#watchdogTimer = setInterval(() => this.checkDeadlines(), wd);
  }

  /** Stops the timers. Held leases stay recorded (and expire in the DB unless released). */
  stop(): void {
    if (this.#renewTimer) clearInterval(this.#renewTimer);
    if (this.#watchdogTimer) clearInterval(this.#watchdogTimer);
    this.#renewTimer = null;
    this.#watchdogTimer = null;
  }

  /** Fences currently trusted, ordered by pool id. */
  held(): LeaseFence[] {
    this.checkDeadlines();
    return [...this.#held.values()].map((h) => h.fence).sort((a, b) => a.poolId.localeCompare(b.poolId));
  }

  /** The trusted fence of `poolId`, or null (checks the local deadline first). */
  fenceOf(poolId: string): LeaseFence | null {
    const h = this.#held.get(poolId);
    if (!h) return null;
    if (this.#now() >= h.deadline) {
      this.#stepDown(h, 'local-expiry');
      return null;
    }
    return h.fence;
  }

  /**
   * Tries to acquire `poolId`. Returns the new fence, the existing one when
   * already held, or null (held elsewhere, DB error, or the answer came too
   * late to be trusted — then the lease is released again).
   */
  async acquire(poolId: string): Promise<LeaseFence | null> {
    const existing = this.fenceOf(poolId);
    if (existing) return existing;
    const sentAt = this.#now();
    let fence: LeaseFence | null;
    try {
      fence = await this.#o.store.acquire(poolId, this.#o.instanceId, this.#o.ttlMs);
    } catch (err) {
      this.#o.logger.warn({ err, poolId }, 'lease acquisition failed (database error)');
      return null;
    }
    if (!fence) return null;
    const deadline = this.#deadlineFrom(sentAt);
    const raced = this.#held.get(poolId);
    if (this.#now() >= deadline || raced) {
      // Too slow to trust, or a concurrent acquire of the same pool won first: give this epoch back.
      if (!raced)
        this.#o.logger.warn({ poolId, epoch: fence.epoch }, 'lease acquired too late to be trusted');
      await this.#o.store.release(fence).catch(() => false);
      return raced && this.#now() < raced.deadline ? raced.fence : null;
    }
    this.#held.set(poolId, { fence, deadline, renewing: false });
    return fence;
  }

  /**
   * Gives `poolId` up voluntarily: forgets it at once, then frees the row so
   * the next owner can take it without waiting for the TTL. No `onLost`.
   * Returns whether the database row was released (false: already lost).
   */
  async release(poolId: string): Promise<boolean> {
    const h = this.#held.get(poolId);
    if (!h) return false;
    this.#held.delete(poolId);
    try {
      return await this.#o.store.release(h.fence);
    } catch (err) {
      this.#o.logger.warn({ err, poolId }, 'lease release failed (database error); it will expire');
      return false;
    }
  }

  /** Forgets a lease known to be lost (e.g. the lease table shows another owner), calling `onLost`. */
  markLost(poolId: string, epoch: number): void {
    const h = this.#held.get(poolId);
    if (h && h.fence.epoch === epoch) this.#stepDown(h, 'lost');
  }

  /** Steps down from every lease whose local deadline has passed. Called by the watchdog timer. */
  checkDeadlines(): void {
    const now = this.#now();
    for (const h of [...this.#held.values()]) {
      if (now >= h.deadline) this.#stepDown(h, 'local-expiry');
    }
  }

  /** Renews every held lease once (concurrently). Called by the renewal timer. */
  async renewAll(): Promise<void> {
    this.checkDeadlines();
    await Promise.all([...this.#held.values()].filter((h) => !h.renewing).map((h) => this.#renewOne(h)));
  }

  async #renewOne(h: Held): Promise<void> {
    h.renewing = true;
    const sentAt = this.#now();
    let ok: boolean | 'error';
    try {
      ok = await this.#o.store.renew(h.fence, this.#o.ttlMs);
    } catch (err) {
      this.#o.logger.warn({ err, poolId: h.fence.poolId }, 'lease renewal failed (database error)');
      ok = 'error';
    } finally {
      h.renewing = false;
    }
    if (this.#held.get(h.fence.poolId) !== h) return; // released or replaced meanwhile
    const now = this.#now();
    // Deadline check BEFORE acting on the answer: a paused or slow process must not extend trust.
    if (now >= h.deadline) {
      this.#stepDown(h, 'local-expiry');
      return;
    }
    if (ok === true) {
      const next = this.#deadlineFrom(sentAt);
      if (now >= next) this.#stepDown(h, 'local-expiry');
      else h.deadline = Math.max(h.deadline, next);
    } else if (ok === false) {
      this.#stepDown(h, 'renewal-refused');
    }
  }

  #stepDown(h: Held, reason: StepDownReason): void {
    if (this.#held.get(h.fence.poolId) !== h) return;
    this.#held.delete(h.fence.poolId);
    this.#o.logger.warn(
      { poolId: h.fence.poolId, epoch: h.fence.epoch, reason },
      'stepping down from pool lease',
    );
    try {
      this.#o.onLost({ fence: h.fence, reason, deadlineMono: h.deadline });
    } catch (err) {
      this.#o.logger.error({ err, poolId: h.fence.poolId }, 'lease loss handler threw');
    }
  }
}
