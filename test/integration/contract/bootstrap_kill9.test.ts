/**
 * Contract (tracker issue 6): a running coordinator cluster (two real
 * `coordinator/main.ts` processes on one fresh MariaDB database, btcd
 * regtest, one pool of anonymity set 2), two bootstrap node processes
 * (`bootstrap/node.ts`) reading the directory through the read-only account,
 * and reference clients given ONLY the bootstrap URLs and the pinned
 * directory public key.
 *
 * 1. The clients find the owner of the pool through the bootstrap nodes, make
 *    their Tx0s (REST on a live instance) and mix once: SUCCESS, one mix row
 *    written by the owner.
 * 2. kill -9 of the owner. The time from the kill until BOTH bootstrap nodes
 *    serve the pool at the other instance with a higher lease epoch is
 *    measured (printed) and must stay below the cluster's takeover time plus
 *    the bootstrap cache time (bound explained at {@link TAKEOVER_BOUND_MS}).
 * 3. The earlier clients (their directory still names the dead owner) and
 *    new clients with fresh wallets make new Tx0s and mix on the new owner:
 *    SUCCESS, mix rows with `instance_id` = new owner, txids in btcd, no blame
 *    and no ban.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MixOutcome, type MixPhase, WhirlpoolClient } from '#client/api.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { singlePoolFile } from '#devnet/pools_file.ts';
import { freePort } from '#devnet/ports.ts';
import { type ListeningProcess, spawnListening } from '#devnet/spawn_listening.ts';
import { mergeDirectoryRecords } from '#shared/directory/pool_map.ts';
import { DirectoryResponseSchema } from '#shared/directory/response.ts';
import { directoryPublicKey, verifyDirectoryRecord } from '#shared/directory/signing.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { connectTestDb, createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import {
  createDirectoryReaderAccount,
  type DirectoryReaderAccount,
} from '#test/support/directory_account.ts';
import { pollFor } from '#test/support/poll.ts';

const POOL_ID = '0.01btc';
const DENOMINATION = 1_000_000;
const ANONYMITY_SET = 2;
const POOLS_FILE = singlePoolFile({ id: POOL_ID, denomination: DENOMINATION, anonymitySet: ANONYMITY_SET });

/** Cluster timings: the documented defaults (docs/configuration.md), set explicitly so the bound below holds. */
const LEASE_TTL_MS = 4000;
const CLUSTER_POLL_MS = 1000;
/** Bootstrap nodes' `BOOTSTRAP_CACHE_MS` (default and minimum, docs/directory.md §4). */
const BOOTSTRAP_CACHE_MS = 1000;
/** How often the test asks both bootstrap nodes during the takeover. */
const PROBE_MS = 100;
/**
 * Upper bound of kill -9 → both bootstrap nodes serve the new owner.
 *
 * Nominal path: the dead owner's lease ends at most TTL after its last renewal
 * (≤ 4000 ms after the kill); the survivor acquires it at its next assignment
 * poll (≤ 1000 ms, it polls early when a dead instance's lease is about to
 * expire); its `pool-serve` event triggers `publishNow()` of its directory
 * record at once (not the 15 s periodic tick); each bootstrap node re-reads
 * `directory_view` at most once per 1000 ms and, being under steady traffic
 * from this probe, serves the revalidated rows on the next request. So about
 * TTL + poll + cache + probe ≈ 6.1 s.
 *
 * Slack (+4 s): CI runs two integration files at once on two cores, so timers
 * of the survivor, its DB round trips (lease acquire, publish) and the
 * bootstrap nodes' background revalidation can each lag by hundreds of ms.
 * Without the publish-on-takeover hook the new record would only appear at the
 * survivor's next 15 s tick, usually past this bound.
 */
const TAKEOVER_BOUND_MS = LEASE_TTL_MS + CLUSTER_POLL_MS + BOOTSTRAP_CACHE_MS + PROBE_MS + 4000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Success = Extract<MixOutcome, { status: 'SUCCESS' }>;

/** A pool's owner as a bootstrap node serves it: from the verified records and from the informative map. */
interface ServedOwner {
  instanceId: string;
  epoch: number;
  mapInstanceId: string | null;
}

