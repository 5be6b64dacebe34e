import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { createBootstrapApp, etagMatches } from '#bootstrap/app.ts';
import { parseBootstrapConfig } from '#bootstrap/config.ts';
import { DirectoryCache, type DirectoryReader, type DirectoryRow } from '#bootstrap/directory_cache.ts';
import { signDirectoryRecord } from '#shared/directory/signing.ts';

const key = ed25519.utils.randomSecretKey();
const T0 = 1_800_000_000_000;

function row(id: string, expiresAt: number): DirectoryRow {
  const signed = signDirectoryRecord(
    {
      version: 1,
      instanceId: id,
      urlClear: `https://${id}.example.org`,
      urlOnion: null,
      state: 'active',
      pools: [{ poolId: `pool-${id}`, epoch: 1 }],
      issuedAt: T0 - 1000,
      expiresAt,
    },
    key,
  );
  return { instanceId: id, ...signed };
}

/** In-memory reader with a controllable result, counting calls and holding each query until released. */
function fakeReader(initial: DirectoryRow[]) {
  let rows = initial;
  let fail: Error | null = null;
  let calls = 0;
  let gate: Promise<void> = Promise.resolve();
  const reader: DirectoryReader = {
    async readLive() {
      calls++;
      await gate;
      if (fail) throw fail;
      return rows;
    },
  };
  return {
    reader,
    calls: () => calls,
    set(r: DirectoryRow[]) {
      rows = r;
    },
    failWith(e: Error | null) {
      fail = e;
    },
    hold(): () => void {
      let release!: () => void;
      gate = new Promise((r) => {
        release = r;
      });
      return release;
    },
  };
}

