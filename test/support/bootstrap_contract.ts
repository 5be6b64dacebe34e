/**
 * The bootstrap HTTP contract: one set of assertions run against every
 * runtime and database path (Node + mysql2, Deno + mysql2, workerd +
 * Hyperdrive, Node + @planetscale/database via ps-http-sim). Each suite
 * creates a {@link DirectoryFixture}, starts its server and calls
 * {@link defineBootstrapContract} with a getter for both.
 *
 * The fixture holds two instances: `inst-a` owning `0.01btc` (epoch 3) and
 * `0.001btc` (epoch 1), `inst-b` owning `0.05btc` (epoch 2). Later tests
 * move a pool and expire a record, so the order of the tests matters.
 *
 * @module
 */
import { expect, it } from 'vitest';
import type { DirectoryRecord } from '#shared/directory/record.ts';
import { DirectoryResponseSchema } from '#shared/directory/response.ts';
import { verifyDirectoryRecord } from '#shared/directory/signing.ts';
import type { DirectoryFixture } from './directory_fixture.ts';

/** What a contract run needs: the fixture and the base URL of the server under test. */
export interface BootstrapTarget {
  fx: DirectoryFixture;
  baseUrl: string;
}

/** Registers instances and leases and publishes both records (call before starting the server). */
export async function seedDirectory(fx: DirectoryFixture): Promise<void> {
  await fx.registerInstance({ id: 'inst-a', urlClear: 'http://127.0.0.1:1', urlOnion: null });
  await fx.registerInstance({
    id: 'inst-b',
    urlClear: 'http://127.0.0.1:2',
    urlOnion: `http://${'b'.repeat(56)}.onion`,
  });
  await fx.setLease('0.01btc', 'inst-a', 3);
  await fx.setLease('0.001btc', 'inst-a', 1);
  await fx.setLease('0.05btc', 'inst-b', 2);
  await fx.publish('inst-a');
  await fx.publish('inst-b');
}

async function getDirectory(baseUrl: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}/instances`, { headers });
  return res;
}

function verifiedRecords(fx: DirectoryFixture, body: unknown): DirectoryRecord[] {
  const parsed = DirectoryResponseSchema.parse(body);
  return parsed.records.map((r) => verifyDirectoryRecord(r, fx.publicKey, Date.now()));
}

async function stats(baseUrl: string): Promise<{ dbQueries: number; status: string }> {
  const res = await fetch(`${baseUrl}/health`);
  return (await res.json()) as { dbQueries: number; status: string };
}

async function waitFor<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > until) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Defines the contract tests in the current `describe`. */
export function defineBootstrapContract(target: () => BootstrapTarget): void {
  it('GET /instances serves the signed records untouched and the pool map', async () => {
    const { fx, baseUrl } = target();
    const res = await getDirectory(baseUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as {
      records: Array<{ record: string; signature: string }>;
      pools: unknown;
    };
    const [rows] = await fx.pool.query('SELECT record, signature FROM directory_record ORDER BY record');
    expect(body.records).toEqual(rows);
    const records = verifiedRecords(fx, body);
    expect(records.map((r) => r.instanceId).sort()).toEqual(['inst-a', 'inst-b']);
    expect(body.pools).toEqual({
      '0.001btc': { instanceId: 'inst-a', epoch: 1 },
      '0.01btc': { instanceId: 'inst-a', epoch: 3 },
      '0.05btc': { instanceId: 'inst-b', epoch: 2 },
    });
    expect(records.find((r) => r.instanceId === 'inst-b')?.urlOnion).toBe(`http://${'b'.repeat(56)}.onion`);
  });

  it('sends ETag, Cache-Control and CORS headers, and answers 304 to a matching If-None-Match', async () => {
    const { baseUrl } = target();
    const res = await getDirectory(baseUrl, { Origin: 'https://wallet.example' });
    await res.arrayBuffer();
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=1');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/etag/i);
    const notModified = await getDirectory(baseUrl, { 'If-None-Match': etag! });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);
    const listed = await getDirectory(baseUrl, { 'If-None-Match': `"nope", W/${etag}` });
    expect(listed.status).toBe(304);
    await listed.arrayBuffer();
    const other = await getDirectory(baseUrl, { 'If-None-Match': '"0000"' });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
    const head = await fetch(`${baseUrl}/instances`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(etag);
    expect(await head.text()).toBe('');
  });

  it('answers a CORS preflight', async () => {
    const { baseUrl } = target();
    const res = await fetch(`${baseUrl}/instances`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://wallet.example',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'if-none-match',
      },
    });
    await res.arrayBuffer();
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toMatch(/GET/);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toMatch(/if-none-match/);
  });

  it('GET /health reports ok and the query counter; unknown paths are JSON 404s', async () => {
    const { baseUrl } = target();
    const h = await stats(baseUrl);
    expect(h.status).toBe('ok');
    expect(h.dbQueries).toBeGreaterThanOrEqual(1);
    const res = await fetch(`${baseUrl}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not found' });
  });

  it('queries the database at most once per second under a burst of concurrent requests', async () => {
    const { baseUrl } = target();
    await new Promise((r) => setTimeout(r, 1100)); // let the cache expire so the burst starts on a miss
    const before = (await stats(baseUrl)).dbQueries;
    const started = Date.now();
    let served = 0;
    let batches = 0;
    while (Date.now() - started < 1500 || batches < 3) {
      batches++;
      const batch = await Promise.all(
        Array.from({ length: 50 }, () =>
          getDirectory(baseUrl).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          }),
        ),
      );
      served += batch.filter((s) => s === 200).length;
    }
    const elapsed = Date.now() - started;
    const queries = (await stats(baseUrl)).dbQueries - before;
    expect(served).toBeGreaterThanOrEqual(100);
    // one query per started second at most (+1 for the /health read at the end)
    expect(queries).toBeGreaterThanOrEqual(1);
    expect(queries).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
  });

  it('follows the database: a moved pool shows the higher epoch, an expired record disappears', async () => {
    const { fx, baseUrl } = target();
    await fx.setLease('0.01btc', 'inst-b', 4);
    await fx.publish('inst-b'); // inst-b claims 0.01btc at epoch 4; inst-a still claims it at epoch 3
    const moved = await waitFor('the pool move', async () => {
      const body = (await (await getDirectory(baseUrl)).json()) as {
        pools: Record<string, { instanceId: string }>;
      };
      return body.pools['0.01btc']?.instanceId === 'inst-b' ? body : null;
    });
    expect(verifiedRecords(fx, moved).length).toBe(2);
    await fx.pool.query("UPDATE directory_record SET expires_at = NOW(3) WHERE instance_id = 'inst-a'");
    const gone = await waitFor('the expired record to disappear', async () => {
      const body = (await (await getDirectory(baseUrl)).json()) as { records: unknown[] };
      return body.records.length === 1 ? body : null;
    });
    expect(verifiedRecords(fx, gone).map((r) => r.instanceId)).toEqual(['inst-b']);
  });
}
