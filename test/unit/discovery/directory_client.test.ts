import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { DirectoryClient, DiscoveryError } from '#client/discovery/directory_client.ts';
import type { DirectoryRecord, SignedDirectoryRecord } from '#shared/directory/record.ts';
import { directoryPublicKey, signDirectoryRecord } from '#shared/directory/signing.ts';

const NOW = 1_800_000_000_000;
const key = ed25519.utils.randomSecretKey();
const pubHex = bytesToHex(directoryPublicKey(key));
const otherKey = ed25519.utils.randomSecretKey();

function rec(
  id: string,
  pools: Array<[string, number]>,
  over: Partial<DirectoryRecord> = {},
): DirectoryRecord {
  return {
    version: 1,
    instanceId: id,
    urlClear: `https://${id}.example.org`,
    urlOnion: `http://${id.padEnd(56, 'x')}.onion`,
    state: 'active',
    pools: pools.map(([poolId, epoch]) => ({ poolId, epoch })),
    issuedAt: NOW - 1000,
    expiresAt: NOW + 60_000,
    ...over,
  };
}

function body(records: SignedDirectoryRecord[], pools: Record<string, unknown> = {}) {
  return JSON.stringify({ version: 1, records, pools });
}

/** A fetch routing `<base>/instances` to canned responses (a function may throw or hang). */
function fakeFetch(routes: Record<string, string | (() => Promise<Response>)>) {
  const calls: string[] = [];
  const f = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    calls.push(url);
    const base = url.replace(/\/instances$/, '');
    const route = routes[base];
    if (route === undefined) throw new TypeError(`fetch failed (ECONNREFUSED ${base})`);
    if (typeof route === 'function') {
      return await new Promise<Response>((resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal!.reason));
        route().then(resolve, reject);
      });
    }
    return new Response(route, { status: 200, headers: { 'Content-Type': 'application/json' } });
  };
  return { fetch: f as typeof fetch, calls };
}

const inOrder = () => 0.999999; // shuffle keeps the given order

function client(urls: string[], routes: Parameters<typeof fakeFetch>[0], over: Record<string, unknown> = {}) {
  const ff = fakeFetch(routes);
  const c = new DirectoryClient({
    bootstrapUrls: urls,
    publicKey: pubHex,
    fetch: ff.fetch,
    now: () => NOW,
    random: inOrder,
    timeoutMs: 200,
    ...over,
  });
  return { c, calls: ff.calls };
}

const good = body([
  signDirectoryRecord(rec('a', [['0.01btc', 3]]), key),
  signDirectoryRecord(rec('b', [['0.05btc', 1]]), key),
]);

