/**
 * Records, per pool, the intervals during which each coordinator instance
 * served it (from the cluster node's `serve` / `unserve` events or their
 * `pool-serve` / `pool-unserve` log lines) and checks the cluster's two
 * promises: never two instances serving one pool at the same moment, and an
 * orphaned pool served again within a bound.
 *
 * An `unserve` caused by a local lease expiry carries `trustedUntilMs`: a
 * paused (SIGSTOP) or partitioned instance only notices late that it stopped
 * trusting its lease, but it could not act on the pool in between — its
 * interval ends at `trustedUntilMs`.
 *
 * @module
 */

/** One serve interval; `end` is null while still serving. */
export interface ServeInterval {
  poolId: string;
  instanceId: string;
  epoch: number;
  start: number;
  end: number | null;
  reason: string | null;
}

/** The fields of a cluster serve event the recorder reads. */
export interface RecordableEvent {
  type: 'serve' | 'unserve';
  poolId: string;
  instanceId: string;
  epoch: number;
  atMs: number;
  reason?: string;
  trustedUntilMs?: number | null;
}

/** Collects serve intervals; see module doc. */
export class ServeRecorder {
  readonly intervals: ServeInterval[] = [];
  readonly #open = new Map<string, ServeInterval>();

  /** Feeds one event (order of arrival per instance must be preserved). */
  record(e: RecordableEvent): void {
    const key = `${e.poolId}\u0000${e.instanceId}`;
    if (e.type === 'serve') {
      const iv: ServeInterval = {
        poolId: e.poolId,
        instanceId: e.instanceId,
        epoch: e.epoch,
        start: e.atMs,
        end: null,
        reason: null,
      };
      this.#open.set(key, iv);
      this.intervals.push(iv);
      return;
    }
    const iv = this.#open.get(key);
    if (!iv) return;
    this.#open.delete(key);
    iv.end = e.trustedUntilMs != null ? Math.min(e.atMs, e.trustedUntilMs) : e.atMs;
    iv.reason = e.reason ?? null;
  }

  /** Feeds one JSON log line of a coordinator (ignores other lines). */
  recordLogLine(line: string): void {
    if (!line.includes('"pool-serve"') && !line.includes('"pool-unserve"')) return;
    try {
      const o = JSON.parse(line) as RecordableEvent & { event: string };
      this.record({ ...o, type: o.event === 'pool-serve' ? 'serve' : 'unserve' });
    } catch {
      // not a JSON line
    }
  }

  /** Closes every open interval of `instanceId` at `atMs` (the process was killed). */
  closeInstance(instanceId: string, atMs: number, reason = 'killed'): void {
    for (const [key, iv] of [...this.#open]) {
      if (iv.instanceId !== instanceId) continue;
      iv.end = atMs;
      iv.reason = reason;
      this.#open.delete(key);
    }
  }

  /** Instances serving `poolId` now. */
  servingNow(poolId: string): string[] {
    return [...this.#open.values()].filter((iv) => iv.poolId === poolId).map((iv) => iv.instanceId);
  }

  /** Pairs of intervals of different instances on the same pool that overlap (should be empty). */
  overlaps(): Array<[ServeInterval, ServeInterval]> {
    const out: Array<[ServeInterval, ServeInterval]> = [];
    const byPool = new Map<string, ServeInterval[]>();
    for (const iv of this.intervals) byPool.set(iv.poolId, [...(byPool.get(iv.poolId) ?? []), iv]);
    for (const ivs of byPool.values()) {
      for (let i = 0; i < ivs.length; i++) {
        for (let j = i + 1; j < ivs.length; j++) {
          const a = ivs[i]!;
          const b = ivs[j]!;
          if (a.instanceId === b.instanceId) continue;
          const aEnd = a.end ?? Number.POSITIVE_INFINITY;
          const bEnd = b.end ?? Number.POSITIVE_INFINITY;
          if (a.start < bEnd && b.start < aEnd) out.push([a, b]);
        }
      }
    }
    return out;
  }

  /** First serve of `poolId` starting at or after `sinceMs`, or null. */
  firstServeAfter(poolId: string, sinceMs: number): ServeInterval | null {
    return (
      this.intervals
        .filter((iv) => iv.poolId === poolId && iv.start >= sinceMs)
        .sort((a, b) => a.start - b.start)[0] ?? null
    );
  }
}
