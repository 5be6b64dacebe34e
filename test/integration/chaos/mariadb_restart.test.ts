/**
 * Chaos: MariaDB restarts under a 3-instance cluster of real coordinator
 * processes while three wallets mix all the time in one pool (anonymity set
 * 3; one unmodified 0.23 client relayed by instance a, two following
 * redirects). The suite runs its own MariaDB server
 * (test/support/mariadb_server.ts), so it can really kill and restart it
 * without disturbing the suites that share 127.0.0.1:3306.
 *
 * 1. kill -9 of MariaDB at the moment the clients are signing, restarted at
 *    once: the mix is broadcast while the database is down; its result is
 *    written when the database is back (coordinator/store/result_retry.ts),
 *    and the owner keeps its lease (the outage is shorter than TTL − margin).
 * 2. MariaDB stopped for longer than the TTL: every instance stops serving
 *    the pool before its lease could have been taken over; after the restart
 *    the pool is served again within TTL + one poll, and mixing resumes.
 *
 * Throughout: never two instances serving the pool at once; every UTXO ends
 * mixed; every successful mix recorded exactly once (mix, mix_txid) and
 * mined; no blame and no ban; every process survives and stops with exit 0.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, nowMs, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { singlePoolFile } from '#devnet/pools_file.ts';
import { freePort } from '#devnet/ports.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { connectTestDb } from '#test/support/db.ts';
import { type MariaDbServer, startMariaDbServer } from '#test/support/mariadb_server.ts';
import { expectMixesRecordedOnce } from '#test/support/mix_records.ts';
import { type MixingWallets, prepareMixingWallets } from '#test/support/mixing_wallets.ts';
import { ServeRecorder } from '#test/support/serve_recorder.ts';

const POOL_ID = '0.01btc';
const DENOMINATION = 1_000_000;
const PREMIX_PER_WALLET = 8;
const INSTANCES = ['a', 'b', 'c'] as const;
/** Lease timing of this suite (TTL above the default so a crash restart of MariaDB fits well inside TTL − margin). */
const TTL = 8000;
const MARGIN = 1000;
const POLL = 1000;
/** Scheduling slack of a loaded 2-core CI machine, added to the bounds asserted. */
const SLACK = 1500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('MariaDB restarts under a mixing cluster', () => {
  let server: MariaDbServer;
  let dbUrl: string;
  let btcd: BtcdNode;
  let dir: string;
  let baseEnv: Record<string, string>;
  let wallets: MixingWallets;
  let workers: Promise<void>;
  const recorder = new ServeRecorder();
  const procs = new Map<string, CoordinatorProcess>();
  const ports = new Map<string, number>();
  const url = (id: string) => `http://127.0.0.1:${ports.get(id)}`;
  const owner = () => recorder.servingNow(POOL_ID);
  const successes = () => wallets?.successes().length ?? 0;
  const logs = () =>
    [...procs.values()].map((p) => `--- ${p.instanceId}:\n${p.output().slice(-2500)}`).join('\n');
  const logLines = (msg: string) => [...procs.values()].flatMap((p) => p.lines.filter((l) => l.msg === msg));

  async function waitUntil(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > until)
        throw new Error(`Timed out waiting for: ${what}; owner ${owner().join(',') || '-'}\n${logs()}`);
      await sleep(50);
    }
  }

  async function start(id: string): Promise<void> {
    const p = spawnCoordinator({
      instanceId: id,
      env: { ...baseEnv, WHIRLPOOL_PORT: String(ports.get(id)), WHIRLPOOL_URL_CLEAR: url(id) },
      onLine: (_line, raw) => recorder.recordLogLine(raw),
    });
    procs.set(id, p);
    await p.waitFor((l) => l.msg === 'coordinator started', 60_000);
  }

  beforeAll(async () => {
    [server, btcd, dir] = await Promise.all([
      startMariaDbServer(),
      startBtcd(),
      mkdtemp(join(tmpdir(), 'wp-dbrestart-')),
    ]);
    const conn = await connectTestDb(server.serverUrl);
    await conn.query('CREATE DATABASE whirlpool CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
    await conn.end();
    dbUrl = `${server.serverUrl}/whirlpool`;
    const poolsFile = join(dir, 'pools.json');
    await writeFile(
      poolsFile,
      JSON.stringify(singlePoolFile({ id: POOL_ID, denomination: DENOMINATION, anonymitySet: 3 })),
    );
    baseEnv = {
      ...baseCoordinatorEnv({
        dbUrl,
        rpcUrl: btcd.rpcUrl,
        poolsFile,
        secretWalletWords: Wallet.generateMnemonic(),
      }),
      WHIRLPOOL_TX0_DELAY_MS: '0',
      WHIRLPOOL_LOG_LEVEL: 'info',
      WHIRLPOOL_LEASE_TTL_MS: String(TTL),
      WHIRLPOOL_LEASE_MARGIN_MS: String(MARGIN),
      WHIRLPOOL_CLUSTER_POLL_MS: String(POLL),
      WHIRLPOOL_DRAIN_TIMEOUT_MS: '20000',
    };
    for (const id of INSTANCES) ports.set(id, await freePort());
  });

  afterAll(async () => {
    wallets?.stop();
    for (const p of procs.values()) p.signal('SIGKILL');
    await Promise.all([...procs.values()].map((p) => p.exit));
    await btcd?.stop();
    await server?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a cluster of three mixes on its own MariaDB', async () => {
    await start('a');
    await waitUntil('a serves the pool', () => owner().join() === 'a');
    await Promise.all([start('b'), start('c')]);
    wallets = await prepareMixingWallets({
      btcd,
      poolId: POOL_ID,
      denomination: DENOMINATION,
      premixPerWallet: PREMIX_PER_WALLET,
      retries: 5,
      wallets: INSTANCES.map((id, i) => ({
        url: url(id),
        acceptRedirect: i !== 0,
        transport: i === 1 ? 'sockjs' : 'websocket',
      })),
    });
    workers = wallets.run();
    await waitUntil('a first mix', () => successes() >= 1, 90_000);
  });

  it('kill -9 of MariaDB while clients sign: the broadcast mix is recorded once the database is back', async () => {
    const ownerBefore = owner();
    expect(ownerBefore).toHaveLength(1);
    const before = successes();
    // At the first SIGNING of a mix, kill MariaDB synchronously: the coordinator
    // needs every signature (sent right after this listener returns) before it
    // broadcasts and saves, so the save meets a dead database.
    let killedAt = 0;
    const off = wallets.onPhase((_wallet, phase) => {
      if (phase === 'SIGNING' && killedAt === 0 && server.pid !== null) {
        killedAt = nowMs();
        process.kill(server.pid, 'SIGKILL');
      }
    });
    await waitUntil('a mix reaches SIGNING', () => killedAt > 0, 90_000);
    off();
    await server.kill(); // wait for the exit
    await server.start();
    const upAt = nowMs();
    console.log(`MariaDB crash restart took ${Math.round(upAt - killedAt)} ms`);

    await waitUntil('the signed mix succeeds', () => successes() > before, 60_000);
    await waitUntil(
      'its result is written after the restart',
      () => logLines('mix result saved after retry').length >= 1,
      30_000,
    );
    expect(logLines('mix result not saved yet, will retry').length).toBeGreaterThanOrEqual(1);
    expect(logLines('mix result refused by the lease fence: not recorded')).toEqual([]);
    // The outage was shorter than TTL − margin: the owner kept the pool, nobody else served it.
    expect(owner()).toEqual(ownerBefore);
    expect(recorder.intervals.filter((iv) => iv.start > killedAt)).toEqual([]);
    expect(recorder.overlaps()).toEqual([]);
  });

  it('MariaDB down for longer than the TTL: everyone steps down, the pool is served again within TTL + poll after', async () => {
    const ownerBefore = owner()[0]!;
    const before = successes();
    const stopAt = nowMs();
    await server.stop();
    const downAt = nowMs();
    await sleep(TTL + 2000);
    // Every instance stepped down before the lease expired in database time.
    expect(owner()).toEqual([]);
    const unserve = procs
      .get(ownerBefore)!
      .lines.find((l) => l.event === 'pool-unserve' && l.poolId === POOL_ID && (l.atMs as number) > stopAt);
    expect(unserve?.atMs as number).toBeLessThan(downAt + TTL);
    const startAt = nowMs();
    await server.start();
    const upAt = nowMs();
    await waitUntil('the pool is served again', () => owner().length === 1, 30_000);
    // The first serve after the outage began (an instance may reconnect a moment before this suite's own probe does).
    const serve = recorder.firstServeAfter(POOL_ID, stopAt)!;
    expect(serve.start).toBeGreaterThan(startAt);
    const servedAgain = serve.start - upAt;
    console.log(`pool served again ${Math.round(servedAgain)} ms after MariaDB answered`);
    expect(servedAgain).toBeLessThan(TTL + POLL + SLACK);
    await waitUntil('mixing resumes', () => successes() > before, 90_000);
    expect(recorder.overlaps()).toEqual([]);
  });

  it('every UTXO ends mixed, each mix recorded once and mined, nobody blamed, every process exits 0', async () => {
    await Promise.race([
      workers,
      sleep(100_000).then(() => {
        throw new Error(
          `workers did not finish: ${successes()} mixes; not SUCCESS: ${JSON.stringify(wallets.outcomes.filter((o) => o.outcome.status !== 'SUCCESS'))}\n${logs()}`,
        );
      }),
    ]);
    expect(
      wallets.outcomes.filter((o) => o.outcome.status !== 'SUCCESS'),
      logs(),
    ).toEqual([]);
    expect(wallets.outcomes).toHaveLength(INSTANCES.length * PREMIX_PER_WALLET);
    const { mixIds } = await expectMixesRecordedOnce({
      dbUrl,
      btcd,
      successes: wallets.successes(),
      perMix: 3,
    });
    expect(mixIds).toHaveLength(PREMIX_PER_WALLET);
    for (const p of procs.values()) {
      expect(p.exited, `${p.instanceId} died`).toBe(false);
      p.signal('SIGTERM');
      expect(await p.exit, p.output().slice(-2000)).toEqual({ code: 0, signal: null });
    }
    expect(recorder.overlaps()).toEqual([]);
  });
});