describe('coordinator cluster + two bootstrap nodes: kill -9 of the owner, clients follow', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let account: DirectoryReaderAccount;
  let dir: string;
  const procs: CoordinatorProcess[] = [];
  const urls = new Map<string, string>();
  const bootstraps: ListeningProcess[] = [];
  const privateKey = ed25519.utils.randomSecretKey();
  const publicKey = directoryPublicKey(privateKey);
  /** Set by the first test. */
  let ownerId = '';
  let ownerEpoch = 0;
  const earlier: WhirlpoolClient[] = [];

  const logs = () =>
    [
      ...procs.map((p) => `--- ${p.instanceId}:\n${p.output().slice(-3000)}`),
      ...bootstraps.map((b, i) => `--- bootstrap ${i}:\n${b.output().slice(-1000)}`),
    ].join('\n');

  async function query<T extends RowDataPacket>(sql: string, args: unknown[] = []): Promise<T[]> {
    const conn = await connectTestDb(db.url);
    try {
      const [rows] = await conn.query<T[]>(sql, args);
      return rows;
    } finally {
      await conn.end();
    }
  }

  async function leaseOwner(): Promise<{ owner: string; epoch: number } | null> {
    const rows = await query<RowDataPacket>(
      'SELECT owner, epoch FROM pool_lease WHERE pool_id = ? AND lease_until > NOW(3)',
      [POOL_ID],
    );
    const r = rows[0];
    return r?.owner ? { owner: String(r.owner), epoch: Number(r.epoch) } : null;
  }

  /** What one bootstrap node's `GET /instances` says about the pool (records verified under the pinned key). */
  async function servedOwner(bootstrapUrl: string): Promise<ServedOwner | null> {
    const res = await fetch(`${bootstrapUrl}/instances`, { signal: AbortSignal.timeout(3000) });
    if (res.status !== 200) {
      await res.body?.cancel();
      return null;
    }
    const body = DirectoryResponseSchema.parse(await res.json());
    const now = Date.now();
    const merged = mergeDirectoryRecords(body.records.map((r) => verifyDirectoryRecord(r, publicKey, now)));
    const owner = merged.pools.get(POOL_ID);
    if (!owner) return null;
    const mapped = body.pools?.[POOL_ID]?.instanceId ?? null;
    return { instanceId: owner.instanceId, epoch: owner.epoch, mapInstanceId: mapped };
  }

  /** A reference client that knows only the bootstrap URLs and the directory public key. */
  function newClient(i: number): WhirlpoolClient {
    return new WhirlpoolClient({
      bootstrap: { urls: bootstraps.map((b) => b.url), directoryPublicKey: bytesToHex(publicKey) },
      wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' }),
      rpc: btcd.rpc,
      transport: i % 2 === 0 ? 'websocket' : 'sockjs',
      reconnectDelayMs: 500,
      reconnectUntilMs: 30_000,
    });
  }

  /** Funds a new deposit per client, makes one Tx0 of it each (REST through the directory), mines it; returns the premixes. */
  async function premixes(clients: readonly WhirlpoolClient[]) {
    const deposits = clients.map((c) => c.wallet.account('deposit').nextKey(0).address);
    await btcd.wallet.fundMany(deposits.map((address) => ({ address, sats: 1_100_000n })));
    await btcd.mine(1);
    const utxos = [];
    for (const [i, c] of clients.entries()) {
      // the earlier clients also hold the change of their first Tx0: spend only the new deposit
      const deposit = (await c.utxos('deposit')).filter((u) => u.address === deposits[i]);
      expect(deposit).toHaveLength(1);
      const tx0 = await c.tx0({ poolId: POOL_ID, utxos: deposit, feeRate: 2, maxOutputs: 1 });
      utxos.push(c.premixUtxos(tx0)[0]!);
    }
    await btcd.mine(1);
    return utxos;
  }

  /** Mixes each client's premix once (no retry); every outcome, bounded by 60 s. */
  async function mixAll(
    clients: readonly WhirlpoolClient[],
    utxos: ReadonlyArray<ReturnType<WhirlpoolClient['premixUtxos']>[number]>,
  ): Promise<Success[]> {
    const phases: MixPhase[][] = clients.map(() => []);
    const handles = clients.map((c, i) => {
      const h = c.mix(utxos[i]!, { poolId: POOL_ID, maxAttempts: 1 });
      h.on('phase', (p) => phases[i]!.push(p));
      return h;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`mix timed out; phases ${JSON.stringify(phases)}\n${logs()}`)),
        60_000,
      );
    });
    let outcomes: MixOutcome[];
    try {
      outcomes = await Promise.race([Promise.all(handles.map((h) => h.done)), timeout]);
    } finally {
      clearTimeout(timer);
      for (const h of handles) h.stop();
    }
    for (const o of outcomes) expect(o, logs()).toMatchObject({ status: 'SUCCESS' });
    return outcomes as Success[];
  }

  /** Asserts the mixes are recorded as SUCCESS by `instanceId`, their txids stored and known to btcd. */
  async function expectRecorded(outcomes: readonly Success[], instanceId: string): Promise<void> {
    const mixIds = [...new Set(outcomes.map((o) => o.mixId))];
    const txids = [...new Set(outcomes.map((o) => o.receiveUtxo.txid))];
    expect(txids).toHaveLength(mixIds.length);
    const rows = await query<RowDataPacket>(
      'SELECT mix_id, mix_status, instance_id, anonymity_set FROM mix WHERE mix_id IN (?)',
      [mixIds],
    );
    expect(rows).toHaveLength(mixIds.length);
    for (const r of rows) {
      expect(r).toMatchObject({
        mix_status: 'SUCCESS',
        instance_id: instanceId,
        anonymity_set: ANONYMITY_SET,
      });
    }
    const stored = await query<RowDataPacket>('SELECT txid FROM mix_txid WHERE txid IN (?)', [txids]);
    expect(stored.map((r) => String(r.txid)).sort()).toEqual([...txids].sort());
    for (const txid of txids) expect(await btcd.rpc.getRawTransaction(txid)).not.toBeNull();
  }

  beforeAll(async () => {
    [db, btcd, dir] = await Promise.all([
      createTestDatabase('contract bootstrap kill9'),
      startBtcd(),
      mkdtemp(join(tmpdir(), 'wp-kill9-')),
    ]);
    const poolsPath = join(dir, 'pools.json');
    await writeFile(poolsPath, JSON.stringify(POOLS_FILE));
    const words = Wallet.generateMnemonic();
    const start = async (id: string): Promise<void> => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      urls.set(id, url);
      const p = spawnCoordinator({
        instanceId: id,
        env: {
          ...baseCoordinatorEnv({
            dbUrl: db.url,
            rpcUrl: btcd.rpcUrl,
            poolsFile: poolsPath,
            secretWalletWords: words,
          }),
          WHIRLPOOL_SECRET_WALLET_PASSPHRASE: 'kill9',
          WHIRLPOOL_PORT: String(port),
          WHIRLPOOL_URL_CLEAR: url,
          WHIRLPOOL_TX0_DELAY_MS: '0',
          WHIRLPOOL_LOG_LEVEL: 'info',
          WHIRLPOOL_LEASE_TTL_MS: String(LEASE_TTL_MS),
          WHIRLPOOL_CLUSTER_POLL_MS: String(CLUSTER_POLL_MS),
          WHIRLPOOL_DIRECTORY_PRIVATE_KEY: bytesToHex(privateKey),
        },
      });
      procs.push(p);
      await p.waitFor((l) => l.msg === 'coordinator started', 60_000);
    };
    await start('k9-a'); // migrates the schema
    await start('k9-b');
    account = await createDirectoryReaderAccount(db.name);
    for (let i = 0; i < 2; i++) {
      bootstraps.push(
        await spawnListening(process.execPath, ['bootstrap/node.ts'], {
          env: {
            BOOTSTRAP_DB_URL: account.url,
            BOOTSTRAP_PORT: '0',
            BOOTSTRAP_HOST: '127.0.0.1',
            BOOTSTRAP_CACHE_MS: String(BOOTSTRAP_CACHE_MS),
          },
        }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) p.signal('SIGKILL');
    await Promise.all(procs.map((p) => p.exit));
    await Promise.all(bootstraps.map((b) => b.stop()));
    await account?.drop();
    await btcd?.stop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('clients given only the bootstrap URLs find the owner and mix', async () => {
    // the lease settles on one instance and both bootstrap nodes serve it
    const settled = await pollFor(
      'the pool leased and served by both bootstrap nodes',
      async () => {
        const lease = await leaseOwner();
        if (!lease) return null;
        for (const b of bootstraps) {
          const served = await servedOwner(b.url);
          if (served?.instanceId !== lease.owner || served.epoch !== lease.epoch) return null;
        }
        await sleep(1500);
        const again = await leaseOwner();
        return again?.owner === lease.owner && again.epoch === lease.epoch ? lease : null;
      },
      { timeoutMs: 30_000, intervalMs: 300, retryErrors: true },
    );
    ownerId = settled.owner;
    ownerEpoch = settled.epoch;

    const clients = Array.from({ length: ANONYMITY_SET }, (_, i) => newClient(i));
    for (const c of clients) expect((await c.directory!.ownerOf(POOL_ID)).instanceId).toBe(ownerId);
    const utxos = await premixes(clients);
    const outcomes = await mixAll(clients, utxos);
    expect(new Set(outcomes.map((o) => o.receiveUtxo.txid)).size).toBe(1);
    await expectRecorded(outcomes, ownerId);
    expect((await leaseOwner())?.owner).toBe(ownerId);
    earlier.push(...clients);
  }, 90_000);

  it('after kill -9 of the owner both bootstrap nodes show the new owner in time, and clients follow', async () => {
    expect(ownerId).not.toBe('');
    const survivorId = procs.find((p) => p.instanceId !== ownerId)!.instanceId;
    const owner = procs.find((p) => p.instanceId === ownerId)!;

    const killedAt = Date.now();
    owner.signal('SIGKILL');
    expect((await owner.exit).signal).toBe('SIGKILL');
    const seenAt = await Promise.all(
      bootstraps.map(async (b) => {
        for (;;) {
          const served = await servedOwner(b.url).catch(() => null);
          if (served && served.instanceId !== ownerId && served.epoch > ownerEpoch) {
            expect(served).toMatchObject({ instanceId: survivorId, mapInstanceId: survivorId });
            return Date.now() - killedAt;
          }
          if (Date.now() - killedAt > 60_000) throw new Error(`bootstrap ${b.url} never moved\n${logs()}`);
          await sleep(PROBE_MS);
        }
      }),
    );
    const takeoverMs = Math.max(...seenAt);
    console.log(
      `bootstrap kill -9: both bootstrap nodes serve the new owner ${survivorId} ${takeoverMs} ms after the kill ` +
        `(per node: ${seenAt.join(', ')} ms; bound ${TAKEOVER_BOUND_MS} ms)`,
    );
    expect(takeoverMs).toBeLessThan(TAKEOVER_BOUND_MS);
    const lease = await leaseOwner();
    expect(lease?.owner).toBe(survivorId);
    expect(lease!.epoch).toBeGreaterThan(ownerEpoch);

    // the earlier clients still hold a directory naming the dead owner; new ones start from the bootstrap nodes
    for (const c of earlier) expect(c.directory!.current()?.pools.get(POOL_ID)?.instanceId).toBe(ownerId);
    const fresh = Array.from({ length: ANONYMITY_SET }, (_, i) => newClient(i + 1));
    const clients = [...earlier, ...fresh];
    const utxos = await premixes(clients);
    const outcomes = await mixAll(clients, utxos);
    expect(new Set(outcomes.map((o) => o.receiveUtxo.txid)).size).toBe(clients.length / ANONYMITY_SET);
    await expectRecorded(outcomes, survivorId);
    // every client's directory now names the survivor as the owner
    for (const c of clients) expect(c.directory!.current()?.pools.get(POOL_ID)?.instanceId).toBe(survivorId);

    const blames = await query<RowDataPacket>('SELECT COUNT(*) AS n FROM blame');
    const bans = await query<RowDataPacket>('SELECT COUNT(*) AS n FROM ban');
    expect(Number(blames[0]!.n)).toBe(0);
    expect(Number(bans[0]!.n)).toBe(0);
  }, 90_000);
});
