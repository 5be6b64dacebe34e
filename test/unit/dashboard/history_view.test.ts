import { describe, expect, it } from 'vitest';
import {
  buildHistoryView,
  type HistoryViewOptions,
  instanceLiveness,
  MIN_VIEW_SPAN_MS,
  viewStart,
} from '#coordinator/dashboard/history_view.ts';
import type { HistoryRead, HistorySampleRow } from '#coordinator/store/history_store.ts';

const NOW = 1_000_000_000;

function poolSample(
  atMs: number,
  instanceId: string,
  poolId: string,
  epoch: number,
  q = [0, 0],
): HistorySampleRow {
  return {
    atMs,
    instanceId,
    instanceState: 'active',
    poolId,
    epoch,
    mixStatus: 'CONFIRM_INPUT',
    nbMustMixQueued: q[0]!,
    nbLiquidityQueued: q[1]!,
  };
}

function beat(atMs: number, instanceId: string, state = 'active'): HistorySampleRow {
  return {
    atMs,
    instanceId,
    instanceState: state,
    poolId: null,
    epoch: null,
    mixStatus: null,
    nbMustMixQueued: null,
    nbLiquidityQueued: null,
  };
}

const OPTS: HistoryViewOptions = {
  poolIds: ['p1', 'p2'],
  registry: [],
  windowMs: 6 * 3600_000,
  bucketMs: 60_000,
  gapMs: 25_000,
  deadAfterMs: 4000,
};

function read(samples: HistorySampleRow[], mixes: HistoryRead['mixes'] = []): HistoryRead {
  return { nowMs: NOW, samples, mixes };
}

describe('buildHistoryView', () => {
  it('is empty but complete without any history (a fresh database)', () => {
    const v = buildHistoryView(read([]), OPTS);
    expect(v.pools.map((p) => p.poolId)).toEqual(['p1', 'p2']);
    for (const p of v.pools) expect(p).toMatchObject({ ownership: [], takeovers: [], queues: [], mixes: [] });
    expect(v.instances).toEqual([]);
    expect(v.toMs).toBe(NOW);
    expect(v.fromMs).toBe(NOW - MIN_VIEW_SPAN_MS);
  });

  it('merges samples of one owner and epoch into a segment that lasts until now while fresh', () => {
    const v = buildHistoryView(
      read([10, 20, 30].map((s) => poolSample(NOW - s * 1000, 'a', 'p1', 1)).reverse()),
      OPTS,
    );
    expect(v.pools[0]!.ownership).toEqual([{ instanceId: 'a', epoch: 1, fromMs: NOW - 30_000, toMs: NOW }]);
    expect(v.pools[0]!.takeovers).toEqual([]);
  });

  it('marks a takeover where a higher epoch starts, naming the previous owner', () => {
    const samples = [
      poolSample(NOW - 60_000, 'b', 'p1', 4),
      poolSample(NOW - 50_000, 'b', 'p1', 4),
      // b killed; a takes over at epoch 5
      poolSample(NOW - 42_000, 'a', 'p1', 5),
      poolSample(NOW - 32_000, 'a', 'p1', 5),
    ];
    const p = buildHistoryView(read(samples), OPTS).pools[0]!;
    expect(p.ownership).toEqual([
      { instanceId: 'b', epoch: 4, fromMs: NOW - 60_000, toMs: NOW - 50_000 },
      { instanceId: 'a', epoch: 5, fromMs: NOW - 42_000, toMs: NOW - 32_000 },
    ]);
    expect(p.takeovers).toEqual([{ atMs: NOW - 42_000, epoch: 5, fromInstance: 'b', toInstance: 'a' }]);
  });

  it('breaks a segment at a gap longer than gapMs and keeps a stale last segment where it ended', () => {
    const samples = [poolSample(NOW - 200_000, 'a', 'p1', 1), poolSample(NOW - 100_000, 'a', 'p1', 1)];
    const p = buildHistoryView(read(samples), OPTS).pools[0]!;
    expect(p.ownership).toEqual([
      { instanceId: 'a', epoch: 1, fromMs: NOW - 200_000, toMs: NOW - 200_000 },
      { instanceId: 'a', epoch: 1, fromMs: NOW - 100_000, toMs: NOW - 100_000 },
    ]);
    // same epoch again after a gap: not a takeover
    expect(p.takeovers).toEqual([]);
  });

  it('does not mark the same owner re-sampled as a takeover, and marks an owner that comes back at a new epoch', () => {
    const samples = [
      poolSample(NOW - 30_000, 'a', 'p2', 1),
      poolSample(NOW - 20_000, 'b', 'p2', 2),
      poolSample(NOW - 10_000, 'a', 'p2', 3),
    ];
    const p = buildHistoryView(read(samples), OPTS).pools[1]!;
    expect(p.takeovers.map((t) => [t.fromInstance, t.toInstance, t.epoch])).toEqual([
      ['a', 'b', 2],
      ['b', 'a', 3],
    ]);
  });

  it('keeps queue sizes per pool in time order and mixes per pool', () => {
    const samples = [
      poolSample(NOW - 20_000, 'a', 'p1', 1, [3, 7]),
      poolSample(NOW - 30_000, 'a', 'p1', 1, [1, 2]),
    ];
    const v = buildHistoryView(
      read(samples, [
        { poolId: 'p1', bucketStartMs: NOW - 60_000, success: 2, fail: 1 },
        { poolId: 'p2', bucketStartMs: NOW - 60_000, success: 1, fail: 0 },
      ]),
      OPTS,
    );
    expect(v.pools[0]!.queues).toEqual([
      { atMs: NOW - 30_000, mustMix: 1, liquidity: 2 },
      { atMs: NOW - 20_000, mustMix: 3, liquidity: 7 },
    ]);
    expect(v.pools[0]!.mixes).toEqual([{ bucketStartMs: NOW - 60_000, success: 2, fail: 1 }]);
    expect(v.pools[1]!.mixes).toEqual([{ bucketStartMs: NOW - 60_000, success: 1, fail: 0 }]);
  });

  it('shows an instance whose heartbeat expired as dead, with its lane ending at its last sample', () => {
    const v = buildHistoryView(
      read([beat(NOW - 20_000, 'b'), beat(NOW - 12_000, 'b'), beat(NOW - 1000, 'a')]),
      {
        ...OPTS,
        registry: [
          { id: 'a', state: 'active', heartbeatAgeMs: 500 },
          { id: 'b', state: 'active', heartbeatAgeMs: 12_000 },
        ],
      },
    );
    expect(v.instances).toEqual([
      { id: 'a', liveness: 'live', lastSeenMs: NOW - 1000, segments: [{ fromMs: NOW - 1000, toMs: NOW }] },
      {
        id: 'b',
        liveness: 'dead',
        lastSeenMs: NOW - 12_000,
        segments: [{ fromMs: NOW - 20_000, toMs: NOW - 12_000 }],
      },
    ]);
  });

  it('lists registry instances without samples too', () => {
    const v = buildHistoryView(read([]), {
      ...OPTS,
      registry: [{ id: 'c', state: 'starting', heartbeatAgeMs: 10 }],
    });
    expect(v.instances).toEqual([{ id: 'c', liveness: 'live', lastSeenMs: null, segments: [] }]);
  });
});

