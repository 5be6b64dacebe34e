/**
 * The cluster node: glue between the database (instance registry, pool
 * leases), the assignment function and the mix engine of one coordinator
 * instance. It heartbeats on the lease keeper's renewal beat (so an
 * instance stops looking live when its leases stop being renewed), and
 * every `pollIntervalMs` reads the live instances and the lease table (one
 * view), computes its target pools and:
 *
 * - acquires free pools of its target (and orphans free for longer than
 *   `orphanGraceMs`), then calls `engine.activatePool(poolId, fence)`;
 * - gives up pools held over its share for `rebalanceAfterPolls` polls, at a
 *   mix boundary: `engine.deactivatePool(poolId, 'drain')`, then releases the
 *   lease so the new owner takes it at once;
 * - on a lost lease (renewal refused, local deadline, other owner seen) calls
 *   `engine.deactivatePool(poolId, 'immediate')` — the engine closes that
 *   pool's sessions without blaming anyone.
 *
 * `drain()` (SIGTERM) marks the instance draining, drains and releases every
 * pool, and marks it stopped. Listeners get a {@link ServeEvent} each time the
 * instance starts or stops serving a pool (chaos-test recorder, takeover
 * metric); the same events are logged as `pool-serve` / `pool-unserve`.
 *
 * @module
 */
import type { Logger } from '#coordinator/log.ts';
import type { LeaseFence } from '#coordinator/mix/types.ts';
import { OverShareTracker, targetPools } from './assignment.ts';
import type { ClusterTiming } from './cluster_config.ts';
import {
  type InstanceInfo,
  type InstanceRecord,
  InstanceRegistry,
  type InstanceState,
} from './instance_registry.ts';
import { LeaseKeeper, type LeaseLoss } from './lease_keeper.ts';
import { type LeaseEvent, type LeaseRow, LeaseStore } from './lease_store.ts';
import type { Queryable } from './sql.ts';

/** What the node needs from the mix engine (a `MixEngine` fits). */
export interface ClusterEngine {
  activatePool(poolId: string, fence: LeaseFence | null): void;
  deactivatePool(poolId: string, mode: 'immediate' | 'drain'): Promise<void>;
}

/** Why an instance stopped serving a pool. */
export type UnserveReason = 'renewal-refused' | 'local-expiry' | 'lost' | 'rebalance' | 'drain' | 'stop';

/** An instance started or stopped serving a pool. Times are wall-clock ms from the monotonic clock. */
export type ServeEvent =
  | { type: 'serve'; poolId: string; instanceId: string; epoch: number; atMs: number }
  | {
      type: 'unserve';
      poolId: string;
      instanceId: string;
      epoch: number;
      atMs: number;
      reason: UnserveReason;
      /**
       * For `local-expiry`: the moment the lease stopped being trusted
       * (earlier than `atMs` when the process was paused and noticed late).
       */
      trustedUntilMs: number | null;
    };

/** Where a pool is served, as seen in the node's last poll. */
export interface PoolOwner {
  poolId: string;
  instanceId: string;
  urlClear: string | null;
  urlOnion: string | null;
  epoch: number;
}

/** Options of {@link ClusterNode}. */
export interface ClusterNodeOptions {
  db: Queryable;
  engine: ClusterEngine;
  /** Configured pool ids. */
  pools: readonly string[];
  instance: InstanceInfo;
  timing: ClusterTiming;
  logger: Logger;
  /** Monotonic clock in ms (default `performance.now`). */
  monotonicNow?: () => number;
  /** Told every lease operation's result and every takeover (metrics). */
  onLeaseEvent?: (e: LeaseEvent) => void;
}

/** Wall-clock ms derived from the monotonic clock (immune to `Date.now` changes). */
export function monotonicWallMs(mono: number = performance.now()): number {
  return performance.timeOrigin + mono;
}

type LocalState = 'acquiring' | 'serving' | 'draining';

/** One instance's membership of the cluster (see module doc). */
export class ClusterNode {
  readonly #o: ClusterNodeOptions;
  readonly #registry: InstanceRegistry;
  readonly #leases: LeaseStore;
  readonly #keeper: LeaseKeeper;
  readonly #tracker: OverShareTracker;
  readonly #local = new Map<string, LocalState>();
  readonly #listeners = new Set<(e: ServeEvent) => void>();
  readonly #log: Logger;
  readonly #now: () => number;
  #state: InstanceState = 'starting';
  #timer: NodeJS.Timeout | null = null;
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;
  #closed = false;
  #snapshot: { instances: InstanceRecord[]; leases: LeaseRow[] } = { instances: [], leases: [] };
  readonly #background = new Set<Promise<void>>();

