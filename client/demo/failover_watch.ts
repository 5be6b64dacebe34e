/**
 * Watches the failover after the demo killed an instance: polls the
 * `pool_lease` rows until every pool the dead instance held has a new owner
 * (higher epoch), and the bootstrap directory until it shows that owner.
 * Times come from the database clock (`acquired_at` of the new lease, the
 * dead lease's `lease_until`) compared with the moment of the kill (same
 * machine clock), plus the directory refreshes seen by the demo. Finally it
 * reads the survivors' `whirlpool_cluster_takeovers_total` (by previous-lease
 * kind) and takeover latency metrics.
 *
 * @module
 */
import type { DirectoryClient } from '#client/discovery/directory_client.ts';
import type { DemoDb, LeaseSnapshot } from './demo_database.ts';

/** One pool that changed owner. */
export interface Takeover {
  poolId: string;
  fromInstance: string;
  fromEpoch: number;
  toInstance: string;
  toEpoch: number;
  /** New lease's acquired_at (DB clock) minus the kill time. */
  acquiredAfterKillMs: number;
  /** New lease's acquired_at minus the dead lease's expiry (DB clock). */
  acquiredAfterExpiryMs: number;
  /** First directory refresh showing the new owner, after the kill; null if never seen. */
  seenInDirectoryAfterKillMs: number | null;
}

/** What {@link watchFailover} reports. */
export interface FailoverReport {
  takeovers: Takeover[];
  /** Pools of the dead instance nobody took within the timeout. */
  missing: string[];
  /** The takeover metrics scraped from the survivors' /metrics, one line. */
  metric: string | null;
}

/** Options of {@link watchFailover}. */
export interface WatchFailoverOptions {
  db: DemoDb;
  directory: DirectoryClient;
  killedId: string;
  killedAtMs: number;
  /** The dead instance's lease rows read just before the kill. */
  pools: LeaseSnapshot[];
  instances: Array<{ id: string; url: string }>;
  timeoutMs: number;
  signal: AbortSignal;
  log(line: string): void;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Watches the takeover of the dead instance's pools (see module doc). */
export async function watchFailover(o: WatchFailoverOptions): Promise<FailoverReport> {
  const pending = new Map(o.pools.map((p) => [p.poolId, p]));
  const taken = new Map<string, Takeover>();
  const seen = new Map<string, number>();
  const deadline = o.killedAtMs + o.timeoutMs;
  while ((pending.size > 0 || seen.size < taken.size) && Date.now() < deadline && !o.signal.aborted) {
    if (pending.size > 0) {
      const rows = await o.db.leases().catch(() => [] as LeaseSnapshot[]);
      for (const r of rows) {
        const before = pending.get(r.poolId);
        if (!before || r.owner === null || r.owner === o.killedId || r.epoch <= before.epoch) continue;
        pending.delete(r.poolId);
        const acquired = r.acquiredAtMs ?? Date.now();
        // The dead lease ran until its last renewal + TTL: read it from the row we saw before the kill
        // is too early (it was renewed since), so take the later of that and the kill time.
        const expiry = Math.max(before.leaseUntilMs ?? o.killedAtMs, o.killedAtMs);
        const t: Takeover = {
          poolId: r.poolId,
          fromInstance: o.killedId,
          fromEpoch: before.epoch,
          toInstance: r.owner,
          toEpoch: r.epoch,
          acquiredAfterKillMs: acquired - o.killedAtMs,
          acquiredAfterExpiryMs: acquired - expiry,
          seenInDirectoryAfterKillMs: null,
        };
        taken.set(r.poolId, t);
        o.log(
          `failover: ${r.poolId} taken over by ${r.owner} (epoch ${r.epoch}) ${(t.acquiredAfterKillMs / 1000).toFixed(2)} s after the kill`,
        );
      }
    }
    const dir = await o.directory.refresh().then(
      (x) => x.directory,
      () => null,
    );
    for (const [poolId, t] of taken) {
      if (seen.has(poolId)) continue;
      const owner = dir?.pools.get(poolId);
      if (owner && owner.instanceId === t.toInstance && owner.epoch >= t.toEpoch) {
        const after = Date.now() - o.killedAtMs;
        seen.set(poolId, after);
        t.seenInDirectoryAfterKillMs = after;
        o.log(
          `failover: the directory shows ${poolId} at ${t.toInstance} ${(after / 1000).toFixed(2)} s after the kill`,
        );
      }
    }
    await sleep(200);
  }
  return { takeovers: [...taken.values()], missing: [...pending.keys()], metric: await scrapeTakeovers(o) };
}

async function scrapeTakeovers(o: WatchFailoverOptions): Promise<string | null> {
  const parts: string[] = [];
  for (const inst of o.instances) {
    if (inst.id === o.killedId) continue;
    try {
      const res = await fetch(`${inst.url}/metrics`, { signal: AbortSignal.timeout(3000) });
      const text = await res.text();
      // label order differs between counters and histograms (default labels first): match names and labels apart
      const sum = (name: string, previous: string) =>
        text
          .split('\n')
          .filter((l) => l.startsWith(`${name}{`) && l.includes(`previous="${previous}"`))
          .map((l) => Number(l.trim().split(/\s+/).pop()))
          .filter((n) => Number.isFinite(n))
          .reduce((a, b) => a + b, 0);
      const expired = sum('whirlpool_cluster_takeovers_total', 'expired');
      const released = sum('whirlpool_cluster_takeovers_total', 'released');
      const latencySum = sum('whirlpool_cluster_takeover_latency_seconds_sum', 'expired');
      const latencyCount = sum('whirlpool_cluster_takeover_latency_seconds_count', 'expired');
      const latency = latencyCount > 0 ? `, mean latency ${(latencySum / latencyCount).toFixed(2)} s` : '';
      parts.push(`${inst.id} takeovers expired=${expired} released=${released}${latency}`);
    } catch {
      parts.push(`${inst.id} /metrics unreachable`);
    }
  }
  return parts.length ? parts.join(', ') : null;
}