describe('instanceLiveness', () => {
  it('follows the registry while the heartbeat is fresh', () => {
    expect(instanceLiveness({ id: 'x', state: 'active', heartbeatAgeMs: 100 }, null, 4000)).toBe('live');
    expect(instanceLiveness({ id: 'x', state: 'draining', heartbeatAgeMs: 100 }, null, 4000)).toBe(
      'draining',
    );
    expect(instanceLiveness({ id: 'x', state: 'stopped', heartbeatAgeMs: 100 }, null, 4000)).toBe('stopped');
  });
  it('is dead past the TTL unless the instance stopped cleanly', () => {
    expect(instanceLiveness({ id: 'x', state: 'active', heartbeatAgeMs: 4001 }, null, 4000)).toBe('dead');
    expect(instanceLiveness({ id: 'x', state: 'stopped', heartbeatAgeMs: 9000 }, null, 4000)).toBe('stopped');
    expect(instanceLiveness(undefined, 'active', 4000)).toBe('dead');
    expect(instanceLiveness(undefined, 'stopped', 4000)).toBe('stopped');
  });
});

describe('viewStart', () => {
  it('starts at the window when the history is older than it', () => {
    expect(viewStart(read([beat(NOW - 10 * 3600_000, 'a')]), NOW, 3600_000)).toBe(NOW - 3600_000);
  });
  it('zooms onto young history, never below the minimum span', () => {
    expect(viewStart(read([beat(NOW - 10_000, 'a')]), NOW, 3600_000)).toBe(NOW - MIN_VIEW_SPAN_MS);
    expect(viewStart(read([beat(NOW - 200_000, 'a')]), NOW, 3600_000)).toBe(NOW - 210_000);
  });
});