describe('DirectoryCache through the bootstrap app', () => {
  it('coalesces a burst of concurrent misses into one query', async () => {
    const f = fakeReader([row('a', T0 + 60_000)]);
    let now = T0;
    const { app } = createBootstrapApp({ reader: f.reader, now: () => now });
    const release = f.hold();
    const pending = Array.from({ length: 500 }, () => app.request('/instances'));
    release();
    const res = await Promise.all(pending);
    expect(res.every((r) => r.status === 200)).toBe(true);
    expect(f.calls()).toBe(1);
    now += 999;
    await Promise.all(Array.from({ length: 100 }, () => app.request('/instances')));
    expect(f.calls()).toBe(1);
    now += 1;
    await Promise.all(Array.from({ length: 100 }, () => app.request('/instances')));
    expect(f.calls()).toBe(2);
  });

  it('serves the last good directory while the database fails, retrying at most once per ttl', async () => {
    const f = fakeReader([row('a', T0 + 60_000)]);
    let now = T0;
    const { app, cache } = createBootstrapApp({ reader: f.reader, now: () => now });
    const first = await app.request('/instances');
    const body = await first.text();
    f.failWith(new Error('connection refused'));
    now += 1000;
    for (let i = 0; i < 50; i++) {
      const r = await app.request('/instances');
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(body);
    }
    expect(f.calls()).toBe(2);
    expect(cache.stats()).toMatchObject({ dbQueries: 2, dbFailures: 1, lastError: 'connection refused' });
    const health = await app.request('/health');
    expect(await health.json()).toMatchObject({ status: 'ok', dbQueries: 2, dbFailures: 1 });
  });

  it('answers 503 when the first query fails, without querying on every request', async () => {
    const f = fakeReader([]);
    f.failWith(new Error('access denied'));
    const now = T0;
    const { app } = createBootstrapApp({ reader: f.reader, now: () => now });
    const res = await Promise.all(Array.from({ length: 20 }, () => app.request('/instances')));
    expect(res.every((r) => r.status === 503)).toBe(true);
    expect(f.calls()).toBe(1);
    expect((await app.request('/health')).status).toBe(503);
  });

  it('gives up on a query that never answers, then queries again after ttl', async () => {
    const f = fakeReader([row('a', T0 + 60_000)]);
    let now = T0;
    const cache = new DirectoryCache(f.reader, { now: () => now, queryTimeoutMs: 50 });
    f.hold(); // never released
    await expect(cache.get()).rejects.toThrow(/Directory unavailable: Directory query timed out after 50 ms/);
    expect(cache.stats()).toMatchObject({ dbQueries: 1, dbFailures: 1 });
    await expect(cache.get()).rejects.toThrow(/unavailable/);
    expect(f.calls()).toBe(1);
    const release = f.hold();
    release();
    now += 1000;
    expect((await cache.get()).records).toBe(1);
    expect(f.calls()).toBe(2);
  });

  it('serves the current entry while a refresh runs (stale while revalidate), or waits with background: false', async () => {
    const f = fakeReader([row('a', T0 + 60_000)]);
    let now = T0;
    const cache = new DirectoryCache(f.reader, { now: () => now });
    const first = await cache.get();
    const release = f.hold(); // the next query hangs until released
    f.set([row('a', T0 + 60_000), row('b', T0 + 60_000)]);
    now += 1500;
    expect(await cache.get()).toBe(first);
    expect(f.calls()).toBe(2);
    expect((await cache.get()).records).toBe(1); // still refreshing: still the current entry, no new query
    const waiting = cache.get({ background: false }); // Workers mode: waits for the shared refresh
    release();
    expect((await waiting).records).toBe(2);
    expect((await cache.get()).records).toBe(2);
    expect(f.calls()).toBe(2);
  });

  it('waits for fresh rows after an idle period, but not while the database is failing', async () => {
    const f = fakeReader([row('a', T0 + 600_000)]);
    let now = T0;
    const cache = new DirectoryCache(f.reader, { now: () => now, maxStaleMs: 5000 });
    await cache.get();
    f.set([row('a', T0 + 600_000), row('b', T0 + 600_000)]);
    now += 60_000; // idle
    expect((await cache.get()).records).toBe(2);
    f.failWith(new Error('down'));
    now += 60_000;
    expect((await cache.get()).records).toBe(2); // waited: the database was healthy, the query failed
    f.hold(); // now hanging as well
    now += 60_000;
    const t = Date.now();
    expect((await cache.get()).records).toBe(2); // database known failing: served at once
    expect(Date.now() - t).toBeLessThan(100);
  });

  it('drops a record at its expiry between two queries, and changes the ETag', async () => {
    const f = fakeReader([row('a', T0 + 500), row('b', T0 + 60_000)]);
    let now = T0;
    const { app } = createBootstrapApp({ reader: f.reader, now: () => now, cacheTtlMs: 10_000 });
    const r1 = await app.request('/instances');
    expect(((await r1.json()) as { records: unknown[] }).records).toHaveLength(2);
    now = T0 + 500;
    const r2 = await app.request('/instances');
    const body2 = (await r2.json()) as { records: unknown[]; pools: Record<string, unknown> };
    expect(body2.records).toHaveLength(1);
    expect(Object.keys(body2.pools)).toEqual(['pool-b']);
    expect(r2.headers.get('etag')).not.toBe(r1.headers.get('etag'));
    expect(f.calls()).toBe(1);
  });

  it('keeps the ETag stable while the rows do not change', async () => {
    const f = fakeReader([row('a', T0 + 60_000)]);
    let now = T0;
    const { app } = createBootstrapApp({ reader: f.reader, now: () => now });
    const e1 = (await app.request('/instances')).headers.get('etag');
    now += 5000;
    const e2 = (await app.request('/instances')).headers.get('etag');
    expect(f.calls()).toBe(2);
    expect(e2).toBe(e1);
    await new Promise((r) => setTimeout(r, 0)); // let the background refresh finish
    f.set([row('a', T0 + 70_000)]);
    now += 6000; // idle longer than maxStaleMs: this request waits for the new rows
    expect((await app.request('/instances')).headers.get('etag')).not.toBe(e1);
  });
});

