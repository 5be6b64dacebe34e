/**
 * Relay end to end with real parts: two coordinator processes
 * (`node coordinator/main.ts`) on one MariaDB database and one btcd regtest,
 * one pool of anonymity set 3. Three reference clients configured as
 * UNMODIFIED 0.23 clients (no `acceptRedirect`) all talk only to the
 * instance that does NOT serve the pool (REST Tx0, STOMP mix over raw
 * WebSocket and SockJS, registerOutput): the non-owner relays their STOMP
 * sessions to the owner (docs/protocol-addendum-redirect.md §6), the mix
 * succeeds, is broadcast, mined and recorded in MySQL, and nobody is blamed.
 * Then kill -9 of the owner while two relayed clients wait in its queue:
 * their sessions are closed, they reconnect at once (spec §9.4), are routed
 * again once the survivor took the pool over, and mix there with a third
 * client, still without blame.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MixHandle, type MixOutcome, type MixPhase, type Tx0, WhirlpoolClient } from '#client/api.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { singlePoolFile } from '#devnet/pools_file.ts';
import { freePort } from '#devnet/ports.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { connectTestDb, createTestDatabase, type TestDatabase } from '#test/support/db.ts';

const POOL_ID = '0.01btc';
const DENOMINATION = 1_000_000;
const CLIENTS = 3;

const POOLS_FILE = singlePoolFile({ id: POOL_ID, denomination: DENOMINATION, anonymitySet: CLIENTS });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('unmodified 0.23 clients mix through the instance that does not serve their pool', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let dir: string;
  const procs: CoordinatorProcess[] = [];
  const urls = new Map<string, string>();
  /** Set by the first test: the instance serving the pool, and the other one (where clients connect). */
  let ownerId = '';
  let relayId = '';
  const proc = (id: string) => procs.find((p) => p.instanceId === id)!;
  const logs = () => procs.map((p) => `--- ${p.instanceId}:\n${p.output().slice(-3000)}`).join('\n');

  /** `n` reference clients on the non-owner, as unmodified 0.23 clients, each with one confirmed premix UTXO. */
  async function clientsWithPremix(n: number, offset: number) {
    const clients = Array.from(
      { length: n },
      (_, i) =>
        new WhirlpoolClient({
          serverUrl: urls.get(relayId)!,
          wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' }),
          rpc: btcd.rpc,
          transport: (i + offset) % 2 === 0 ? 'websocket' : 'sockjs',
          wsPath: i + offset === 0 ? '/ws/connect' : undefined,
          reconnectDelayMs: 500,
          reconnectUntilMs: 20_000,
          // acceptRedirect not set: unmodified 0.23 clients
        }),
    );
    const deposits = clients.map((c) => c.wallet.account('deposit').nextKey(0).address);
    await btcd.wallet.fundMany(deposits.map((address) => ({ address, sats: 1_100_000n })));
    await btcd.mine(1);
    const tx0s: Tx0[] = [];
    for (const c of clients) {
      const utxos = await c.utxos('deposit');
      expect(utxos).toHaveLength(1);
      tx0s.push(await c.tx0({ poolId: POOL_ID, utxos, feeRate: 2, maxOutputs: 1 }));
    }
    await btcd.mine(1);
    return clients.map((c, i) => ({ client: c, utxo: c.premixUtxos(tx0s[i]!)[0]! }));
  }

  /** Waits for every handle's outcome (bounded), stopping them all on the way out. */
  async function outcomesOf(handles: MixHandle[], phases: MixPhase[][]): Promise<MixOutcome[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`mix timed out; phases ${JSON.stringify(phases)}\n${logs()}`)),
        120_000,
      );
    });
    try {
      return await Promise.race([Promise.all(handles.map((h) => h.done)), timeout]);
    } finally {
      clearTimeout(timer);
      for (const h of handles) h.stop();
    }
  }

  async function query<T extends RowDataPacket>(sql: string, args: unknown[] = []): Promise<T[]> {
    const conn = await connectTestDb(db.url);
    try {
      const [rows] = await conn.query<T[]>(sql, args);
      return rows;
    } finally {
      await conn.end();
    }
  }

  async function leaseOwner(): Promise<string | null> {
    const rows = await query<RowDataPacket & { owner: string | null }>(
      'SELECT owner FROM pool_lease WHERE pool_id = ? AND lease_until > NOW(3)',
      [POOL_ID],
    );
    return rows[0]?.owner ?? null;
  }

  beforeAll(async () => {
    [db, btcd, dir] = await Promise.all([
      createTestDatabase('cluster relay'),
      startBtcd(),
      mkdtemp(join(tmpdir(), 'wp-relay-')),
    ]);
    const poolsPath = join(dir, 'pools.json');
    await writeFile(poolsPath, JSON.stringify(POOLS_FILE));
    const words = Wallet.generateMnemonic();
    for (const id of ['relay-a', 'relay-b']) {
      const port = await freePort();
      urls.set(id, `http://127.0.0.1:${port}`);
      procs.push(
        spawnCoordinator({
          instanceId: id,
          env: {
            ...baseCoordinatorEnv({
              dbUrl: db.url,
              rpcUrl: btcd.rpcUrl,
              poolsFile: poolsPath,
              secretWalletWords: words,
            }),
            WHIRLPOOL_SECRET_WALLET_PASSPHRASE: 'relay',
            WHIRLPOOL_PORT: String(port),
            WHIRLPOOL_URL_CLEAR: `http://127.0.0.1:${port}`,
            WHIRLPOOL_TX0_DELAY_MS: '0',
            WHIRLPOOL_LOG_LEVEL: 'info',
            WHIRLPOOL_DRAIN_TIMEOUT_MS: '3000',
          },
        }),
      );
    }
    await Promise.all(procs.map((p) => p.waitFor((l) => l.msg === 'coordinator started', 60_000)));
  });

  afterAll(async () => {
    for (const p of procs) p.signal('SIGKILL');
    await Promise.all(procs.map((p) => p.exit));
    await btcd?.stop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('mixes, broadcasts, mines and records the mix; no blame', async () => {
    // The pool settles on one instance (assignment is deterministic); the other one is where clients go.
    let owner: string | null = null;
    const settleUntil = Date.now() + 30_000;
    for (;;) {
      const a = await leaseOwner();
      await sleep(3000);
      const b = await leaseOwner();
      if (a !== null && a === b) {
        owner = a;
        break;
      }
      if (Date.now() > settleUntil) throw new Error(`pool ${POOL_ID} lease did not settle (${a} → ${b})`);
    }
    ownerId = owner;
    relayId = owner === 'relay-a' ? 'relay-b' : 'relay-a';
    const relayProc = proc(relayId);
    const ownerProc = proc(ownerId);

    const premix = await clientsWithPremix(CLIENTS, 0);
    const clients = premix.map((p) => p.client);
    const phases: MixPhase[][] = clients.map(() => []);
    const redirects: unknown[] = [];
    const handles = premix.map(({ client, utxo }, i) => {
      const h = client.mix(utxo, { poolId: POOL_ID, maxAttempts: 1 });
      h.on('phase', (p) => phases[i]!.push(p));
      h.on('redirect', (r) => redirects.push(r));
      return h;
    });
    const outcomes = await outcomesOf(handles, phases);
    for (const o of outcomes) expect(o, logs()).toMatchObject({ status: 'SUCCESS' });
    expect(redirects).toEqual([]);
    const ok = outcomes.filter(
      (o): o is Extract<MixOutcome, { status: 'SUCCESS' }> => o.status === 'SUCCESS',
    );
    const txids = new Set(ok.map((o) => o.receiveUtxo.txid));
    const mixIds = new Set(ok.map((o) => o.mixId));
    expect(txids.size).toBe(1);
    expect(mixIds.size).toBe(1);
    const [mixTxid] = [...txids];

    // The sessions really went through the relay: the non-owner relayed, the owner saw relayed subscribes.
    const relayed = relayProc.lines.filter(
      (l) => l.msg === 'relaying unmodified client to the owner of its pool',
    );
    expect(relayed.length).toBeGreaterThanOrEqual(CLIENTS);
    expect(
      ownerProc.lines.filter((l) => l.msg === 'relayed subscribe' && l.relayedBy === relayId).length,
    ).toBeGreaterThanOrEqual(CLIENTS);

    // Broadcast by the owner, mined, paying each client's postmix address.
    expect(await btcd.rpc.getRawTransaction(mixTxid!)).not.toBeNull();
    await btcd.mine(1);
    for (const [i, o] of ok.entries()) {
      expect(await clients[i]!.utxos('postmix')).toEqual([
        expect.objectContaining({
          txid: mixTxid,
          vout: o.receiveUtxo.vout,
          value: DENOMINATION,
          confirmations: 1,
        }),
      ]);
    }

    // Recorded in MySQL by the owner; nobody blamed.
    const mixes = await query<RowDataPacket>(
      'SELECT mix_id, mix_status, anonymity_set, nb_must_mix FROM mix WHERE mix_status = ?',
      ['SUCCESS'],
    );
    expect(mixes).toEqual([
      expect.objectContaining({ mix_id: [...mixIds][0], anonymity_set: CLIENTS, nb_must_mix: CLIENTS }),
    ]);
    const blames = await query<RowDataPacket & { n: number }>('SELECT COUNT(*) AS n FROM blame');
    expect(Number(blames[0]!.n)).toBe(0);
    // The pool never moved during the test.
    expect(await leaseOwner()).toBe(owner);
  });

  it('kill -9 of the owner: relayed clients reconnect, are routed again and mix on the survivor', async () => {
    expect(ownerId).not.toBe('');
    const survivor = proc(relayId);
    const premix = await clientsWithPremix(CLIENTS, 1);
    const phases: MixPhase[][] = premix.map(() => []);
    const reconnects: Array<{ lost: boolean }> = [];
    const start = (i: number): MixHandle => {
      const h = premix[i]!.client.mix(premix[i]!.utxo, { poolId: POOL_ID, maxAttempts: 1 });
      h.on('phase', (p) => phases[i]!.push(p));
      h.on('reconnect', (r) => reconnects.push(r));
      return h;
    };
    // Two clients wait at the owner (anonymity set 3: the mix cannot go past CONFIRM_INPUT).
    const first = [start(0), start(1)];
    const until = Date.now() + 30_000;
    for (;;) {
      const pool = (await premix[0]!.client.listPools()).find((p) => p.poolId === POOL_ID);
      if (pool && pool.nbRegistered + pool.nbConfirmed === 2) break; // queued or already confirmed in the open mix
      if (Date.now() > until)
        throw new Error(`inputs not registered at the owner: ${JSON.stringify(pool)}\n${logs()}`);
      await sleep(250);
    }
    const before = reconnects.length;
    proc(ownerId).signal('SIGKILL');
    await proc(ownerId).exit;
    await survivor.waitFor((l) => l.event === 'pool-serve' && l.poolId === POOL_ID, 30_000);
    const third = start(2);
    const outcomes = await outcomesOf([...first, third], phases);
    for (const o of outcomes) expect(o, logs()).toMatchObject({ status: 'SUCCESS' });
    const lost = reconnects.slice(before).filter((r) => r.lost).length;
    expect(lost).toBeGreaterThanOrEqual(2);
    // Until the dead owner's lease expires the survivor keeps relaying to it; failed dials close the
    // client only after 1 s, so the reconnect loop stays slow (2 clients × ~5 s ≈ 10, not hundreds).
    const failedRelays = survivor.lines.filter(
      (l) => l.msg === 'relay ended by the upstream side, closing the client session',
    ).length;
    console.log(
      `cluster relay: after kill -9, ${lost} lost-connection reconnects, ${failedRelays} relays ended by the owner side`,
    );
    expect(failedRelays).toBeLessThan(30);
    const txids = new Set(outcomes.map((o) => (o.status === 'SUCCESS' ? o.receiveUtxo.txid : null)));
    expect(txids.size).toBe(1);

    const mixes = await query<RowDataPacket>('SELECT mix_id FROM mix WHERE mix_status = ?', ['SUCCESS']);
    expect(mixes).toHaveLength(2);
    const blames = await query<RowDataPacket & { n: number }>('SELECT COUNT(*) AS n FROM blame');
    expect(Number(blames[0]!.n)).toBe(0);
  });
});