  constructor(opts: ClusterNodeOptions) {
    this.#o = opts;
    this.#log = opts.logger.child({ component: 'cluster', instanceId: opts.instance.id });
    this.#now = opts.monotonicNow ?? (() => performance.now());
    this.#registry = new InstanceRegistry(opts.db);
    this.#leases = new LeaseStore(opts.db, { onEvent: (e) => this.#leaseEvent(e) });
    this.#tracker = new OverShareTracker(opts.timing.rebalanceAfterPolls);
    this.#keeper = new LeaseKeeper({
      store: this.#leases,
      instanceId: opts.instance.id,
      ttlMs: opts.timing.leaseTtlMs,
      renewIntervalMs: opts.timing.renewIntervalMs,
      safetyMarginMs: opts.timing.safetyMarginMs,
      monotonicNow: this.#now,
      logger: this.#log,
      onLost: (loss) => this.#onLost(loss),
    });
  }

  /** This instance's id. */
  get instanceId(): string {
    return this.#o.instance.id;
  }

  /** Current lifecycle state. */
  get state(): InstanceState {
    return this.#state;
  }

  /** Subscribes to serve / unserve events; returns the unsubscribe function. */
  onServeEvent(listener: (e: ServeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Pools this instance serves now (trusted lease, engine activated), sorted. */
  servedPools(): string[] {
    return this.#keeper
      .held()
      .map((f) => f.poolId)
      .filter((p) => this.#local.get(p) === 'serving' || this.#local.get(p) === 'draining');
  }

  /** The current fence of a pool served here, or null. */
  fenceOf(poolId: string): LeaseFence | null {
    return this.#keeper.fenceOf(poolId);
  }

  /**
   * The instance serving `poolId` according to the last poll, when it is
   * another live instance; null when served here, unknown or unowned.
   */
  ownerOf(poolId: string): PoolOwner | null {
    const row = this.#snapshot.leases.find((l) => l.poolId === poolId);
    if (!row?.held || row.owner === null || row.owner === this.instanceId) return null;
    const inst = this.#snapshot.instances.find((i) => i.id === row.owner);
    if (!inst) return null;
    return {
      poolId,
      instanceId: inst.id,
      urlClear: inst.urlClear,
      urlOnion: inst.urlOnion,
      epoch: row.epoch,
    };
  }

  /** Live instances as of the last poll. */
  liveInstances(): InstanceRecord[] {
    return [...this.#snapshot.instances];
  }

  /** Registers the instance, creates missing lease rows, runs a first poll, then polls on a timer. */
  async start(): Promise<void> {
    await this.#leases.ensurePools(this.#o.pools);
    await this.#registry.register(this.#o.instance, 'starting');
    this.#keeper.start();
    // Same period, created right after the keeper's renewal timer: fires in the same timer phase.
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), this.#o.timing.renewIntervalMs);
    await this.pollOnce();
    this.#state = 'active';
    await this.#heartbeat();
    await this.pollOnce();
    this.#schedule(this.#o.timing.pollIntervalMs);
    this.#log.info({ pools: this.servedPools() }, 'cluster node active');
  }

  async #heartbeat(): Promise<void> {
    try {
      const ok = await this.#registry.heartbeat(this.instanceId, this.#state);
      if (!ok) await this.#registry.register(this.#o.instance, this.#state);
    } catch (err) {
      this.#log.warn({ err }, 'heartbeat failed (database error)');
    }
  }

  /** One poll: read the view, act on it. Errors are logged, never thrown. */
  async pollOnce(): Promise<void> {
    if (this.#polling) return this.#polling;
    this.#polling = this.#poll().finally(() => {
      this.#polling = null;
    });
    return this.#polling;
  }

  async #poll(): Promise<void> {
    if (this.#closed) return;
    try {
      const [instances, leases] = await Promise.all([
        this.#registry.listLive(this.#o.timing.leaseTtlMs),
        this.#leases.list(),
      ]);
      this.#snapshot = { instances, leases };
      await this.#reconcile(instances, leases);
    } catch (err) {
      this.#log.warn(
        { err },
        'cluster poll failed (database error); leases are kept until their local deadline',
      );
    }
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(async () => {
      await this.pollOnce();
      this.#schedule(this.#nextDelay());
    }, delayMs);
  }

  /**
   * Next poll delay: the poll interval, or sooner when an instance that
   * looks dead (heartbeat older than 1.5 renewals) is about to leave the view
   * and its leases to expire, so takeover follows the expiry closely.
   */
  #nextDelay(): number {
    const t = this.#o.timing;
    let delay = t.pollIntervalMs;
    if (this.#state !== 'active') return delay;
    const stale = (ageMs: number) => ageMs > 1.5 * t.renewIntervalMs;
    const live = new Map(this.#snapshot.instances.map((i) => [i.id, i]));
    // A silent instance drops out of the view (and its pools are reassigned) when its heartbeat reaches the TTL...
    for (const i of this.#snapshot.instances) {
      if (i.id !== this.instanceId && stale(i.ageMs)) delay = Math.min(delay, t.leaseTtlMs - i.ageMs + 15);
    }
    // ...and its leases become free when they expire: poll right after whichever comes last.
    for (const l of this.#snapshot.leases) {
      if (!l.held || l.owner === this.instanceId) continue;
      const owner = l.owner === null ? undefined : live.get(l.owner);
      if (owner && !stale(owner.ageMs)) continue;
      delay = Math.min(delay, Math.max(l.remainingMs, owner ? t.leaseTtlMs - owner.ageMs : 0) + 15);
    }
    return Math.max(20, delay);
  }

  async #reconcile(instances: InstanceRecord[], leases: LeaseRow[]): Promise<void> {
    const self = this.instanceId;
    const rows = new Map(leases.map((l) => [l.poolId, l]));
    // A row showing another owner or epoch than ours: the lease is gone, step down now.
    for (const f of this.#keeper.held()) {
      const row = rows.get(f.poolId);
      if (!row || row.owner !== self || row.epoch !== f.epoch || !row.held)
        this.#keeper.markLost(f.poolId, f.epoch);
    }
    if (this.#state !== 'active' || this.#closed) return;

    const members = instances.filter((i) => i.state === 'active' || i.state === 'starting').map((i) => i.id);
    if (!members.includes(self)) members.push(self);
    const memberSet = new Set(members);
    const holders = new Map<string, string>();
    for (const l of leases)
      if (l.held && l.owner !== null && memberSet.has(l.owner)) holders.set(l.poolId, l.owner);
    for (const f of this.#keeper.held()) holders.set(f.poolId, self);
    const target = targetPools(self, { instances: members, pools: this.#o.pools, holders });

    const acquisitions: Promise<void>[] = [];
    for (const p of this.#o.pools) {
      if (this.#local.has(p)) continue;
      const row = rows.get(p);
      const free = !row?.held || row.owner === self;
      const orphan = row !== undefined && !row.held && row.freeForMs >= this.#o.timing.orphanGraceMs;
      if ((target.has(p) && free) || orphan)
        acquisitions.push(this.#acquire(p, target.has(p) ? 'target' : 'orphan', row));
    }
    await Promise.all(acquisitions);

    const serving = new Set([...this.#local].filter(([, s]) => s === 'serving').map(([p]) => p));
    for (const p of this.#tracker.observe(serving, target)) {
      this.#log.info(
        { poolId: p, target: [...target] },
        'pool over this instance share: draining it for rebalance',
      );
      this.#track(this.#giveUp(p, 'rebalance'));
    }
  }

  async #acquire(poolId: string, why: 'target' | 'orphan', seen: LeaseRow | undefined): Promise<void> {
    this.#local.set(poolId, 'acquiring');
    try {
      const fence = await this.#keeper.acquire(poolId);
      if (!fence || this.#closed || this.#state !== 'active') {
        if (fence) await this.#keeper.release(poolId);
        this.#local.delete(poolId);
        return;
      }
      try {
        this.#o.engine.activatePool(poolId, fence);
      } catch (err) {
        this.#log.error({ err, poolId }, 'engine refused to activate pool; releasing its lease');
        await this.#keeper.release(poolId);
        this.#local.delete(poolId);
        return;
      }
      this.#local.set(poolId, 'serving');
      this.#tracker.forget(poolId);
      this.#log.info({ poolId, epoch: fence.epoch, why }, 'pool lease acquired');
      // the epoch right after the one seen, held or released by another instance: a takeover
      if (seen && seen.epoch >= 1 && fence.epoch === seen.epoch + 1 && seen.owner !== this.instanceId) {
        this.#leaseEvent({
          type: 'takeover',
          poolId,
          previous: seen.owner === null ? 'released' : 'expired',
          latencyMs: seen.freeForMs,
        });
      }
      this.#emit({
        type: 'serve',
        poolId,
        instanceId: this.instanceId,
        epoch: fence.epoch,
        atMs: monotonicWallMs(),
      });
    } catch (err) {
      this.#local.delete(poolId);
      this.#log.warn({ err, poolId }, 'pool acquisition failed');
    }
  }

  /** Drain a pool at its mix boundary, then release its lease (rebalance, shutdown). */
  async #giveUp(poolId: string, reason: 'rebalance' | 'drain'): Promise<void> {
    const fence = this.#keeper.fenceOf(poolId);
    if (!fence || this.#local.get(poolId) !== 'serving') return;
    this.#local.set(poolId, 'draining');
    const t = this.#o.timing;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.#o.engine.deactivatePool(poolId, 'drain').then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), t.drainTimeoutMs);
      }),
    ]).catch((err: unknown) => {
      this.#log.warn({ err, poolId }, 'engine drain failed; cutting the pool');
      return true;
    });
    clearTimeout(timer);
    const still = this.#keeper.fenceOf(poolId);
    if (!still || still.epoch !== fence.epoch) return; // lost meanwhile: #onLost already reported it
    if (timedOut) await this.#o.engine.deactivatePool(poolId, 'immediate').catch(() => undefined);
    this.#local.delete(poolId);
    this.#tracker.forget(poolId);
    // Unserve is reported BEFORE the row is freed: nobody can serve the pool before this instance stopped.
    this.#emit({
      type: 'unserve',
      poolId,
      instanceId: this.instanceId,
      epoch: fence.epoch,
      atMs: monotonicWallMs(),
      reason,
      trustedUntilMs: null,
    });
    const released = await this.#keeper.release(poolId);
    this.#log.info({ poolId, epoch: fence.epoch, reason, released }, 'pool given up');
  }

  #onLost(loss: LeaseLoss): void {
    const { fence, reason } = loss;
    this.#local.delete(fence.poolId);
    this.#tracker.forget(fence.poolId);
    const cut = this.#o.engine.deactivatePool(fence.poolId, 'immediate');
    this.#emit({
      type: 'unserve',
      poolId: fence.poolId,
      instanceId: this.instanceId,
      epoch: fence.epoch,
      atMs: monotonicWallMs(),
      reason,
      trustedUntilMs: reason === 'local-expiry' ? monotonicWallMs(loss.deadlineMono) : null,
    });
    this.#track(
      cut
        .catch((err: unknown) => this.#log.error({ err, poolId: fence.poolId }, 'engine failed to cut pool'))
        .then(async () => {
          // After a local expiry the row may still be ours: free it so the next owner does not wait.
          if (reason === 'local-expiry') await this.#leases.release(fence).catch(() => false);
        }),
    );
  }

  #leaseEvent(e: LeaseEvent): void {
    try {
      this.#o.onLeaseEvent?.(e);
    } catch (err) {
      this.#log.error({ err }, 'lease event listener threw');
    }
  }

  #emit(e: ServeEvent): void {
    this.#log.info({ event: e.type === 'serve' ? 'pool-serve' : 'pool-unserve', ...e }, `cluster ${e.type}`);
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.#log.error({ err }, 'serve event listener threw');
      }
    }
  }

  #track(p: Promise<void>): void {
    this.#background.add(p);
    void p.finally(() => this.#background.delete(p));
  }

  async #stopLoops(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#polling;
  }

  /**
   * Graceful stop (SIGTERM): state `draining`, every pool drained at its mix
   * boundary and released (the next owner takes over at once), state
   * `stopped`. Leases keep being renewed while the mixes finish.
   */
  async drain(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'draining';
    await this.#registry.setState(this.instanceId, 'draining').catch((err: unknown) => {
      this.#log.warn({ err }, 'could not record draining state');
    });
    await this.#stopLoops();
    this.#log.info({ pools: this.servedPools() }, 'draining: finishing mixes, then releasing leases');
    await Promise.all(this.#keeper.held().map((f) => this.#giveUp(f.poolId, 'drain')));
    await Promise.all([...this.#background]);
    await this.#finish();
  }

  /** Immediate stop: cuts every pool (no blame), releases leases, state `stopped`. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'draining';
    await this.#stopLoops();
    for (const f of this.#keeper.held()) {
      this.#local.delete(f.poolId);
      await this.#o.engine.deactivatePool(f.poolId, 'immediate').catch(() => undefined);
      this.#emit({
        type: 'unserve',
        poolId: f.poolId,
        instanceId: this.instanceId,
        epoch: f.epoch,
        atMs: monotonicWallMs(),
        reason: 'stop',
        trustedUntilMs: null,
      });
      await this.#keeper.release(f.poolId);
    }
    await Promise.all([...this.#background]);
    await this.#finish();
  }

  async #finish(): Promise<void> {
    this.#keeper.stop();
    if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
    this.#state = 'stopped';
    await this.#registry.setState(this.instanceId, 'stopped').catch((err: unknown) => {
      this.#log.warn({ err }, 'could not record stopped state');
    });
    this.#log.info('cluster node stopped');
  }
}
