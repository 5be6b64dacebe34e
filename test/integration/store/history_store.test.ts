/**
 * `history_sample` (migration 060) and the dashboard's history on the real
 * MariaDB: samples of two instances read back in database-clock order with
 * their epochs and queue sizes, mixes counted per pool and time bucket from
 * the `mix` table, the window bounds the read, pruning deletes only rows
 * older than the retention, and the recorder writes at once on a serve
 * change and keeps going after a failed write.
 */
import type { Pool } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHistoryRecorder } from '#coordinator/dashboard/history_recorder.ts';
import { buildHistoryView } from '#coordinator/dashboard/history_view.ts';
import { silentLogger } from '#coordinator/log.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { HistoryStore } from '#coordinator/store/history_store.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { pollFor } from '#test/support/poll.ts';

async function insertMix(
  pool: Pool,
  poolId: string,
  status: 'SUCCESS' | 'FAIL',
  agoS: number,
): Promise<void> {
  await pool.query(
    `INSERT INTO mix (created, pool_id, mix_id, denomination, anonymity_set, nb_must_mix, nb_liquidities,
       amount_in, amount_out, mix_duration, mix_status)
     VALUES (NOW(3) - INTERVAL ? SECOND, ?, ?, 1000000, 5, 2, 3, 5000000, 4999000, 60, ?)`,
    [agoS, poolId, Math.random().toString(16).slice(2).padEnd(32, '0'), status],
  );
}

describe('HistoryStore', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: HistoryStore;

  beforeAll(async () => {
    db = await createTestDatabase('history');
    await runMigrations(db.url);
    pool = createDbPool(db.url);
    store = new HistoryStore(pool);
  });
  beforeEach(async () => {
    await pool.query('DELETE FROM history_sample');
    await pool.query('DELETE FROM mix');
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('reads back what two instances recorded, in order, with the database clock', async () => {
    await store.record('b', 'active', [
      {
        poolId: 'p1',
        epoch: 4,
        mixStatus: 'CONFIRM_INPUT',
        nbMustMixQueued: 2,
        nbLiquidityQueued: 5,
        nbConfirmed: 1,
      },
    ]);
    await store.record('a', 'active', [
      {
        poolId: 'p1',
        epoch: 5,
        mixStatus: 'REGISTER_OUTPUT',
        nbMustMixQueued: 0,
        nbLiquidityQueued: 3,
        nbConfirmed: 5,
      },
      {
        poolId: 'p2',
        epoch: 1,
        mixStatus: 'CONFIRM_INPUT',
        nbMustMixQueued: 1,
        nbLiquidityQueued: 0,
        nbConfirmed: 0,
      },
    ]);
    const read = await store.read(3600_000, 60_000);
    expect(
      read.samples.map((s) => [s.instanceId, s.poolId, s.epoch, s.nbMustMixQueued, s.nbLiquidityQueued]),
    ).toEqual([
      ['b', null, null, null, null],
      ['b', 'p1', 4, 2, 5],
      ['a', null, null, null, null],
      ['a', 'p1', 5, 0, 3],
      ['a', 'p2', 1, 1, 0],
    ]);
    for (const s of read.samples) {
      expect(s.atMs).toBeLessThanOrEqual(read.nowMs);
      expect(read.nowMs - s.atMs).toBeLessThan(60_000);
    }
    const view = buildHistoryView(read, {
      poolIds: ['p1', 'p2'],
      registry: [],
      windowMs: 3600_000,
      bucketMs: 60_000,
      gapMs: 25_000,
      deadAfterMs: 4000,
    });
    expect(view.pools[0]!.takeovers).toEqual([
      expect.objectContaining({ epoch: 5, fromInstance: 'b', toInstance: 'a' }),
    ]);
  });

  it('counts mixes per pool and bucket inside the window only', async () => {
    await insertMix(pool, 'p1', 'SUCCESS', 10);
    await insertMix(pool, 'p1', 'SUCCESS', 20);
    await insertMix(pool, 'p1', 'FAIL', 30);
    await insertMix(pool, 'p2', 'SUCCESS', 15);
    await insertMix(pool, 'p1', 'SUCCESS', 7200); // outside a 1 h window
    const read = await store.read(3600_000, 3600_000);
    const total = (poolId: string, k: 'success' | 'fail') =>
      read.mixes.filter((m) => m.poolId === poolId).reduce((a, m) => a + m[k], 0);
    expect([
      total('p1', 'success'),
      total('p1', 'fail'),
      total('p2', 'success'),
      total('p2', 'fail'),
    ]).toEqual([2, 1, 1, 0]);
    for (const m of read.mixes) expect(m.bucketStartMs % 3600_000).toBe(0);
  });

  it('prunes only rows older than the retention', async () => {
    await store.record('a', 'active', []);
    await pool.query(
      "INSERT INTO history_sample (at, instance_id, instance_state) VALUES (NOW(3) - INTERVAL 3 HOUR, 'old', 'active')",
    );
    expect(await store.prune(2 * 3600_000)).toBe(1);
    const [rows] = await pool.query('SELECT instance_id FROM history_sample');
    expect((rows as Array<{ instance_id: string }>).map((r) => r.instance_id)).toEqual(['a']);
  });

  it('the recorder samples at once on a serve change and recovers after a failed write', async () => {
    let fail = true;
    let listener: (() => void) | null = null;
    const served = [
      { poolId: 'p1', epoch: 7, mixStatus: null, nbMustMixQueued: 1, nbLiquidityQueued: 2, nbConfirmed: 0 },
    ];
    const recorder = startHistoryRecorder({
      store: {
        record: (id, state, pools) =>
          fail ? Promise.reject(new Error('db down')) : store.record(id, state, pools),
        prune: (ms) => store.prune(ms),
      },
      instanceId: 'rec',
      state: () => 'active',
      served: () => served,
      onServeChange: (l) => {
        listener = l;
        return () => {
          listener = null;
        };
      },
      sampleMs: 3600_000, // no timer tick during the test: only the start and serve changes sample
      retentionMs: 3600_000,
      logger: silentLogger(),
    });
    try {
      await recorder.sampleNow(); // the first sample failed
      fail = false;
      listener!();
      const rows = await pollFor(
        'the serve-change sample',
        async () => {
          const r = (await store.read(3600_000, 60_000)).samples.filter((s) => s.instanceId === 'rec');
          return r.length >= 2 ? r : null;
        },
        { timeoutMs: 5000, intervalMs: 50 },
      );
      expect(rows.map((r) => [r.poolId, r.epoch])).toEqual([
        [null, null],
        ['p1', 7],
      ]);
    } finally {
      recorder.stop();
    }
    expect(listener).toBeNull();
  });
});
