/**
 * The dashboard's read model: the whole cluster as the shared database shows
 * it, whichever instance serves the page — instances (state, URLs,
 * heartbeat age, version), pool ownership (owner, epoch, lease time left),
 * each pool's published live status (phase, elapsed, must-mix and liquidity
 * queue sizes, registered total), recent mixes
 * with txids, active bans and recent blames. Built only from existing
 * repositories; all ages are on the database clock.
 *
 * @module
 */
import { InstanceRegistry } from '#coordinator/cluster/instance_registry.ts';
import { LeaseStore } from '#coordinator/cluster/lease_store.ts';
import type { Queryable } from '#coordinator/cluster/sql.ts';
import type { PoolConfig } from '#coordinator/mix/types.ts';
import type { MixHistoryStore } from '#coordinator/store/mix_store.ts';
import { PoolStatusStore } from '#coordinator/store/pool_status_store.ts';
import { instanceLiveness } from './history_view.ts';

/** One pool row of the view. */
export interface PoolView {
  poolId: string;
  denomination: number;
  anonymitySet: number;
  owner: string | null;
  epoch: number;
  leaseHeld: boolean;
  leaseRemainingMs: number;
  /** Live status published by the owner (null when none is fresh). */
  status: {
    instanceId: string;
    mixId: string;
    mixStatus: string;
    elapsedMs: number;
    nbConfirmed: number;
    /** Invited-but-unconfirmed + queued must-mix + queued liquidity. */
    nbRegistered: number;
    /** Must-mix inputs queued (null: published by a release that does not report it). */
    nbMustMixQueued: number | null;
    /** Liquidity inputs queued (null: published by a release that does not report it). */
    nbLiquidityQueued: number | null;
  } | null;
}

/** Everything the dashboard page shows (JSON-serialisable). */
export interface ClusterView {
  generatedAt: string;
  servedBy: string | null;
  instances: Array<{
    id: string;
    state: string;
    urlClear: string | null;
    urlOnion: string | null;
    version: string;
    heartbeatAgeMs: number;
    /** What the page shows: the state, or `dead (heartbeat expired)` ({@link instanceStatusLabel}). */
    status: string;
    startedAt: string;
    pools: string[];
  }>;
  pools: PoolView[];
  mixes: Array<{
    mixId: string;
    poolId: string;
    status: string;
    failReason: string | null;
    txid: string | null;
    anonymitySet: number;
    instanceId: string | null;
    updated: string;
  }>;
  stats: { nbSuccess: number; amountOut: number };
  bans: Array<{ identifier: string; created: string; expiration: string | null; notes: string | null }>;
  blames: Array<{
    identifier: string;
    reason: string;
    mixId: string;
    created: string;
    poolId: string | null;
  }>;
}

/** Sources of the view. */
export interface ClusterViewSources {
  db: Queryable;
  history: MixHistoryStore;
  pools: readonly PoolConfig[];
  instanceId: string | null;
  /** Pool statuses older than this are not shown (default 10 s). */
  statusMaxAgeMs?: number;
  /** Instances whose heartbeat is older than this are left out (default 1 h). */
  instanceWindowMs?: number;
  /** A heartbeat older than this means the instance is dead: the lease TTL (default 10 s). */
  deadAfterMs?: number;
}

/**
 * The status shown for an instance: its registry state while its heartbeat
 * is fresh; once the heartbeat is older than `deadAfterMs` (the lease TTL:
 * its leases have expired) `dead (heartbeat expired)`, unless it stopped
 * cleanly (`stopped`). A kill -9 leaves the state `active`, so the state
 * alone would show a dead instance as active.
 */
export function instanceStatusLabel(
  entry: { id: string; state: string; heartbeatAgeMs: number },
  deadAfterMs: number,
): string {
  const liveness = instanceLiveness(entry, null, deadAfterMs);
  if (liveness === 'dead') return 'dead (heartbeat expired)';
  return liveness === 'live' ? entry.state : liveness;
}

/** Reads the current view from the database. */
export async function readClusterView(src: ClusterViewSources): Promise<ClusterView> {
  const [instances, leases, statuses, mixes, stats, bans, blames] = await Promise.all([
    new InstanceRegistry(src.db).listLive(src.instanceWindowMs ?? 3600_000),
    new LeaseStore(src.db).list(),
    new PoolStatusStore(src.db).read(src.statusMaxAgeMs ?? 10_000),
    src.history.recentMixes({ limit: 25 }),
    src.history.mixStats(),
    src.history.activeBans({ limit: 100 }),
    src.history.blames({ limit: 25 }),
  ]);
  const leaseOf = new Map(leases.map((l) => [l.poolId, l]));
  const pools: PoolView[] = src.pools.map((p) => {
    const lease = leaseOf.get(p.id);
    const s = statuses.get(p.id);
    return {
      poolId: p.id,
      denomination: p.denomination,
      anonymitySet: p.anonymitySet,
      owner: lease?.held ? lease.owner : null,
      epoch: lease?.epoch ?? 0,
      leaseHeld: lease?.held ?? false,
      leaseRemainingMs: lease?.remainingMs ?? 0,
      status: s
        ? {
            instanceId: s.instanceId,
            mixId: s.mixId,
            mixStatus: s.mixStatus,
            elapsedMs: s.elapsedTime,
            nbConfirmed: s.nbConfirmed,
            nbRegistered: s.nbRegistered,
            nbMustMixQueued: s.nbMustMixQueued,
            nbLiquidityQueued: s.nbLiquidityQueued,
          }
        : null,
    };
  });
  return {
    generatedAt: new Date().toISOString(),
    servedBy: src.instanceId,
    instances: instances.map((i) => ({
      id: i.id,
      state: i.state,
      urlClear: i.urlClear,
      urlOnion: i.urlOnion,
      version: i.version,
      heartbeatAgeMs: Math.round(i.ageMs),
      status: instanceStatusLabel(
        { id: i.id, state: i.state, heartbeatAgeMs: i.ageMs },
        src.deadAfterMs ?? 10_000,
      ),
      startedAt: i.startedAt.toISOString(),
      pools: pools.filter((p) => p.owner === i.id).map((p) => p.poolId),
    })),
    pools,
    mixes: mixes.map((m) => ({
      mixId: m.mixId,
      poolId: m.poolId,
      status: m.status,
      failReason: m.failReason,
      txid: m.txid,
      anonymitySet: m.anonymitySet,
      instanceId: m.instanceId,
      updated: m.updated.toISOString(),
    })),
    stats: { nbSuccess: stats.nbSuccess, amountOut: stats.amountOut },
    bans: bans.map((b) => ({
      identifier: b.identifier,
      created: b.created.toISOString(),
      expiration: b.expiration ? b.expiration.toISOString() : null,
      notes: b.notes,
    })),
    blames: blames.map((b) => ({
      identifier: b.identifier,
      reason: b.reason,
      mixId: b.mixId,
      created: b.created.toISOString(),
      poolId: b.poolId,
    })),
  };
}
