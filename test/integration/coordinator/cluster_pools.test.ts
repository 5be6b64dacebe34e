/**
 * `/rest/pools` in a cluster: two instances (in-process `startCoordinator`)
 * on one MariaDB and one btcd split the two regtest pools; each instance
 * answers for both pools, with live fields for the pool it does not serve
 * taken from what the owner published in `pool_status`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '#coordinator/config/load_config.ts';
import { silentLogger } from '#coordinator/log.ts';
import { type CoordinatorHandle, startCoordinator } from '#coordinator/start_coordinator.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { PoolsResponseSchema } from '#shared/protocol/messages.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { pollFor } from '#test/support/poll.ts';

async function until<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  return pollFor(what, fn, { timeoutMs, intervalMs: 300 });
}

describe('GET /rest/pools across a cluster', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  const instances: CoordinatorHandle[] = [];

  beforeAll(async () => {
    [db, btcd] = await Promise.all([createTestDatabase('cluster pools'), startBtcd({ matureBlocks: 1 })]);
    for (const id of ['cp-a', 'cp-b']) {
      const env = {
        ...baseCoordinatorEnv({ dbUrl: db.url, rpcUrl: btcd.rpcUrl }),
        WHIRLPOOL_PORT: '0',
        WHIRLPOOL_TX0_DELAY_MS: '0',
        WHIRLPOOL_INSTANCE_ID: id,
        WHIRLPOOL_METRICS: 'false',
      };
      instances.push(await startCoordinator(loadConfig(env), { logger: silentLogger(), env }));
    }
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop('immediate')));
    await btcd?.stop();
    await db?.drop();
  });

  it('each instance answers for every pool, with the owner’s live data for pools it does not serve', async () => {
    const [a, b] = instances as [CoordinatorHandle, CoordinatorHandle];
    await until('the pools split one per instance', async () =>
      a.engine.servedPools().length === 1 && b.engine.servedPools().length === 1 ? true : null,
    );
    for (const self of [a, b]) {
      const served = self.engine.servedPools()[0]!;
      const body = await until('live data of the other pool', async () => {
        const res = await fetch(`http://127.0.0.1:${self.port}/rest/pools`);
        const pools = PoolsResponseSchema.parse(await res.json()).pools;
        const other = pools.find((p) => p.poolId !== served);
        return other && other.elapsedTime > 0 ? pools : null;
      });
      expect(body.map((p) => p.poolId)).toEqual(['0.01btc', '0.001btc']);
      for (const p of body) expect(p.mixStatus).toBe('CONFIRM_INPUT');
      // the other pool's elapsed time comes from its owner's pool_status row (the idle default would be 0)
      expect(body.find((p) => p.poolId !== served)!.elapsedTime).toBeGreaterThan(0);
    }
  });
});
