/**
 * Chaos suite: real coordinator processes (`node coordinator/main.ts`) on
 * btcd regtest and one MariaDB database, four pools, default lease timings
 * (TTL 4000 ms, renew 1000 ms, poll 1000 ms). One instance reaches the
 * database through a TCP proxy, two run with their wall clock skewed by
 * ±30 s (Date patched by test/support/skew_clock.ts: leases must not care).
 *
 * In order: a lone instance takes every pool; four instances share them and
 * a fifth stays idle; kill -9 of an owner (the stand-by takes over within
 * TTL + poll); SIGSTOP longer than the TTL, then SIGCONT; the database cut for
 * one instance; a rolling restart (SIGTERM drain) of every instance. A
 * recorder of serve/unserve events (from the processes' logs) checks after
 * every step that no two instances ever served one pool at the same moment.
 *
 * From the second step on, three wallets per pool mix all the time in every
 * pool (anonymity set 3), as clients given only a bootstrap list (every
 * instance URL the suite will ever use) and the pinned directory key: they
 * follow their pool through every fault. After each fault the suite waits
 * for a new mix in every pool. At the end the wallets stop without cutting a
 * started mix, and the suite asserts that each successful mix is recorded
 * exactly once (mix, mix_txid) and mined, and that nobody was blamed or banned.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, nowMs, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { writePoolsFile } from '#devnet/pools_file.ts';
import { freePort } from '#devnet/ports.ts';
import { directoryPublicKey } from '#shared/directory/signing.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { createTestDatabase, mysqlOptionsFromUrl, type TestDatabase } from '#test/support/db.ts';
import { expectMixesRecordedOnce } from '#test/support/mix_records.ts';
import { type MixingWallets, prepareMixingWallets } from '#test/support/mixing_wallets.ts';
import { ServeRecorder } from '#test/support/serve_recorder.ts';
import { startTcpProxy, type TcpProxy } from '#test/support/tcp_proxy.ts';

const TTL = 4000;
const POLL = 1000;
/** Takeover bound asserted: TTL + one poll, plus 700 ms for process scheduling on a loaded 2-core CI box. */
const TAKEOVER_BOUND = TTL + POLL + 700;
/** Pool ids; the denomination is the id in BTC (test/support/coordinator_env.ts). */
const POOLS = ['0.001btc', '0.002btc', '0.005btc', '0.01btc'];
/** Every instance id the suite starts; their ports are fixed up front so the wallets' bootstrap list covers them. */
const IDS = ['a', 'b', 'c', 'd', 'e', 'b2', 'c2', 'd2', 'e2'];
const directoryKey = ed25519.utils.randomSecretKey();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let db: TestDatabase;
let btcd: BtcdNode;
let proxy: TcpProxy;
let dir: string;
let baseEnv: Record<string, string>;
const recorder = new ServeRecorder();
const procs = new Map<string, CoordinatorProcess>();
const takeovers: Array<{ kind: string; ms: number }> = [];
const ports = new Map<string, number>();
/** Three mixing wallets per pool, in the order of POOLS. */
const wallets: MixingWallets[] = [];
let workers: Promise<unknown> = Promise.resolve();
/** Successful client mixes of each pool when each fault was injected. */
const mixesAfter: Array<{ fault: string; before: number[] }> = [];
const successes = () => wallets.map((w) => w.successes().length);

/** Waits until every pool completed a mix after `fault` (`before` = {@link successes} when it was injected). */
async function waitMixAfter(fault: string, before: number[]): Promise<void> {
  mixesAfter.push({ fault, before });
  await waitUntil(
    `a mix in every pool after ${fault}`,
    () => successes().every((n, i) => n > before[i]!),
    90_000,
  );
}

async function start(
  id: string,
  opts: { skewMs?: number; viaProxy?: boolean; waitStarted?: boolean } = {},
): Promise<CoordinatorProcess> {
  const port = ports.get(id)!;
  const p = spawnCoordinator({
    instanceId: id,
    env: {
      ...baseEnv,
      WHIRLPOOL_PORT: String(port),
      WHIRLPOOL_URL_CLEAR: `http://127.0.0.1:${port}`,
      ...(opts.viaProxy ? { WHIRLPOOL_DB_URL: proxy.rewriteUrl(db.url) } : {}),
      ...(opts.skewMs ? { WHIRLPOOL_TEST_CLOCK_SKEW_MS: String(opts.skewMs) } : {}),
    },
    nodeArgs: opts.skewMs ? ['--import', './test/support/skew_clock.ts'] : [],
    onLine: (_line, raw) => recorder.recordLogLine(raw),
  });
  procs.set(id, p);
  if (opts.waitStarted !== false) await p.waitFor((l) => l.msg === 'coordinator started', 60_000);
  return p;
}

