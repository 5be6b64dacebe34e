/**
 * Lease keepers on the real MariaDB, one of them reaching the database
 * through a TCP proxy that simulates a partition (black hole) or a server
 * outage (connections refused). Checks that the cut-off keeper steps down
 * before its lease can expire, that the other takes over within TTL + one
 * poll, that their holding intervals never overlap, and that the cut-off
 * keeper recovers alone when the network heals.
 */
import { createPool, type Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseKeeper, type LeaseLoss } from '#coordinator/cluster/lease_keeper.ts';
import { LeaseStore } from '#coordinator/cluster/lease_store.ts';
import { silentLogger } from '#coordinator/log.ts';
import { createTestDatabase, mysqlOptionsFromUrl, runSqlFiles, type TestDatabase } from '#test/support/db.ts';
import { startTcpProxy, type TcpProxy } from '#test/support/tcp_proxy.ts';

const TTL = 1200;
const RENEW = 250;
const MARGIN = 300;
const POLL = 150;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: TestDatabase;
const pools: Pool[] = [];

function pool(url: string): Pool {
  const p = createPool({ ...mysqlOptionsFromUrl(url), connectionLimit: 3, connectTimeout: 1000 });
  // A lost connection surfaces as a query error; never let it crash the test process.
  p.on('connection', (c) => c.on('error', () => undefined));
  pools.push(p);
  return p;
}

interface Holding {
  who: string;
  start: number;
  end: number | null;
  lost: LeaseLoss | null;
}

/** A keeper plus a loop that tries to acquire `poolId` every POLL ms, recording its holding intervals. */
function contender(who: string, p: Pool, poolId: string, log: Holding[]) {
  let current: Holding | null = null;
  const keeper = new LeaseKeeper({
    store: new LeaseStore(p, { queryTimeoutMs: 500 }),
    instanceId: who,
    ttlMs: TTL,
    renewIntervalMs: RENEW,
    safetyMarginMs: MARGIN,
    logger: silentLogger(),
    onLost: (loss) => {
      if (current) {
        current.end = performance.now();
        current.lost = loss;
        current = null;
      }
    },
  });
  keeper.start();
  let running = true;
  const loop = (async () => {
    while (running) {
      if (!keeper.fenceOf(poolId)) {
        const f = await keeper.acquire(poolId);
        if (f && running) {
          current = { who, start: performance.now(), end: null, lost: null };
          log.push(current);
        }
      }
      await sleep(POLL);
    }
  })();
  return {
    keeper,
    holds: () => keeper.fenceOf(poolId) !== null,
    /** Voluntary release: the interval ends before the row is freed. */
    async release() {
      if (current) {
        current.end = performance.now();
        current = null;
      }
      await keeper.release(poolId);
    },
    async stop() {
      running = false;
      await loop;
      keeper.stop();
      if (current) current.end = performance.now();
    },
  };
}

function assertNoOverlap(log: Holding[]): void {
  const sorted = [...log].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    expect(prev.end, `${prev.who} still held when ${cur.who} acquired`).not.toBeNull();
    expect(
      prev.end!,
      `${prev.who} [${prev.start}, ${prev.end}] overlaps ${cur.who} from ${cur.start}`,
    ).toBeLessThanOrEqual(cur.start);
  }
}

beforeAll(async () => {
  db = await createTestDatabase('cluster_keeper');
  await runSqlFiles(db.url, ['coordinator/store/migrations/010_cluster.sql']);
  await new LeaseStore(pool(db.url)).ensurePools(['p-blackhole', 'p-refuse', 'p-race']);
});

afterAll(async () => {
  for (const p of pools) await p.end().catch(() => undefined);
  await db?.drop();
});

describe.each(['blackhole', 'refuse'] as const)('keeper cut off from the database (%s)', (mode) => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    const o = mysqlOptionsFromUrl(db.url);
    proxy = await startTcpProxy({ host: String(o.host), port: Number(o.port) });
  });
  afterAll(async () => {
    await proxy.close();
  });

  it('steps down before TTL, the other keeper takes over within TTL + poll, and it recovers after healing', async () => {
    const poolId = `p-${mode}`;
    const log: Holding[] = [];
    const a = contender('A', pool(proxy.rewriteUrl(db.url)), poolId, log);
    await sleep(300);
    expect(a.holds()).toBe(true);
    const b = contender('B', pool(db.url), poolId, log);
    await sleep(800);
    expect(b.holds()).toBe(false);

    const cutAt = performance.now();
    if (mode === 'blackhole') proxy.blackhole();
    else proxy.refuse();
    while (a.holds() && performance.now() - cutAt < 5000) await sleep(10);
    const stepDownAfter = performance.now() - cutAt;
    // The last renewal sent before the cut was at most RENEW ms earlier: trust ends TTL - MARGIN after it.
    expect(stepDownAfter).toBeLessThan(TTL - MARGIN + 100);
    while (!b.holds() && performance.now() - cutAt < 5000) await sleep(10);
    const takeoverAfter = performance.now() - cutAt;
    expect(b.holds()).toBe(true);
    expect(takeoverAfter).toBeLessThan(TTL + POLL + 200);

    proxy.heal();
    // A recovers alone: B releases, A gets it back through the healed proxy.
    await sleep(500);
    await b.release();
    await b.stop();
    const healAt = performance.now();
    while (!a.holds() && performance.now() - healAt < 6000) await sleep(20);
    expect(a.holds()).toBe(true);
    await a.stop();
    assertNoOverlap(log);
    expect(log.map((h) => h.who)).toEqual(['A', 'B', 'A']);
    expect(log[0]!.lost?.reason).toBe('local-expiry');
  });
});

describe('keepers racing for one pool', () => {
  it('never hold it at the same time while leases are repeatedly released and taken', async () => {
    const log: Holding[] = [];
    const cs = ['A', 'B', 'C'].map((w) => contender(w, pool(db.url), 'p-race', log));
    const until = performance.now() + 4000;
    let i = 0;
    while (performance.now() < until) {
      await sleep(40 + ((i * 37) % 90));
      const holder = cs.find((c) => c.holds());
      if (holder && i % 2 === 0) await holder.release();
      i++;
    }
    for (const c of cs) await c.stop();
    expect(log.length).toBeGreaterThan(10);
    assertNoOverlap(log);
  });
});
