/**
 * Chaos, with clients mixing all the time: a rolling restart (SIGTERM drain,
 * then a new process on the same id, port and URL, as an operator upgrades)
 * of every instance of a 3-instance cluster of real coordinator processes on
 * one MariaDB database and one btcd regtest node, while three wallets mix
 * their premix UTXOs one after the other in one pool (anonymity set 3, so
 * every mix has one input of each wallet):
 *
 * - wallet 0 is an unmodified 0.23 client on instance a (relayed when a does
 *   not own the pool), wallets 1 and 2 follow redirects from b and c;
 * - each owner is stopped while a mix is running (a client is registering its
 *   output), so the drain has to finish that mix before releasing the lease.
 *
 * Asserts: each stopped process exits 0; mixes succeed before, between and
 * after the restarts; every client outcome is SUCCESS; every successful mix
 * is recorded exactly once (mix, mix_txid) and its transaction is mined; no
 * FAIL row, no blame and no ban; never two instances serving the pool at once.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MixPhase } from '#client/api.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { singlePoolFile } from '#devnet/pools_file.ts';
import { freePort } from '#devnet/ports.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { expectMixesRecordedOnce } from '#test/support/mix_records.ts';
import { type MixingWallets, prepareMixingWallets } from '#test/support/mixing_wallets.ts';
import { ServeRecorder } from '#test/support/serve_recorder.ts';

const POOL_ID = '0.01btc';
const DENOMINATION = 1_000_000;
const WALLETS = 3;
/** Premix UTXOs per wallet = mixes in the run (each mix takes one UTXO of each wallet). */
const PREMIX_PER_WALLET = 9;
const INSTANCES = ['a', 'b', 'c'] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rolling restart of every instance while clients mix', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let dir: string;
  let baseEnv: Record<string, string>;
  const recorder = new ServeRecorder();
  const procs = new Map<string, CoordinatorProcess>();
  const allProcs: CoordinatorProcess[] = [];
  const ports = new Map<string, number>();
  let wallets: MixingWallets | null = null;
  /** Phases seen since the last reset, per wallet (to stop an owner in the middle of a mix). */
  const recentPhases: MixPhase[][] = Array.from({ length: WALLETS }, () => []);

  const url = (id: string) => `http://127.0.0.1:${ports.get(id)}`;
  const logs = () => allProcs.map((p) => `--- ${p.instanceId}:\n${p.output().slice(-2500)}`).join('\n');
  const successes = () => wallets?.successes().length ?? 0;
  const owner = () => recorder.servingNow(POOL_ID);

  async function start(id: string): Promise<CoordinatorProcess> {
    const p = spawnCoordinator({
      instanceId: id,
      env: { ...baseEnv, WHIRLPOOL_PORT: String(ports.get(id)), WHIRLPOOL_URL_CLEAR: url(id) },
      onLine: (_line, raw) => recorder.recordLogLine(raw),
    });
    procs.set(id, p);
    allProcs.push(p);
    await p.waitFor((l) => l.msg === 'coordinator started', 60_000);
    return p;
  }

  async function waitUntil(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > until) {
        throw new Error(
          `Timed out waiting for: ${what}; owner ${owner().join(',') || '-'}; ${successes()} mixes; ` +
            `outcomes ${JSON.stringify(wallets?.outcomes.map((o) => o.outcome.status))}\n${logs()}`,
        );
      }
      await sleep(50);
    }
  }

  beforeAll(async () => {
    [db, btcd, dir] = await Promise.all([
      createTestDatabase('rolling restart mixes'),
      startBtcd(),
      mkdtemp(join(tmpdir(), 'wp-rolling-')),
    ]);
    const poolsFile = join(dir, 'pools.json');
    await writeFile(
      poolsFile,
      JSON.stringify(singlePoolFile({ id: POOL_ID, denomination: DENOMINATION, anonymitySet: WALLETS })),
    );
    baseEnv = {
      ...baseCoordinatorEnv({
        dbUrl: db.url,
        rpcUrl: btcd.rpcUrl,
        poolsFile,
        secretWalletWords: Wallet.generateMnemonic(),
      }),
      WHIRLPOOL_SECRET_WALLET_PASSPHRASE: 'rolling',
      WHIRLPOOL_TX0_DELAY_MS: '0',
      WHIRLPOOL_LOG_LEVEL: 'info',
      WHIRLPOOL_DRAIN_TIMEOUT_MS: '30000',
    };
    for (const id of INSTANCES) ports.set(id, await freePort());
  });

  afterAll(async () => {
    wallets?.stop();
    for (const p of procs.values()) p.signal('SIGKILL');
    await Promise.all([...procs.values()].map((p) => p.exit));
    await btcd?.stop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finishes every mix, records each once, and blames nobody', async () => {
    // a alone first (it takes the pool), then b and c idle beside it.
    await start('a');
    await waitUntil('a serves the pool', () => owner().join() === 'a');
    await Promise.all([start('b'), start('c')]);

    const w = await prepareMixingWallets({
      btcd,
      poolId: POOL_ID,
      denomination: DENOMINATION,
      premixPerWallet: PREMIX_PER_WALLET,
      retries: 0,
      wallets: INSTANCES.map((id, i) => ({
        url: url(id),
        acceptRedirect: i !== 0,
        transport: i === 1 ? 'sockjs' : 'websocket',
      })),
    });
    wallets = w;
    w.onPhase((wallet, phase) => recentPhases[wallet]!.push(phase));
    const workers = w.run();
    await waitUntil('a first mix', () => successes() >= 1, 90_000);

    // Rolling restart: the current owner first whenever it was not restarted yet.
    const restarted: string[] = [];
    const exits: Array<{ id: string; exit: unknown; wasOwner: boolean; mixRunning: boolean }> = [];
    while (restarted.length < INSTANCES.length) {
      const pending = INSTANCES.filter((i) => !restarted.includes(i));
      const [current] = owner();
      const id = current && pending.includes(current as never) ? current : pending[0]!;
      const wasOwner = current === id;
      if (wasOwner) {
        // Stop it in the middle of a mix: once a client is registering its output.
        for (const p of recentPhases) p.length = 0;
        await waitUntil(`a mix in progress on ${id}`, () =>
          recentPhases.some((p) => p.includes('REGISTERING_OUTPUT')),
        );
      }
      const mixRunning = recentPhases.some((p) => p.includes('REGISTERING_OUTPUT') && !p.includes('SUCCESS'));
      const before = successes();
      const p = procs.get(id)!;
      p.signal('SIGTERM');
      const exit = await p.exit;
      exits.push({ id, exit, wasOwner, mixRunning });
      expect(exit, p.output().slice(-3000)).toEqual({ code: 0, signal: null });
      await start(id);
      restarted.push(id);
      await waitUntil(`a mix after restarting ${id}`, () => successes() > before, 90_000);
    }
    await Promise.race([
      workers,
      sleep(100_000).then(() => {
        throw new Error(
          `workers did not finish: ${successes()} mixes; not SUCCESS: ${JSON.stringify(w.outcomes.filter((o) => o.outcome.status !== 'SUCCESS'))}; last phases ${JSON.stringify(recentPhases.map((p) => p.slice(-8)))}\n${logs()}`,
        );
      }),
    ]);
    console.log(`rolling restart: ${JSON.stringify(exits)}; ${successes()} client successes`);

    // Every client outcome is SUCCESS at the first try; each wallet mixed every UTXO once.
    expect(
      w.outcomes.filter((o) => o.outcome.status !== 'SUCCESS' || o.attempts !== 1),
      logs(),
    ).toEqual([]);
    expect(w.outcomes).toHaveLength(WALLETS * PREMIX_PER_WALLET);
    expect(exits.filter((e) => e.wasOwner).length).toBeGreaterThanOrEqual(1);
    const { mixIds, rows } = await expectMixesRecordedOnce({
      dbUrl: db.url,
      btcd,
      successes: w.successes(),
      perMix: WALLETS,
    });
    expect(mixIds).toHaveLength(PREMIX_PER_WALLET);
    // No failed mix at all, and mixes were served by more than one instance.
    expect(rows.filter((m) => m.mix_status !== 'SUCCESS')).toEqual([]);
    expect(new Set(rows.map((m) => m.instance_id)).size).toBeGreaterThanOrEqual(2);
    expect(recorder.overlaps()).toEqual([]);
  });
});