describe('DirectoryCache.invalidate (a change made by this process)', () => {
  it('makes every later request wait for rows read after the change, within ttl and even with a refresh in flight', async () => {
    const f = fakeReader([row('a', T0 + 60_000)]);
    const now = T0; // the clock never moves: without invalidate the cache would not query again
    const cache = new DirectoryCache(f.reader, { now: () => now });
    expect((await cache.get()).records).toBe(1);
    let publish!: () => void;
    const published = new Promise<void>((r) => {
      publish = r;
    });
    cache.invalidate(published);
    const asked = cache.get(); // right after the lease change, before the record is written
    let answered = false;
    void asked.then(() => {
      answered = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(answered).toBe(false); // waits for the publication, not the cached directory
    f.set([row('a', T0 + 60_000), row('b', T0 + 60_000)]);
    publish();
    expect((await asked).records).toBe(2);
    expect(f.calls()).toBe(2);
    expect((await cache.get()).records).toBe(2);
    expect(f.calls()).toBe(2); // back to the ttl rule afterwards
  });

  it('does not take rows from a query that started before the change', async () => {
    const f = fakeReader([row('a', T0 + 60_000)]);
    let now = T0;
    const cache = new DirectoryCache(f.reader, { now: () => now });
    await cache.get();
    const release = f.hold();
    now += 1500;
    await cache.get(); // starts a background refresh that hangs, reading the old rows
    cache.invalidate();
    f.set([row('a', T0 + 60_000), row('b', T0 + 60_000)]);
    const asked = cache.get();
    release();
    expect((await asked).records).toBe(2);
    expect(f.calls()).toBe(3);
  });

  it('still answers with the cached directory when the read after the change fails', async () => {
    const f = fakeReader([row('a', T0 + 60_000)]);
    const cache = new DirectoryCache(f.reader, { now: () => T0 });
    await cache.get();
    f.failWith(new Error('down'));
    cache.invalidate(Promise.reject(new Error('publish failed')));
    expect((await cache.get()).records).toBe(1);
    expect(cache.stats()).toMatchObject({ dbQueries: 2, dbFailures: 1 });
  });
});

describe('etagMatches', () => {
  it('handles lists, weak tags and *', () => {
    expect(etagMatches('"x"', '"x"')).toBe(true);
    expect(etagMatches('W/"x"', '"x"')).toBe(true);
    expect(etagMatches('"a", "x"', '"x"')).toBe(true);
    expect(etagMatches('*', '"x"')).toBe(true);
    expect(etagMatches('"y"', '"x"')).toBe(false);
    expect(etagMatches(undefined, '"x"')).toBe(false);
  });
});

describe('parseBootstrapConfig', () => {
  it('needs exactly one database and never echoes URLs', () => {
    expect(() => parseBootstrapConfig({})).toThrow(
      /exactly one of BOOTSTRAP_DB_URL and BOOTSTRAP_PLANETSCALE_URL/,
    );
    const both = {
      BOOTSTRAP_DB_URL: 'mysql://u:hunter2@h/db',
      BOOTSTRAP_PLANETSCALE_URL: 'https://u:hunter2@h',
    };
    expect(() => parseBootstrapConfig(both)).toThrow(/exactly one/);
    expect(() => parseBootstrapConfig({ BOOTSTRAP_DB_URL: 'postgres://u:hunter2@h/db' })).not.toThrow(
      /hunter2/,
    );
    expect(() =>
      parseBootstrapConfig({ BOOTSTRAP_DB_URL: 'mysql://h/db', BOOTSTRAP_CACHE_MS: '10' }),
    ).toThrow(/BOOTSTRAP_CACHE_MS/);
    expect(parseBootstrapConfig({ BOOTSTRAP_DB_URL: 'mysql://r:p@h/db' })).toMatchObject({
      database: { kind: 'mysql' },
      port: 8080,
      host: '0.0.0.0',
      cacheTtlMs: 1000,
      maxAgeSeconds: 1,
      publicKey: null,
    });
  });
});
