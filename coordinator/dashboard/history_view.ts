/**
 * The dashboard's pictures as data: a pure function from the recorded
 * samples (coordinator/store/history_store.ts) and the instance registry to
 * per-pool ownership segments (one colour per owning instance), takeover
 * marks (a new lease epoch), queue sizes over time and mixes per time
 * bucket, plus one heartbeat lane per instance with its liveness
 * (`live`, `draining`, `stopped`, `dead`). The page only draws what this
 * returns; unit tests check every rule here.
 *
 * @module
 */
import type { HistoryRead, HistorySampleRow } from '#coordinator/store/history_store.ts';

/** An interval during which `instanceId` served a pool under `epoch`. */
export interface OwnershipSegment {
  instanceId: string;
  epoch: number;
  fromMs: number;
  toMs: number;
}

/** A pool changing hands: the first sample under a higher epoch. */
export interface TakeoverMark {
  atMs: number;
  epoch: number;
  /** Owner of the segment just before (null: the pool was unserved before, or the first one seen). */
  fromInstance: string | null;
  toInstance: string;
}

/** One pool's lane. */
export interface PoolHistory {
  poolId: string;
  ownership: OwnershipSegment[];
  takeovers: TakeoverMark[];
  queues: Array<{ atMs: number; mustMix: number; liquidity: number }>;
  mixes: Array<{ bucketStartMs: number; success: number; fail: number }>;
}

/** Liveness of an instance as the registry shows it now. */
export type InstanceLiveness = 'live' | 'draining' | 'stopped' | 'dead';

/** One instance's heartbeat lane. */
export interface InstanceHistory {
  id: string;
  liveness: InstanceLiveness;
  lastSeenMs: number | null;
  segments: Array<{ fromMs: number; toMs: number }>;
}

/** Everything the pictures draw (JSON-serialisable). */
export interface HistoryView {
  fromMs: number;
  toMs: number;
  bucketMs: number;
  pools: PoolHistory[];
  instances: InstanceHistory[];
}

/** A registry row as the view needs it. */
export interface RegistryEntry {
  id: string;
  state: string;
  heartbeatAgeMs: number;
}

/** Inputs of {@link buildHistoryView} besides the samples. */
export interface HistoryViewOptions {
  poolIds: readonly string[];
  registry: readonly RegistryEntry[];
  windowMs: number;
  bucketMs: number;
  /** Samples further apart than this break a segment (about 2.5 sample intervals). */
  gapMs: number;
  /** A heartbeat older than this means the instance is dead (the lease TTL). */
  deadAfterMs: number;
}

/** Liveness of one instance from its registry row (or its absence) and its last sampled state. */
export function instanceLiveness(
  entry: RegistryEntry | undefined,
  lastState: string | null,
  deadAfterMs: number,
): InstanceLiveness {
  if (entry && entry.heartbeatAgeMs <= deadAfterMs) {
    if (entry.state === 'draining') return 'draining';
    if (entry.state === 'stopped') return 'stopped';
    return 'live';
  }
  const state = entry?.state ?? lastState;
  return state === 'stopped' ? 'stopped' : 'dead';
}

/** Merges consecutive samples of the same key into segments, breaking at gaps longer than `gapMs`. */
function segmentsOf<K>(
  samples: readonly HistorySampleRow[],
  keyOf: (s: HistorySampleRow) => K,
  same: (a: K, b: K) => boolean,
  gapMs: number,
  /** The last segment reaches this moment when its last sample is at most `gapMs` older (null: never). */
  extendUntilMs: number | null,
): Array<{ key: K; fromMs: number; toMs: number }> {
  const out: Array<{ key: K; fromMs: number; toMs: number }> = [];
  for (const s of samples) {
    const key = keyOf(s);
    const last = out[out.length - 1];
    if (last && same(last.key, key) && s.atMs - last.toMs <= gapMs) last.toMs = s.atMs;
    else out.push({ key, fromMs: s.atMs, toMs: s.atMs });
  }
  // a segment whose last sample is recent lasts until now
  const last = out[out.length - 1];
  if (last && extendUntilMs !== null && extendUntilMs - last.toMs <= gapMs) last.toMs = extendUntilMs;
  return out;
}