function serving(id: string): string[] {
  return POOLS.filter((p) => recorder.servingNow(p).includes(id));
}

function allServedOnce(): boolean {
  return POOLS.every((p) => recorder.servingNow(p).length === 1);
}

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) {
      const state = POOLS.map((p) => `${p}: ${recorder.servingNow(p).join(',') || '-'}`).join('; ');
      throw new Error(`Timed out waiting for: ${what} (${state})`);
    }
    await sleep(50);
  }
}

function expectNoOverlap(): void {
  const o = recorder.overlaps();
  expect(o, JSON.stringify(o.slice(0, 3))).toEqual([]);
}

/** Time from `sinceMs` until every pool in `pools` was served again by an instance other than `notBy`. */
async function measureTakeover(
  kind: string,
  pools: string[],
  sinceMs: number,
  notBy: string,
): Promise<number> {
  await waitUntil(`${kind}: pools ${pools.join(',')} served again`, () =>
    pools.every((p) => recorder.servingNow(p).some((i) => i !== notBy)),
  );
  const ms = Math.max(...pools.map((p) => recorder.firstServeAfter(p, sinceMs)!.start - sinceMs));
  takeovers.push({ kind, ms: Math.round(ms) });
  return ms;
}

beforeAll(async () => {
  [db, btcd] = await Promise.all([createTestDatabase('cluster chaos'), startBtcd()]);
  const o = mysqlOptionsFromUrl(db.url);
  proxy = await startTcpProxy({ host: String(o.host), port: Number(o.port) });
  dir = await mkdtemp(join(tmpdir(), 'wp-chaos-'));
  // anonymity set 3 with must-mix only: the three wallets make a mix
  const poolsFile = await writePoolsFile(dir, POOLS, { anonymitySet: 3, mustMixMin: 1, liquidityMin: 0 });
  baseEnv = {
    ...baseCoordinatorEnv({ dbUrl: db.url, rpcUrl: btcd.rpcUrl, poolsFile }),
    WHIRLPOOL_TX0_DELAY_MS: '0',
    WHIRLPOOL_LOG_LEVEL: 'info',
    WHIRLPOOL_DRAIN_TIMEOUT_MS: '5000',
    WHIRLPOOL_DIRECTORY_PRIVATE_KEY: bytesToHex(directoryKey),
  };
  for (const id of IDS) ports.set(id, await freePort());
});

