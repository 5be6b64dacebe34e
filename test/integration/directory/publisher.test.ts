import { Hono } from 'hono';
import type { Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadDirectoryPrivateKey,
  publishDirectoryRecord,
  startDirectoryPublisher,
} from '#coordinator/directory/directory_publisher.ts';
import { createCoordinatorInstancesApp } from '#coordinator/directory/instances_route.ts';
import { DirectoryResponseSchema } from '#shared/directory/response.ts';
import { verifyDirectoryRecord } from '#shared/directory/signing.ts';
import { createDirectoryFixture, type DirectoryFixture } from '#test/support/directory_fixture.ts';

/** The coordinator side of the directory on real MariaDB: publisher and GET /instances. */
describe('directory publisher and coordinator GET /instances', () => {
  let fx: DirectoryFixture;

  beforeAll(async () => {
    fx = await createDirectoryFixture('dir_publisher');
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  async function storedRecord(id: string) {
    const [rows] = await fx.pool.query(
      'SELECT record, signature, TIMESTAMPDIFF(MICROSECOND, NOW(3), expires_at) / 1000 AS ttl_ms FROM directory_record WHERE instance_id = ?',
      [id],
    );
    return (rows as Array<{ record: string; signature: string; ttl_ms: string }>)[0] ?? null;
  }

  it('publishes the pools whose lease this instance holds and that are still valid, signed', async () => {
    await fx.registerInstance({ id: 'c1', urlClear: 'https://c1.example.org', urlOnion: null });
    await fx.registerInstance({ id: 'c2', urlClear: 'https://c2.example.org' });
    await fx.setLease('0.01btc', 'c1', 5);
    await fx.setLease('0.05btc', 'c1', 2, -1); // expired lease: not ours any more
    await fx.setLease('0.5btc', 'c2', 9);
    await fx.setLease('0.001btc', null, 3, -1); // free pool
    const res = await publishDirectoryRecord({
      db: fx.pool,
      instanceId: 'c1',
      privateKey: fx.privateKey,
      ttlMs: 30_000,
    });
    expect(res.action).toBe('published');
    const row = await storedRecord('c1');
    expect(row).not.toBeNull();
    const record = verifyDirectoryRecord(row!, fx.publicKey, Date.now());
    expect(record).toMatchObject({
      instanceId: 'c1',
      urlClear: 'https://c1.example.org',
      urlOnion: null,
      state: 'active',
      pools: [{ poolId: '0.01btc', epoch: 5 }],
    });
    expect(record.expiresAt - record.issuedAt).toBe(30_000);
    expect(Math.abs(record.issuedAt - Date.now())).toBeLessThan(5_000); // DB clock, same host here
    expect(Number(row!.ttl_ms)).toBeGreaterThan(25_000);
  });

  it('skips a starting instance, withdraws a stopped one, publishes draining', async () => {
    await fx.registerInstance({ id: 'c3', urlClear: 'https://c3.example.org', state: 'starting' });
    expect((await fx.publish('c3')).action).toBe('skipped');
    expect(await storedRecord('c3')).toBeNull();
    await fx.registerInstance({ id: 'c3', urlClear: 'https://c3.example.org', state: 'draining' });
    expect((await fx.publish('c3')).action).toBe('published');
    expect(JSON.parse((await storedRecord('c3'))!.record).state).toBe('draining');
    await fx.registerInstance({ id: 'c3', urlClear: 'https://c3.example.org', state: 'stopped' });
    expect((await fx.publish('c3')).action).toBe('withdrawn');
    expect(await storedRecord('c3')).toBeNull();
    expect((await fx.publish('unknown-instance')).action).toBe('skipped');
  });

  it('the periodic publisher follows lease changes, publishNow() is immediate, stop({withdraw}) removes the record', async () => {
    const pub = startDirectoryPublisher({
      db: fx.pool,
      instanceId: 'c2',
      privateKey: fx.privateKey,
      ttlMs: 10_000,
      intervalMs: 200,
    });
    try {
      // the first record is out before the lease changes
      for (let i = 0; i < 300 && (await storedRecord('c2')) === null; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await storedRecord('c2')).not.toBeNull();
      await fx.setLease('0.05btc', 'c2', 3);
      // a condition wait: the 200 ms ticks pick the change up; 30 s only bounds a broken publisher
      const deadline = Date.now() + 30_000;
      let pools: unknown = null;
      while (Date.now() < deadline) {
        const row = await storedRecord('c2');
        pools = row ? JSON.parse(row.record).pools : null;
        if (Array.isArray(pools) && pools.length === 2) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(pools).toEqual([
        { poolId: '0.05btc', epoch: 3 },
        { poolId: '0.5btc', epoch: 9 },
      ]);
      await fx.setLease('0.5btc', null, 9, -1); // released
      const now = await pub.publishNow();
      expect(now.action === 'published' && now.record.pools).toEqual([{ poolId: '0.05btc', epoch: 3 }]);
    } finally {
      await pub.stop({ withdraw: true });
    }
    expect(await storedRecord('c2')).toBeNull();
  });

  it('publishNow() during a running publication publishes again afterwards (the lease change is not lost)', async () => {
    await fx.registerInstance({ id: 'c4', urlClear: 'https://c4.example.org' });
    let gate: Promise<void> | null = null;
    let open!: () => void;
    let reached!: () => void;
    const reachedInsert = new Promise<void>((r) => {
      reached = r;
    });
    const gatedDb = {
      query: (async (sql: string, params?: unknown[]) => {
        if (gate && /INSERT INTO directory_record/.test(sql)) {
          reached();
          await gate;
        }
        return fx.pool.query(sql, params);
      }) as unknown as Pool['query'],
    };
    const pub = startDirectoryPublisher({
      db: gatedDb,
      instanceId: 'c4',
      privateKey: fx.privateKey,
      ttlMs: 60_000,
      intervalMs: 50_000,
    });
    try {
      // the start's publication (no pools) is over: publishNow() waits for it (and one more)
      await pub.publishNow();
      gate = new Promise<void>((r) => {
        open = r;
      });
      const running = pub.publishNow(); // reads the leases (none yet), then waits at its INSERT
      await reachedInsert;
      await fx.setLease('0.25btc', 'c4', 1);
      const again = pub.publishNow(); // lease changed while the first one runs
      const again2 = pub.publishNow();
      expect(again2).toBe(again);
      open();
      const first = await running;
      expect(first.action === 'published' && first.record.pools).toEqual([]);
      const res = await again;
      expect(res.action === 'published' && res.record.pools).toEqual([{ poolId: '0.25btc', epoch: 1 }]);
      expect(JSON.parse((await storedRecord('c4'))!.record).pools).toEqual([{ poolId: '0.25btc', epoch: 1 }]);
    } finally {
      await pub.stop({ withdraw: true });
    }
  });

  it('GET /instances mounted on a coordinator app serves the same signed records', async () => {
    await fx.publish('c1');
    const app = new Hono();
    app.get('/rest/pools', (c) => c.json({ pools: [] }));
    app.route('/', createCoordinatorInstancesApp(fx.pool).app);
    const res = await app.request('/instances');
    expect(res.status).toBe(200);
    const body = DirectoryResponseSchema.parse(await res.json());
    expect(body.records.map((r) => verifyDirectoryRecord(r, fx.publicKey, Date.now()).instanceId)).toEqual([
      'c1',
    ]);
    expect(body.pools).toEqual({ '0.01btc': { instanceId: 'c1', epoch: 5 } });
    const again = await app.request('/instances', { headers: { 'If-None-Match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect((await app.request('/rest/pools')).status).toBe(200);
  });

  it('loads the directory key from the environment or a file, and refuses bad values without echoing them', async () => {
    const hex = 'ab'.repeat(32);
    expect(loadDirectoryPrivateKey({})).toBeNull();
    expect(loadDirectoryPrivateKey({ WHIRLPOOL_DIRECTORY_PRIVATE_KEY: hex })).toHaveLength(32);
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/wpt-dirkey-');
    await writeFile(`${dir}/key`, `${hex}\n`);
    expect(loadDirectoryPrivateKey({ WHIRLPOOL_DIRECTORY_PRIVATE_KEY_FILE: `${dir}/key` })).toEqual(
      loadDirectoryPrivateKey({ WHIRLPOOL_DIRECTORY_PRIVATE_KEY: hex }),
    );
    expect(() => loadDirectoryPrivateKey({ WHIRLPOOL_DIRECTORY_PRIVATE_KEY: 'secretsecret' })).toThrow(
      /must be 64 hex characters/,
    );
    expect(() => loadDirectoryPrivateKey({ WHIRLPOOL_DIRECTORY_PRIVATE_KEY: 'secretsecret' })).not.toThrow(
      /secretsecret/,
    );
    expect(() =>
      loadDirectoryPrivateKey({
        WHIRLPOOL_DIRECTORY_PRIVATE_KEY: hex,
        WHIRLPOOL_DIRECTORY_PRIVATE_KEY_FILE: 'x',
      }),
    ).toThrow(/only one/);
    expect(() => loadDirectoryPrivateKey({ WHIRLPOOL_DIRECTORY_PRIVATE_KEY_FILE: `${dir}/missing` })).toThrow(
      /Cannot read/,
    );
  });
});
