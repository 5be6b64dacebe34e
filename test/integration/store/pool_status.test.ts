/**
 * `pool_status` on the real MariaDB: the serving instance's publications are
 * read back by any instance with the elapsed time advanced on the DB clock,
 * stale rows are ignored, a publisher that lost the pool's lease cannot
 * overwrite its successor, the must-mix and liquidity queue sizes round-trip
 * (and read as unknown after an older release's upsert, migration 003), and
 * the live source merges local and shared data.
 */
import type { Pool } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '#coordinator/log.ts';
import type { PoolSnapshot } from '#coordinator/mix/mix_engine.ts';
import { combineLiveSources } from '#coordinator/rest/pools_route.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import {
  dbLiveSource,
  PoolStatusStore,
  startPoolStatusPublisher,
} from '#coordinator/store/pool_status_store.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';

function snapshot(poolId: string, over: Partial<PoolSnapshot> = {}): PoolSnapshot {
  return {
    poolId,
    denomination: 1_000_000,
    feeValue: 50_000,
    mustMixBalanceMin: 1_000_102,
    mustMixBalanceCap: 1_009_500,
    mustMixBalanceMax: 1_010_000,
    minAnonymitySet: 5,
    minMustMix: 1,
    mixAnonymitySet: 5,
    mixId: 'a'.repeat(32),
    mixStatus: 'CONFIRM_INPUT',
    elapsedTime: 1000,
    nbConfirmed: 2,
    nbRegistered: 3,
    nbMustMixQueued: 1,
    nbLiquidityQueued: 1,
    nbConfirming: 1,
    nbConfirmedMustMix: 1,
    nbConfirmedLiquidity: 1,
    minerFeeAccumulated: 300,
    served: true,
    ...over,
  } as PoolSnapshot;
}

