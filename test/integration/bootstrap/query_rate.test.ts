import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBootstrapApp } from '#bootstrap/app.ts';
import type { DirectoryReader } from '#bootstrap/directory_cache.ts';
import { createMysqlDirectoryReader } from '#bootstrap/mysql_reader.ts';
import { seedDirectory } from '#test/support/bootstrap_contract.ts';
import { createDirectoryFixture, type DirectoryFixture } from '#test/support/directory_fixture.ts';

/** Wraps a reader and counts the queries that reach it. */
function countingReader(
  inner: DirectoryReader,
): DirectoryReader & { count(): number; times: number[]; close(): Promise<void> } {
  let n = 0;
  const times: number[] = [];
  return {
    times,
    count: () => n,
    async readLive() {
      n++;
      times.push(Date.now());
      return inner.readLive();
    },
    close: () => inner.close?.() ?? Promise.resolve(),
  };
}

/** The one-query-per-second guarantee, counted at the real mysql2 reader, under HTTP load. */
describe('bootstrap query rate against MariaDB', () => {
  let fx: DirectoryFixture;
  let reader: ReturnType<typeof countingReader>;
  let url: string;
  let close: () => void;

  beforeAll(async () => {
    fx = await createDirectoryFixture('boot_rate');
    await seedDirectory(fx);
    reader = countingReader(createMysqlDirectoryReader(fx.account.url));
    const { app } = createBootstrapApp({ reader });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(async () => {
    close?.();
    await reader?.close?.();
    await fx?.cleanup();
  });

  it('a cold burst of 300 concurrent requests shares one query', async () => {
    // in-process requests all arrive while the first (real) query is in flight
    const cold = countingReader(createMysqlDirectoryReader(fx.account.url));
    const { app } = createBootstrapApp({ reader: cold });
    try {
      const res = await Promise.all(Array.from({ length: 300 }, () => app.request('/instances')));
      expect(res.every((r) => r.status === 200)).toBe(true);
      expect(cold.count()).toBe(1);
    } finally {
      await cold.close();
    }
  });

  it('3 s of continuous concurrent load makes at most one query per second', async () => {
    const before = reader.count();
    const start = Date.now();
    let served = 0;
    const workers = Array.from({ length: 32 }, async () => {
      while (Date.now() - start < 3000) {
        const r = await fetch(`${url}/instances`);
        await r.arrayBuffer();
        if (r.status === 200) served++;
      }
    });
    await Promise.all(workers);
    const queries = reader.count() - before;
    expect(served).toBeGreaterThan(100); // enough load to span three cache periods, even on a busy 2-core machine
    expect(queries).toBeGreaterThanOrEqual(2);
    expect(queries).toBeLessThanOrEqual(3);
    const gaps = reader.times.slice(1).map((t, i) => t - reader.times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
  });
});
