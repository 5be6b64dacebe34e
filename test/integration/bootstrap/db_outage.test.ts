import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ListeningProcess, spawnListening } from '#devnet/spawn_listening.ts';
import { DirectoryResponseSchema } from '#shared/directory/response.ts';
import { verifyDirectoryRecord } from '#shared/directory/signing.ts';
import { seedDirectory } from '#test/support/bootstrap_contract.ts';
import { TEST_DB_URL } from '#test/support/db.ts';
import { createDirectoryFixture, type DirectoryFixture } from '#test/support/directory_fixture.ts';
import { pollFor } from '#test/support/poll.ts';
import { startTcpProxy, type TcpProxy } from '#test/support/tcp_proxy.ts';

interface Health {
  status: string;
  dbQueries: number;
  dbFailures: number;
  failing: boolean;
}

/**
 * A Node bootstrap process whose database connection goes through a TCP
 * proxy: while the database is refused or black-holed it keeps serving the
 * last good directory (without a query per request), and it recovers by
 * itself when the database is back.
 */
describe('bootstrap node through a database outage', () => {
  let fx: DirectoryFixture;
  let proxy: TcpProxy;
  let proc: ListeningProcess;

  const health = async () => (await (await fetch(`${proc.url}/health`)).json()) as Health;
  const directory = async () => {
    const res = await fetch(`${proc.url}/instances`);
    return { status: res.status, body: DirectoryResponseSchema.parse(await res.json()) };
  };
  async function until<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
    return pollFor(what, fn, { timeoutMs, intervalMs: 250 });
  }

  beforeAll(async () => {
    fx = await createDirectoryFixture('boot_outage');
    await seedDirectory(fx);
    const server = new URL(TEST_DB_URL);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 3306) });
    proc = await spawnListening(process.execPath, ['bootstrap/node.ts'], {
      env: {
        BOOTSTRAP_DB_URL: proxy.rewriteUrl(fx.account.url),
        BOOTSTRAP_PORT: '0',
        BOOTSTRAP_HOST: '127.0.0.1',
      },
    });
  });
  afterAll(async () => {
    await proc?.stop();
    await proxy?.close();
    await fx?.cleanup();
  });

  it('serves the last good directory while the database is refused, then recovers', async () => {
    const before = await directory();
    expect(before.status).toBe(200);
    expect(before.body.records).toHaveLength(2);
    proxy.refuse();
    await until('a failed query', async () => ((await health()).dbFailures > 0 ? true : null));
    const during: number[] = [];
    for (let i = 0; i < 20; i++) {
      const d = await directory();
      during.push(d.status);
      expect(d.body.records).toEqual(before.body.records);
    }
    expect(during.every((s) => s === 200)).toBe(true);
    const h = await health();
    expect(h.status).toBe('ok');
    expect(h.failing).toBe(true);
    expect(JSON.stringify(h)).not.toMatch(/127\.0\.0\.1|ECONN/);
    proxy.heal();
    await fx.setLease('0.5btc', 'inst-b', 1);
    await fx.publish('inst-b');
    const after = await until('the new record after the outage', async () => {
      const d = await directory();
      return d.body.pools?.['0.5btc'] ? d : null;
    });
    expect(
      after.body.records.map((r) => verifyDirectoryRecord(r, fx.publicKey, Date.now()).instanceId).sort(),
    ).toEqual(['inst-a', 'inst-b']);
    expect((await health()).failing).toBe(false);
  });

  it('does not hang requests when the database is black-holed (background refresh, 5 s query timeout)', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const failuresBefore = (await health()).dbFailures;
    proxy.blackhole();
    try {
      const started = Date.now();
      for (let i = 0; i < 10; i++) {
        const d = await directory();
        expect(d.status).toBe(200);
        expect(d.body.records).toHaveLength(2);
      }
      expect(Date.now() - started).toBeLessThan(2000);
      const h = await until('the black-holed query to time out', async () => {
        const x = await health();
        return x.dbFailures > failuresBefore ? x : null;
      });
      expect(h.failing).toBe(true);
    } finally {
      proxy.heal();
    }
  });
});
