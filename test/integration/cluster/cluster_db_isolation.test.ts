/**
 * The cluster's database work (lease renewals, heartbeat, assignment poll)
 * has its own connection pool: with every connection of the application pool
 * busy for longer than the lease TTL (a registration flood waiting on MySQL,
 * here two `SELECT SLEEP(7)` on a pool of 2), an instance keeps renewing its
 * leases and keeps serving its pools at the same epoch, instead of stepping
 * down when its renewals queue behind the flood.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '#coordinator/config/load_config.ts';
import { silentLogger } from '#coordinator/log.ts';
import { type CoordinatorHandle, startCoordinator } from '#coordinator/start_coordinator.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { connectTestDb, createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { pollFor } from '#test/support/poll.ts';

const TTL = 4000;

describe('cluster database pool isolation', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let coordinator: CoordinatorHandle;

  async function leases(): Promise<Array<{ pool_id: string; owner: string; epoch: number; live: number }>> {
    const conn = await connectTestDb(db.url);
    try {
      const [rows] = await conn.query<RowDataPacket[]>(
        'SELECT pool_id, owner, epoch, lease_until > NOW(3) AS live FROM pool_lease ORDER BY pool_id',
      );
      return rows.map((r) => ({
        pool_id: r.pool_id,
        owner: r.owner,
        epoch: Number(r.epoch),
        live: Number(r.live),
      }));
    } finally {
      await conn.end();
    }
  }

  beforeAll(async () => {
    [db, btcd] = await Promise.all([
      createTestDatabase('cluster db isolation'),
      startBtcd({ matureBlocks: 1 }),
    ]);
    const env = {
      ...baseCoordinatorEnv({ dbUrl: db.url, rpcUrl: btcd.rpcUrl }),
      WHIRLPOOL_PORT: '0',
      WHIRLPOOL_INSTANCE_ID: 'iso-a',
      WHIRLPOOL_METRICS: 'false',
      WHIRLPOOL_DB_CONNECTION_LIMIT: '2',
      WHIRLPOOL_LEASE_TTL_MS: String(TTL),
    };
    coordinator = await startCoordinator(loadConfig(env), { logger: silentLogger(), env });
  });
  afterAll(async () => {
    await coordinator?.stop('immediate');
    await btcd?.stop();
    await db?.drop();
  });

  it('keeps its leases while every application connection is busy for longer than the TTL', async () => {
    const pools = await pollFor(
      'the instance serves every pool',
      async () => (coordinator.engine.servedPools().length === 2 ? coordinator.engine.servedPools() : null),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const before = await leases();
    expect(before.map((l) => l.owner)).toEqual(['iso-a', 'iso-a']);

    // Both connections of the application pool busy for 7 s (> TTL).
    const flood = Promise.all([
      coordinator.db.query('SELECT SLEEP(7)'),
      coordinator.db.query('SELECT SLEEP(7)'),
    ]);
    await new Promise((r) => setTimeout(r, TTL + 2000));
    expect(coordinator.engine.servedPools().sort()).toEqual([...pools].sort());
    const during = await leases();
    expect(during).toEqual(before.map((l) => ({ ...l, live: 1 })));
    await flood;
    expect(coordinator.engine.servedPools().sort()).toEqual([...pools].sort());
    expect((await leases()).map((l) => l.epoch)).toEqual(before.map((l) => l.epoch));
  });
});