describe('DirectoryClient', () => {
  it('finds the owner of a pool from a good mirror, deriving the map from verified records only', async () => {
    const lyingMap = body(JSON.parse(good).records, { '0.01btc': { instanceId: 'b', epoch: 99 } });
    const { c } = client(['https://m1'], { 'https://m1': lyingMap });
    const owner = await c.ownerOf('0.01btc');
    expect(owner).toMatchObject({
      poolId: '0.01btc',
      instanceId: 'a',
      epoch: 3,
      url: 'https://a.example.org',
    });
  });

  it('skips a mirror serving a forged record and uses the next one', async () => {
    const forged = body([
      signDirectoryRecord(rec('a', [['0.01btc', 9]], { urlClear: 'https://evil.example' }), otherKey),
    ]);
    const { c } = client(['https://evil', 'https://m1'], { 'https://evil': forged, 'https://m1': good });
    const res = await c.refresh();
    expect(res.source).toBe('https://m1');
    expect(res.failures).toEqual([
      expect.objectContaining({
        url: 'https://evil',
        reason: 'forged',
        message: expect.stringMatching(/tampered/),
      }),
    ]);
    expect((await c.ownerOf('0.01btc')).url).toBe('https://a.example.org');
  });

  it('skips a mirror that altered a genuine record (raised epoch, changed URL)', async () => {
    const g = JSON.parse(good) as { records: SignedDirectoryRecord[] };
    const altered = body([
      { ...g.records[0]!, record: g.records[0]!.record.replace('"epoch":3', '"epoch":30') },
    ]);
    const moved = body([
      { ...g.records[0]!, record: g.records[0]!.record.replace('a.example.org', 'evil.example') },
    ]);
    const { c } = client(['https://alt', 'https://mov', 'https://m1'], {
      'https://alt': altered,
      'https://mov': moved,
      'https://m1': good,
    });
    const res = await c.refresh();
    expect(res.source).toBe('https://m1');
    expect(res.failures.map((f) => [f.url, f.reason])).toEqual([
      ['https://alt', 'forged'],
      ['https://mov', 'forged'],
    ]);
  });

  it('skips a mirror replaying an expired directory', async () => {
    const old = body([
      signDirectoryRecord(
        rec('a', [['0.01btc', 2]], { issuedAt: NOW - 600_000, expiresAt: NOW - 540_000 }),
        key,
      ),
    ]);
    const { c } = client(['https://stale', 'https://m1'], { 'https://stale': old, 'https://m1': good });
    const res = await c.refresh();
    expect(res.failures).toEqual([expect.objectContaining({ reason: 'expired' })]);
    expect(res.source).toBe('https://m1');
  });

  it('skips a mirror replaying an unexpired but superseded record, and keeps the higher epoch', async () => {
    // b took 0.01btc at epoch 4; a's newer record no longer lists it
    const newer = body([
      signDirectoryRecord(rec('a', [], { issuedAt: NOW - 500 }), key),
      signDirectoryRecord(
        rec(
          'b',
          [
            ['0.01btc', 4],
            ['0.05btc', 1],
          ],
          { issuedAt: NOW - 500 },
        ),
        key,
      ),
    ]);
    // a mirror replaying a's 100-s-old record (still unexpired: lifetime 120 s, the maximum) where a owned the pool
    const replayed = body([
      signDirectoryRecord(
        rec('a', [['0.01btc', 3]], { issuedAt: NOW - 100_000, expiresAt: NOW + 20_000 }),
        key,
      ),
    ]);
    // an honest mirror one publication behind: a's record 20 s older, b's record absent
    const lagging = body([signDirectoryRecord(rec('a', [['0.01btc', 3]], { issuedAt: NOW - 20_000 }), key)]);
    const routes: Record<string, string> = {
      'https://new': newer,
      'https://replay': replayed,
      'https://lag': lagging,
    };
    const { c } = client(['https://new', 'https://replay', 'https://lag'], routes);
    // first contact asks two mirrors (new + replay) and merges: the newer record of each instance wins
    expect((await c.refresh()).source).toBe('https://new + https://replay');
    expect((await c.ownerOf('0.01btc')).instanceId).toBe('b');
    delete routes['https://new']; // the up-to-date mirror goes down
    const res = await c.refresh();
    expect(res.failures.map((f) => [f.url, f.reason])).toEqual([
      ['https://new', 'unreachable'],
      ['https://replay', 'replayed'],
    ]);
    expect(res.failures[1]!.message).toMatch(/replayed directory: record of 'a' issued 99500 ms before/);
    expect(res.source).toBe('https://lag');
    // the lagging mirror's older record of a cannot take the pool back from b's epoch 4
    expect(await c.ownerOf('0.01btc')).toMatchObject({ instanceId: 'b', epoch: 4 });
    expect(c.current()?.instances.get('a')?.issuedAt).toBe(NOW - 500);
  });

  it('drops an instance that withdrew its record once another answer no longer lists it', async () => {
    let current = good;
    const { c } = client(['https://m1'], { 'https://m1': async () => new Response(current) });
    await c.refresh();
    expect([...c.current()!.instances.keys()].sort()).toEqual(['a', 'b']);
    // a drained: b took 0.01btc at epoch 4, a's record withdrawn
    current = body([
      signDirectoryRecord(
        rec(
          'b',
          [
            ['0.01btc', 4],
            ['0.05btc', 1],
          ],
          { issuedAt: NOW },
        ),
        key,
      ),
    ]);
    await c.refresh();
    expect([...c.current()!.instances.keys()]).toEqual(['b']);
    expect((await c.randomInstance()).instanceId).toBe('b');
  });

  it('revalidates with If-None-Match and verifies a 304 answer again (expiry still applies)', async () => {
    let now = NOW;
    const seen: Array<string | null> = [];
    const f = (async (_input: RequestInfo | URL, init?: RequestInit) => {
      const inm = new Headers(init?.headers).get('If-None-Match');
      seen.push(inm);
      if (inm === '"v1"') return new Response(null, { status: 304, headers: { ETag: '"v1"' } });
      return new Response(good, { status: 200, headers: { ETag: '"v1"' } });
    }) as typeof fetch;
    const c = new DirectoryClient({
      bootstrapUrls: ['https://m1'],
      publicKey: pubHex,
      fetch: f,
      now: () => now,
    });
    await c.refresh();
    expect((await c.ownerOf('0.01btc', { refresh: true })).instanceId).toBe('a');
    expect(seen).toEqual([null, '"v1"']);
    now = NOW + 120_000; // the cached records expired: the 304 must not revive them
    const err = await c.refresh().catch((e: unknown) => e);
    expect((err as DiscoveryError).failures).toEqual([expect.objectContaining({ reason: 'expired' })]);
  });

  it('reports every entry when none gives a valid directory (dead, HTTP error, not JSON, timeout)', async () => {
    const { c } = client(['https://dead', 'https://err', 'https://html', 'https://slow'], {
      'https://err': async () => new Response('oops', { status: 500 }),
      'https://html': '<html>',
      'https://slow': () => new Promise<Response>(() => undefined),
    });
    const err = await c.refresh().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscoveryError);
    expect((err as DiscoveryError).failures.map((f) => [f.url, f.reason])).toEqual([
      ['https://dead', 'unreachable'],
      ['https://err', 'http-status'],
      ['https://html', 'bad-response'],
      ['https://slow', 'unreachable'],
    ]);
    expect((err as Error).message).toMatch(/No bootstrap entry gave a valid directory \(4 tried\)/);
  });

  it('refreshes when asked (pool moved) or when the known epoch is below minEpoch', async () => {
    let current = good;
    const f = async () => new Response(current, { status: 200 });
    const { c, calls } = client(['https://m1'], { 'https://m1': f });
    expect((await c.ownerOf('0.01btc')).instanceId).toBe('a');
    expect((await c.ownerOf('0.01btc')).instanceId).toBe('a');
    expect(calls.length).toBe(1);
    current = body([
      signDirectoryRecord(rec('a', [], { issuedAt: NOW }), key),
      signDirectoryRecord(rec('b', [['0.01btc', 4]], { issuedAt: NOW }), key),
    ]);
    expect((await c.ownerOf('0.01btc', { minEpoch: 4 })).instanceId).toBe('b');
    expect(calls.length).toBe(2);
    expect((await c.ownerOf('0.01btc', { refresh: true })).epoch).toBe(4);
    expect(calls.length).toBe(3);
    await expect(c.ownerOf('0.5btc')).rejects.toThrow(/No instance of the directory serves pool '0.5btc'/);
  });

  it('hands out onion URLs on the onion network and random active instances', async () => {
    const draining = body([
      signDirectoryRecord(rec('a', [['p', 1]], { state: 'draining' }), key),
      signDirectoryRecord(rec('b', []), key),
    ]);
    const { c } = client(['https://m1'], { 'https://m1': draining }, { network: 'onion' });
    expect((await c.ownerOf('p')).url).toBe(`http://${'a'.padEnd(56, 'x')}.onion`);
    for (let i = 0; i < 5; i++) expect((await c.randomInstance()).instanceId).toBe('b');
  });

  it('randomInstance avoids excluded URLs unless no other instance is listed', async () => {
    const { c } = client(['https://m1'], { 'https://m1': good }, { random: Math.random });
    const a = 'https://a.example.org';
    for (let i = 0; i < 20; i++) {
      expect((await c.randomInstance({ exclude: new Set([a]) })).instanceId).toBe('b');
    }
    const both = new Set([a, 'https://b.example.org']);
    expect(['a', 'b']).toContain((await c.randomInstance({ exclude: both })).instanceId);
  });

  it('refuses bad construction arguments', () => {
    expect(() => new DirectoryClient({ bootstrapUrls: [], publicKey: pubHex })).toThrow(/at least one/);
    expect(() => new DirectoryClient({ bootstrapUrls: ['ftp://x'], publicKey: pubHex })).toThrow(/http/);
    expect(() => new DirectoryClient({ bootstrapUrls: ['https://x'], publicKey: 'abc' })).toThrow(/64 hex/);
  });
});
