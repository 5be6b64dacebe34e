/**
 * The lease table and the instance registry on the real MariaDB: acquire,
 * renew, release and the epoch bump, expiry on the DB clock, concurrent
 * acquisitions (exactly one winner per round, over many rounds), the registry's
 * liveness window, and the store's fenced writes refused after a takeover.
 */
import type { Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceRegistry } from '#coordinator/cluster/instance_registry.ts';
import { LeaseStore } from '#coordinator/cluster/lease_store.ts';
import { MixInputsHashStore } from '#coordinator/cluster/mix_inputs_hash_store.ts';
import { FencedOutError } from '#coordinator/store/errors.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { createTestDatabase, createTestPool, runSqlFiles, type TestDatabase } from '#test/support/db.ts';

const MIGRATIONS = [
  'coordinator/store/migrations/001_core.sql',
  'coordinator/store/migrations/010_cluster.sql',
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: TestDatabase;
let pool: Pool;
let pools2: Pool[];

beforeAll(async () => {
  db = await createTestDatabase('cluster_lease_store');
  await runSqlFiles(db.url, MIGRATIONS);
  pool = createTestPool(db.url);
  pools2 = [createTestPool(db.url, { connectionLimit: 4 }), createTestPool(db.url, { connectionLimit: 4 })];
});

afterAll(async () => {
  await pool?.end();
  for (const p of pools2 ?? []) await p.end();
  await db?.drop();
});

describe('LeaseStore', () => {
  it('creates free rows once and never resets an existing row', async () => {
    const s = new LeaseStore(pool);
    await s.ensurePools(['a1', 'a2']);
    const f = await s.acquire('a1', 'i1', 5000);
    expect(f?.epoch).toBe(1);
    await s.ensurePools(['a1', 'a2']);
    const row = await s.get('a1');
    expect(row).toMatchObject({ owner: 'i1', epoch: 1, held: true });
    expect((await s.get('a2'))?.held).toBe(false);
  });

  it('acquires a free lease with epoch + 1, refuses others while held, renews without bumping, releases', async () => {
    const s = new LeaseStore(pool);
    await s.ensurePools(['b1']);
    const f1 = await s.acquire('b1', 'i1', 5000);
    expect(f1).toEqual({ poolId: 'b1', instanceId: 'i1', epoch: 1 });
    expect(await s.acquire('b1', 'i2', 5000)).toBeNull();
    expect(await s.renew(f1!, 5000)).toBe(true);
    expect((await s.get('b1'))?.epoch).toBe(1);
    expect(await s.isCurrent(f1!)).toBe(true);
    // Re-acquiring our own lease is an acquisition: new epoch, the old fence is dead.
    const f2 = await s.acquire('b1', 'i1', 5000);
    expect(f2?.epoch).toBe(2);
    expect(await s.renew(f1!, 5000)).toBe(false);
    expect(await s.release(f1!)).toBe(false);
    expect(await s.release(f2!)).toBe(true);
    expect(await s.get('b1')).toMatchObject({ owner: null, held: false, epoch: 2 });
    const f3 = await s.acquire('b1', 'i2', 5000);
    expect(f3?.epoch).toBe(3);
  });

  it('lets a lease expire on the DB clock: no renewal after expiry, another instance acquires with a new epoch', async () => {
    const s = new LeaseStore(pool);
    await s.ensurePools(['c1']);
    const f1 = await s.acquire('c1', 'i1', 300);
    expect(f1).not.toBeNull();
    expect(await s.acquire('c1', 'i2', 300)).toBeNull();
    await sleep(400);
    const row = await s.get('c1');
    expect(row?.held).toBe(false);
    expect(row?.freeForMs).toBeGreaterThan(50);
    expect(await s.renew(f1!, 300)).toBe(false);
    const f2 = await s.acquire('c1', 'i2', 300);
    expect(f2?.epoch).toBe(f1!.epoch + 1);
    expect(await s.isCurrent(f1!)).toBe(false);
  });

  it('gives exactly one winner to concurrent acquisitions, over many rounds', async () => {
    const stores = [new LeaseStore(pools2[0]!), new LeaseStore(pools2[1]!), new LeaseStore(pool)];
    await stores[0]!.ensurePools(['d1']);
    let lastEpoch = 0;
    for (let round = 0; round < 60; round++) {
      const results = await Promise.all(
        stores.flatMap((s, i) => [s.acquire('d1', `i${i}`, 60_000), s.acquire('d1', `i${i}`, 60_000)]),
      );
      const winners = results.filter((r) => r !== null);
      // The same instance may win twice (acquire also succeeds on "ours"), never two instances.
      expect(new Set(winners.map((w) => w!.instanceId)).size).toBe(1);
      const epochs = winners.map((w) => w!.epoch);
      expect(Math.min(...epochs)).toBeGreaterThan(lastEpoch);
      const top = winners.find((w) => w!.epoch === Math.max(...epochs))!;
      lastEpoch = top.epoch;
      expect(await stores[0]!.release(top)).toBe(true);
    }
  });
});

describe('InstanceRegistry', () => {
  it('registers, heartbeats on the DB clock, lists only live non-stopped instances, records state', async () => {
    const r = new InstanceRegistry(pool);
    await r.register({ id: 'live-1', urlClear: 'http://a:8080', urlOnion: null, version: '0.1.0' });
    await r.register(
      { id: 'live-2', urlClear: 'http://b:8080', urlOnion: 'http://b.onion', version: '0.1.0' },
      'active',
    );
    await r.register({ id: 'gone-1', urlClear: null, urlOnion: null, version: '0.1.0' }, 'active');
    await pool.query("UPDATE instance SET heartbeat_at = NOW(3) - INTERVAL 10 SECOND WHERE id = 'gone-1'");
    let live = await r.listLive(4000);
    expect(live.map((i) => i.id)).toEqual(['live-1', 'live-2']);
    expect(live[1]).toMatchObject({ urlOnion: 'http://b.onion', state: 'active' });
    expect(live[0]!.ageMs).toBeLessThan(2000);
    expect(await r.heartbeat('live-1', 'active')).toBe(true);
    expect(await r.setState('live-2', 'stopped')).toBe(true);
    live = await r.listLive(4000);
    expect(live.map((i) => [i.id, i.state])).toEqual([['live-1', 'active']]);
    expect(await r.heartbeat('nobody')).toBe(false);
    expect(await r.pruneDead(5000)).toBe(1);
    expect((await r.listAll()).map((i) => i.id)).toEqual(['live-1', 'live-2']);
  });
});

describe('fenced writes (MySqlMixStore) after a takeover', () => {
  it('refuses the old owner and accepts the new one', async () => {
    const s = new LeaseStore(pool);
    const store = new MySqlMixStore(pool);
    await s.ensurePools(['e1']);
    const fA = await s.acquire('e1', 'A', 300);
    await store.saveOutput('bcrt1qfenceda0000000000000000000000000000000', fA);
    await sleep(400);
    const fB = await s.acquire('e1', 'B', 5000);
    expect(fB?.epoch).toBe(fA!.epoch + 1);
    await expect(store.saveOutput('bcrt1qfenceda1111111111111111111111111111111', fA)).rejects.toBeInstanceOf(
      FencedOutError,
    );
    expect(await store.isOutputUsed('bcrt1qfenceda1111111111111111111111111111111')).toBe(false);
    await store.saveOutput('bcrt1qfencedb2222222222222222222222222222222', fB);
    expect(await store.isOutputUsed('bcrt1qfencedb2222222222222222222222222222222')).toBe(true);
    // Released by B: nobody may write for the pool under B's fence any more.
    await s.release(fB!);
    await expect(store.saveOutput('bcrt1qfencedb3333333333333333333333333333333', fB)).rejects.toBeInstanceOf(
      FencedOutError,
    );
  });
});

describe('MixInputsHashStore', () => {
  it('records an inputsHash under a current fence only, finds it with the holder URLs, forgets it on expiry', async () => {
    const leases = new LeaseStore(pool);
    const registry = new InstanceRegistry(pool);
    const hashes = new MixInputsHashStore(pool);
    await registry.register({
      id: 'holder',
      urlClear: 'http://holder:8080',
      urlOnion: 'http://h.onion',
      version: 't',
    });
    await leases.ensurePools(['h1']);
    const f1 = await leases.acquire('h1', 'holder', 5000);
    expect(await hashes.record('ih-1', 'mix-1', f1!, 60_000)).toBe(true);
    expect(await hashes.find('ih-1')).toEqual({
      inputsHash: 'ih-1',
      poolId: 'h1',
      mixId: 'mix-1',
      instanceId: 'holder',
      epoch: f1!.epoch,
      urlClear: 'http://holder:8080',
      urlOnion: 'http://h.onion',
    });
    const f2 = await leases.acquire('h1', 'holder', 5000);
    expect(await hashes.record('ih-2', 'mix-2', f1!, 60_000)).toBe(false);
    expect(await hashes.find('ih-2')).toBeNull();
    expect(await hashes.record('ih-3', 'mix-3', f2!, 200)).toBe(true);
    await sleep(300);
    expect(await hashes.find('ih-3')).toBeNull();
    expect(await hashes.pruneExpired()).toBeGreaterThanOrEqual(1);
    expect(await hashes.find('unknown')).toBeNull();
  });
});
