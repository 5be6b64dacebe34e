/**
 * Merging directory records into one view: the newest record per instance,
 * and the pool → owner map where, when two records claim the same pool, the
 * higher lease epoch wins (the lease table's fencing token only grows, so the
 * higher epoch is the later acquisition). Feed it verified records only.
 *
 * @module
 */
import type { DirectoryRecord } from './record.ts';

/** The instance owning a pool, with the lease epoch it published. */
export interface PoolOwner {
  poolId: string;
  instanceId: string;
  epoch: number;
}

/** Merged directory: newest record per instance and the owner of every pool. */
export interface Directory {
  instances: Map<string, DirectoryRecord>;
  pools: Map<string, PoolOwner>;
}

/** True when record `a` supersedes `b` for the same instance (later issuedAt, then later expiresAt). */
export function isNewerRecord(a: DirectoryRecord, b: DirectoryRecord): boolean {
  if (a.issuedAt !== b.issuedAt) return a.issuedAt > b.issuedAt;
  return a.expiresAt > b.expiresAt;
}

/**
 * Merges records (for example from several mirrors, or old and new fetches):
 * keeps the newest record of each instance, then assigns every pool to the
 * claim with the highest epoch (ties, which fencing should make impossible:
 * the later issuedAt, then the smaller instanceId, so the result does not
 * depend on input order).
 */
export function mergeDirectoryRecords(records: Iterable<DirectoryRecord>): Directory {
  const instances = new Map<string, DirectoryRecord>();
  for (const r of records) {
    const known = instances.get(r.instanceId);
    if (!known || isNewerRecord(r, known)) instances.set(r.instanceId, r);
  }
  const pools = new Map<string, PoolOwner>();
  const issuedAtOf = (id: string) => instances.get(id)?.issuedAt ?? 0;
  for (const r of instances.values()) {
    for (const p of r.pools) {
      const current = pools.get(p.poolId);
      const wins =
        !current ||
        p.epoch > current.epoch ||
        (p.epoch === current.epoch &&
          (r.issuedAt > issuedAtOf(current.instanceId) ||
            (r.issuedAt === issuedAtOf(current.instanceId) && r.instanceId < current.instanceId)));
      if (wins) pools.set(p.poolId, { poolId: p.poolId, instanceId: r.instanceId, epoch: p.epoch });
    }
  }
  return { instances, pools };
}