async function waitFor(pred: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('PoolStatusStore', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PoolStatusStore;

  async function lease(poolId: string, owner: string, ttlMs: number): Promise<void> {
    await pool.query(
      `INSERT INTO pool_lease (pool_id, owner, epoch, lease_until) VALUES (?, ?, 1, NOW(3) + INTERVAL ? MICROSECOND)
       ON DUPLICATE KEY UPDATE owner = VALUES(owner), epoch = epoch + 1, lease_until = VALUES(lease_until)`,
      [poolId, owner, ttlMs * 1000],
    );
  }

  beforeAll(async () => {
    db = await createTestDatabase('pool status');
    await runMigrations(db.url);
    pool = createDbPool(db.url);
    store = new PoolStatusStore(pool);
    await pool.query(`CREATE TABLE IF NOT EXISTS pool_lease (pool_id VARCHAR(64) PRIMARY KEY, owner VARCHAR(64) NULL,
      epoch BIGINT NOT NULL DEFAULT 0, lease_until DATETIME(3) NULL)`);
  });
  beforeEach(async () => {
    await pool.query('DELETE FROM pool_status');
    await pool.query('DELETE FROM pool_lease');
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('publishes served pools held by the instance and reads them back with elapsed time advanced', async () => {
    await lease('p1', 'inst-a', 60_000);
    const written = await store.publish('inst-a', [
      snapshot('p1', { mixStatus: 'REGISTER_OUTPUT', elapsedTime: 5000, nbConfirmed: 5, nbRegistered: 0 }),
      snapshot('p2'), // no lease held
      snapshot('p3', { served: false }),
    ]);
    expect(written).toEqual(['p1']);
    await new Promise((r) => setTimeout(r, 300));
    const read = await store.read(10_000);
    expect([...read.keys()]).toEqual(['p1']);
    const p1 = read.get('p1')!;
    expect(p1).toMatchObject({
      instanceId: 'inst-a',
      mixStatus: 'REGISTER_OUTPUT',
      nbConfirmed: 5,
      nbRegistered: 0,
    });
    expect(p1.elapsedTime).toBeGreaterThanOrEqual(5250);
    expect(p1.elapsedTime).toBeLessThan(15_000);
  });

  it('round-trips the must-mix and liquidity queue sizes separately', async () => {
    await lease('p1', 'inst-a', 60_000);
    await store.publish('inst-a', [
      snapshot('p1', { nbConfirming: 2, nbMustMixQueued: 7, nbLiquidityQueued: 4, nbRegistered: 13 }),
    ]);
    expect((await store.read(10_000)).get('p1')).toMatchObject({
      nbRegistered: 13,
      nbMustMixQueued: 7,
      nbLiquidityQueued: 4,
    });
    // the next publication overwrites both
    await store.publish('inst-a', [
      snapshot('p1', { nbConfirming: 0, nbMustMixQueued: 0, nbLiquidityQueued: 9, nbRegistered: 9 }),
    ]);
    expect((await store.read(10_000)).get('p1')).toMatchObject({
      nbRegistered: 9,
      nbMustMixQueued: 0,
      nbLiquidityQueued: 9,
    });
  });

  it("reads the queue sizes as unknown once an older release's publication (002 columns only) lands", async () => {
    // what a release without migration 003 runs (unconditional variant), verbatim
    const oldPublish = (poolId: string, nbRegistered: number) =>
      pool.query(
        `INSERT INTO pool_status (pool_id, instance_id, mix_id, mix_status, elapsed_ms, nb_confirmed, nb_registered, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, NOW(3)) ON DUPLICATE KEY UPDATE instance_id = VALUES(instance_id), mix_id = VALUES(mix_id),
         mix_status = VALUES(mix_status), elapsed_ms = VALUES(elapsed_ms), nb_confirmed = VALUES(nb_confirmed),
         nb_registered = VALUES(nb_registered), updated_at = VALUES(updated_at)`,
        [poolId, 'inst-old', 'c'.repeat(32), 'CONFIRM_INPUT', 0, 0, nbRegistered],
      );
    await store.publish(null, [
      snapshot('p1', { nbMustMixQueued: 5, nbLiquidityQueued: 3, nbRegistered: 8 }),
    ]);
    await new Promise((r) => setTimeout(r, 20)); // a later NOW(3)
    await oldPublish('p1', 2); // an older owner took over: its upsert leaves the 003 columns as they were
    await oldPublish('p2', 4); // a row only an older release ever wrote
    const read = await store.read(10_000);
    expect(read.get('p1')).toMatchObject({
      instanceId: 'inst-old',
      nbRegistered: 2,
      nbMustMixQueued: null,
      nbLiquidityQueued: null,
    });
    expect(read.get('p2')).toMatchObject({ nbRegistered: 4, nbMustMixQueued: null, nbLiquidityQueued: null });
    // this release publishing again makes them known again
    await store.publish(null, [
      snapshot('p1', { nbMustMixQueued: 1, nbLiquidityQueued: 6, nbRegistered: 7 }),
    ]);
    expect((await store.read(10_000)).get('p1')).toMatchObject({ nbMustMixQueued: 1, nbLiquidityQueued: 6 });
  });

  it('ignores stale rows', async () => {
    await store.publish(null, [snapshot('p1')]);
    expect((await store.read(10_000)).has('p1')).toBe(true);
    await pool.query('UPDATE pool_status SET updated_at = NOW(3) - INTERVAL 11 SECOND');
    expect((await store.read(10_000)).has('p1')).toBe(false);
  });

  it('refuses writes from an instance that lost the lease', async () => {
    await lease('p1', 'inst-a', 60_000);
    await store.publish('inst-a', [snapshot('p1', { mixStatus: 'SIGNING' })]);
    await lease('p1', 'inst-b', 60_000);
    await store.publish('inst-b', [snapshot('p1', { mixStatus: 'CONFIRM_INPUT', mixId: 'b'.repeat(32) })]);
    expect(await store.publish('inst-a', [snapshot('p1', { mixStatus: 'SUCCESS' })])).toEqual([]);
    expect((await store.read(10_000)).get('p1')).toMatchObject({
      instanceId: 'inst-b',
      mixStatus: 'CONFIRM_INPUT',
    });
    await lease('p1', 'inst-b', -1); // expired
    expect(await store.publish('inst-b', [snapshot('p1')])).toEqual([]);
  });

  it('feeds /rest/pools: local data first, then the shared table', async () => {
    await store.publish(null, [
      snapshot('p1', { mixStatus: 'SIGNING' }),
      snapshot('p2', { mixStatus: 'REVEAL_OUTPUT' }),
    ]);
    const local = {
      livePools: () =>
        new Map([['p1', { mixStatus: 'SUCCESS' as const, elapsedTime: 1, nbConfirmed: 5, nbRegistered: 0 }]]),
    };
    const merged = await combineLiveSources(local, dbLiveSource(store)).livePools();
    expect(merged.get('p1')!.mixStatus).toBe('SUCCESS');
    expect(merged.get('p2')!.mixStatus).toBe('REVEAL_OUTPUT');
  });

  it('the publisher loop publishes periodically and withdraws on stop', async () => {
    let status: PoolSnapshot['mixStatus'] = 'CONFIRM_INPUT';
    const publisher = startPoolStatusPublisher({
      store,
      engine: { snapshot: () => [snapshot('p1', { mixStatus: status })] },
      who: null,
      intervalMs: 100,
      logger: silentLogger(),
    });
    try {
      await waitFor(async () => (await store.read(10_000)).get('p1')?.mixStatus === 'CONFIRM_INPUT');
      status = 'SIGNING';
      await waitFor(async () => (await store.read(10_000)).get('p1')?.mixStatus === 'SIGNING');
    } finally {
      await publisher.stop();
    }
    expect((await store.read(10_000)).size).toBe(0);
  });
});