/** Shortest span the pictures show, ms. */
export const MIN_VIEW_SPAN_MS = 60_000;

/**
 * Where the time axis starts: the window's start, or shortly before the
 * oldest recorded sample or mix when the history is younger than the window
 * (a new cluster's first minutes fill the picture instead of a sliver).
 */
export function viewStart(read: HistoryRead, nowMs: number, windowMs: number): number {
  let earliest = nowMs;
  for (const s of read.samples) earliest = Math.min(earliest, s.atMs);
  for (const m of read.mixes) earliest = Math.min(earliest, m.bucketStartMs);
  const span = Math.max(MIN_VIEW_SPAN_MS, (nowMs - earliest) * 1.05);
  return Math.round(Math.max(nowMs - windowMs, nowMs - span));
}

/** Builds the pictures' data from one {@link HistoryRead}. */
export function buildHistoryView(read: HistoryRead, opts: HistoryViewOptions): HistoryView {
  const nowMs = read.nowMs;
  const byPool = new Map<string, HistorySampleRow[]>();
  const byInstance = new Map<string, HistorySampleRow[]>();
  for (const s of read.samples) {
    if (s.poolId === null) {
      const list = byInstance.get(s.instanceId) ?? [];
      list.push(s);
      byInstance.set(s.instanceId, list);
    } else {
      const list = byPool.get(s.poolId) ?? [];
      list.push(s);
      byPool.set(s.poolId, list);
    }
  }
  const pools: PoolHistory[] = opts.poolIds.map((poolId) => {
    const samples = (byPool.get(poolId) ?? []).slice().sort((a, b) => a.atMs - b.atMs);
    const segs = segmentsOf(
      samples,
      (s) => ({ instanceId: s.instanceId, epoch: s.epoch ?? 0 }),
      (a, b) => a.instanceId === b.instanceId && a.epoch === b.epoch,
      opts.gapMs,
      nowMs,
    );
    const ownership = segs.map((g) => ({ ...g.key, fromMs: g.fromMs, toMs: g.toMs }));
    const takeovers: TakeoverMark[] = [];
    let maxEpoch = -1;
    let previous: OwnershipSegment | null = null;
    for (const seg of ownership) {
      if (seg.epoch > maxEpoch) {
        if (maxEpoch >= 0) {
          takeovers.push({
            atMs: seg.fromMs,
            epoch: seg.epoch,
            fromInstance: previous?.instanceId ?? null,
            toInstance: seg.instanceId,
          });
        }
        maxEpoch = seg.epoch;
      }
      previous = seg;
    }
    return {
      poolId,
      ownership,
      takeovers,
      queues: samples
        .filter((s) => s.nbMustMixQueued !== null || s.nbLiquidityQueued !== null)
        .map((s) => ({ atMs: s.atMs, mustMix: s.nbMustMixQueued ?? 0, liquidity: s.nbLiquidityQueued ?? 0 })),
      mixes: read.mixes
        .filter((m) => m.poolId === poolId)
        .map((m) => ({ bucketStartMs: m.bucketStartMs, success: m.success, fail: m.fail })),
    };
  });
  const registry = new Map(opts.registry.map((r) => [r.id, r]));
  const ids = [...new Set([...byInstance.keys(), ...registry.keys()])].sort();
  const instances: InstanceHistory[] = ids.map((id) => {
    const samples = (byInstance.get(id) ?? []).slice().sort((a, b) => a.atMs - b.atMs);
    const last = samples[samples.length - 1] ?? null;
    const liveness = instanceLiveness(registry.get(id), last?.instanceState ?? null, opts.deadAfterMs);
    const segments = segmentsOf(
      samples,
      () => 0,
      () => true,
      opts.gapMs,
      liveness === 'live' || liveness === 'draining' ? nowMs : null,
    ).map((g) => ({ fromMs: g.fromMs, toMs: g.toMs }));
    return { id, liveness, lastSeenMs: last?.atMs ?? null, segments };
  });
  return {
    fromMs: viewStart(read, nowMs, opts.windowMs),
    toMs: nowMs,
    bucketMs: opts.bucketMs,
    pools,
    instances,
  };
}