afterAll(async () => {
  for (const w of wallets) w.stop();
  for (const p of procs.values()) p.signal('SIGKILL');
  await Promise.all([...procs.values()].map((p) => p.exit));
  console.log(
    `cluster chaos takeovers (ms): ${JSON.stringify(takeovers)}; client mixes per pool ${JSON.stringify(successes())}`,
  );
  await proxy?.close();
  await btcd?.stop();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('coordinator cluster under chaos (real processes)', () => {
  it('a lone instance serves every pool', async () => {
    await start('a');
    await waitUntil('a serves all pools', () => serving('a').length === 4);
    expectNoOverlap();
  });

  it('four instances (two with skewed clocks, one behind a proxy) share the pools; a fifth stays idle', async () => {
    await Promise.all([
      start('b', { skewMs: 30_000 }),
      start('c', { skewMs: -30_000 }),
      start('d', { viaProxy: true }),
    ]);
    await waitUntil('one pool each on a, b, c, d', () =>
      ['a', 'b', 'c', 'd'].every((i) => serving(i).length === 1),
    );
    await start('e');
    await sleep(3 * POLL + 500);
    expect(serving('e')).toEqual([]);
    expect(allServedOnce()).toBe(true);
    expectNoOverlap();

    // From here on, three wallets per pool mix all the time, knowing only the bootstrap list.
    const bootstrap = {
      urls: IDS.map((id) => `http://127.0.0.1:${ports.get(id)}`),
      directoryPublicKey: bytesToHex(directoryPublicKey(directoryKey)),
    };
    for (const poolId of POOLS) {
      wallets.push(
        await prepareMixingWallets({
          btcd,
          poolId,
          denomination: Math.round(Number.parseFloat(poolId) * 1e8),
          premixPerWallet: 60,
          retries: 1000,
          wallets: [
            { bootstrap, transport: 'websocket' },
            { bootstrap, transport: 'sockjs' },
            { bootstrap, transport: 'websocket' },
          ],
        }),
      );
    }
    workers = Promise.all(wallets.map((w) => w.run()));
    await waitMixAfter(
      'the start',
      POOLS.map(() => 0),
    );
  });

  it('kill -9 of an owner: the idle instance takes its pool within TTL + poll', async () => {
    const pools = serving('a');
    expect(pools.length).toBe(1);
    const before = successes();
    const killedAt = nowMs();
    procs.get('a')!.signal('SIGKILL');
    recorder.closeInstance('a', killedAt);
    const ms = await measureTakeover('kill -9', pools, killedAt, 'a');
    expect(ms).toBeLessThan(TAKEOVER_BOUND);
    expect(serving('e')).toEqual(pools);
    expectNoOverlap();
    await waitMixAfter('kill -9', before);
  });

  it('SIGSTOP longer than the TTL: the pool moves, and the paused instance steps down when resumed', async () => {
    const pools = serving('b');
    expect(pools.length).toBe(1);
    const before = successes();
    const stoppedAt = nowMs();
    procs.get('b')!.signal('SIGSTOP');
    try {
      const ms = await measureTakeover('SIGSTOP', pools, stoppedAt, 'b');
      expect(ms).toBeLessThan(TAKEOVER_BOUND);
      await sleep(1000);
    } finally {
      procs.get('b')!.signal('SIGCONT');
    }
    const unserve = await procs
      .get('b')!
      .waitFor((l) => l.event === 'pool-unserve' && l.poolId === pools[0], 10_000);
    expect(['local-expiry', 'renewal-refused', 'lost']).toContain(unserve.reason);
    if (unserve.reason === 'local-expiry')
      expect(unserve.trustedUntilMs as number).toBeLessThan(stoppedAt + TTL);
    await waitUntil('b rejoins and the cluster rebalances', () =>
      ['b', 'c', 'd', 'e'].every((i) => serving(i).length === 1),
    );
    expectNoOverlap();
    await waitMixAfter('SIGSTOP', before);
  });

  it('database cut for one instance: it steps down, the others take over, it recovers alone', async () => {
    const pools = serving('d');
    expect(pools.length).toBe(1);
    const before = successes();
    const cutAt = nowMs();
    proxy.blackhole();
    try {
      const ms = await measureTakeover('db cut', pools, cutAt, 'd');
      expect(ms).toBeLessThan(TAKEOVER_BOUND);
      expect(serving('d')).toEqual([]);
      const unserve = procs.get('d')!.lines.find((l) => l.event === 'pool-unserve' && l.poolId === pools[0]);
      expect(unserve?.atMs as number).toBeLessThan(cutAt + TTL);
    } finally {
      proxy.heal();
    }
    await waitUntil('d recovers and the cluster rebalances', () =>
      ['b', 'c', 'd', 'e'].every((i) => serving(i).length === 1),
    );
    expectNoOverlap();
    await waitMixAfter('the database cut', before);
  });

  it('rolling restart (SIGTERM drain of every instance in turn) hands pools over without waiting for the TTL', async () => {
    for (const [old, next] of [
      ['b', 'b2'],
      ['c', 'c2'],
      ['d', 'd2'],
      ['e', 'e2'],
    ] as const) {
      const before = successes();
      const pools = serving(old);
      const p = procs.get(old)!;
      p.signal('SIGTERM');
      const exit = await p.exit;
      expect(exit, p.output().slice(-2000)).toEqual({ code: 0, signal: null });
      const releasedAt = Math.max(
        ...p.lines.filter((l) => l.event === 'pool-unserve').map((l) => l.atMs as number),
      );
      if (pools.length > 0) {
        const ms = await measureTakeover('drain', pools, releasedAt, old);
        expect(ms).toBeLessThan(POLL + 700);
      }
      await start(next);
      await waitUntil(`balanced after restarting ${old}`, () => {
        const live = ['b', 'c', 'd', 'e'].map((x) => (x === old || procs.get(`${x}2`) ? `${x}2` : x));
        return allServedOnce() && live.every((i) => serving(i).length === 1);
      });
      expectNoOverlap();
      await waitMixAfter(`restarting ${old}`, before);
    }
  });

  it('the wallets mixed through every fault: each mix recorded once and mined, nobody blamed or banned', async () => {
    const finishedAt = new Date().toISOString();
    await Promise.all(wallets.map((w) => w.finish(15_000)));
    await workers;
    const ok = wallets.flatMap((w) => w.successes());
    const { mixIds } = await expectMixesRecordedOnce({
      dbUrl: db.url,
      btcd,
      successes: ok,
      perMix: 3,
      context: () =>
        `wallets finishing from ${finishedAt}\n${[...procs.values()]
          .flatMap((p) =>
            p.lines
              .filter(
                (l) =>
                  [
                    'input blamed',
                    'mix ended',
                    'shutdown requested',
                    'pool deactivated',
                    'cluster unserve',
                  ].includes(String(l.msg)) &&
                  (l.msg !== 'mix ended' || l.status === 'FAIL'),
              )
              .map((l) => `${p.instanceId} ${JSON.stringify(l)}`),
          )
          .join('\n')}`,
    });
    console.log(
      `cluster chaos: ${mixIds.length} mixes; per pool at each fault: ${JSON.stringify(mixesAfter)}`,
    );
  });
});
