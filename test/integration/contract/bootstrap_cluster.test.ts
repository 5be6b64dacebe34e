/**
 * Contract: a running coordinator cluster (two `coordinator/main.ts`
 * processes on one MariaDB, btcd regtest) publishes its signed directory;
 * two bootstrap node processes serve it through the read-only account; a
 * client given only the bootstrap URLs and the pinned public key finds the
 * owner of every pool (as recorded in `pool_lease`) and follows a pool move
 * when one instance drains.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryClient } from '#client/discovery/directory_client.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { freePort } from '#devnet/ports.ts';
import { type ListeningProcess, spawnListening } from '#devnet/spawn_listening.ts';
import { directoryPublicKey } from '#shared/directory/signing.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { createTestDatabase, createTestPool, type TestDatabase } from '#test/support/db.ts';
import {
  createDirectoryReaderAccount,
  type DirectoryReaderAccount,
} from '#test/support/directory_account.ts';
import { pollFor } from '#test/support/poll.ts';

const POOLS = ['0.001btc', '0.01btc'];

interface Coordinator {
  id: string;
  url: string;
  child: ChildProcess;
  output(): string;
  started: Promise<void>;
  exited: Promise<number | null>;
}

function startCoordinatorProcess(id: string, port: number, env: Record<string, string>): Coordinator {
  const child = spawn(process.execPath, ['coordinator/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      ...env,
      WHIRLPOOL_INSTANCE_ID: id,
      WHIRLPOOL_PORT: String(port),
      WHIRLPOOL_URL_CLEAR: `http://127.0.0.1:${port}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const started = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"coordinator started"')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) =>
      reject(new Error(`coordinator ${id} exited (${code}) before starting:\n${out}`)),
    );
  });
  started.catch(() => undefined);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { id, url: `http://127.0.0.1:${port}`, child, output: () => out, started, exited };
}

async function until<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  return pollFor(what, fn, { timeoutMs, intervalMs: 500, retryErrors: true });
}

describe('coordinator cluster + bootstrap nodes + discovery client', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let account: DirectoryReaderAccount;
  const coordinators: Coordinator[] = [];
  const bootstraps: ListeningProcess[] = [];
  const privateKey = ed25519.utils.randomSecretKey();
  const publicKeyHex = bytesToHex(directoryPublicKey(privateKey));

  async function leaseOwners(): Promise<Record<string, string | null>> {
    const pool = createTestPool(db.url, { connectionLimit: 1 });
    try {
      const [rows] = await pool.query<RowDataPacket[]>(
        'SELECT pool_id, IF(lease_until > NOW(3), owner, NULL) AS owner FROM pool_lease',
      );
      return Object.fromEntries(rows.map((r) => [r.pool_id as string, (r.owner as string | null) ?? null]));
    } finally {
      await pool.end();
    }
  }

  beforeAll(async () => {
    [db, btcd] = await Promise.all([
      createTestDatabase('contract_bootstrap'),
      startBtcd({ matureBlocks: 1 }),
    ]);
    const env = {
      ...baseCoordinatorEnv({ dbUrl: db.url, rpcUrl: btcd.rpcUrl }),
      WHIRLPOOL_SECRET_WALLET_PASSPHRASE: 'contract-secret',
      WHIRLPOOL_LOG_LEVEL: 'info',
      WHIRLPOOL_LEASE_TTL_MS: '6000',
      WHIRLPOOL_CLUSTER_POLL_MS: '500',
      WHIRLPOOL_DRAIN_TIMEOUT_MS: '3000',
      WHIRLPOOL_DIRECTORY_PRIVATE_KEY: bytesToHex(privateKey),
    };
    const c1 = startCoordinatorProcess('c1', await freePort(), env);
    coordinators.push(c1);
    await c1.started; // c1 migrates the schema first
    const c2 = startCoordinatorProcess('c2', await freePort(), env);
    coordinators.push(c2);
    await c2.started;
    account = await createDirectoryReaderAccount(db.name);
    for (let i = 0; i < 2; i++) {
      bootstraps.push(
        await spawnListening(process.execPath, ['bootstrap/node.ts'], {
          env: { BOOTSTRAP_DB_URL: account.url, BOOTSTRAP_PORT: '0', BOOTSTRAP_HOST: '127.0.0.1' },
        }),
      );
    }
  });
  afterAll(async () => {
    for (const c of coordinators) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    await Promise.all(bootstraps.map((b) => b.stop()));
    await account?.drop();
    await btcd?.stop();
    await db?.drop();
  });

  it('a client given only bootstrap URLs finds the lease owner of every pool', async () => {
    const owners = await until('both pools leased and published', async () => {
      const o = await leaseOwners();
      // wait for the balanced assignment (one pool each): before it, c1 holds both and is about to hand one over
      if (!POOLS.every((p) => o[p]) || new Set(POOLS.map((p) => o[p])).size !== POOLS.length) return null;
      const client = new DirectoryClient({
        bootstrapUrls: bootstraps.map((b) => b.url),
        publicKey: publicKeyHex,
      });
      for (const p of POOLS) if ((await client.ownerOf(p)).instanceId !== o[p]) return null;
      return o;
    });
    const client = new DirectoryClient({
      bootstrapUrls: bootstraps.map((b) => b.url),
      publicKey: publicKeyHex,
    });
    for (const poolId of POOLS) {
      const owner = await client.ownerOf(poolId);
      expect(owner.instanceId).toBe(owners[poolId]);
      expect(owner.url).toBe(coordinators.find((c) => c.id === owner.instanceId)!.url);
      const pools = await fetch(`${owner.url}/rest/pools`);
      expect(pools.status).toBe(200);
    }
    const any = await client.randomInstance();
    expect(['c1', 'c2']).toContain(any.instanceId);
    // every coordinator is a bootstrap entry too
    const viaInstance = new DirectoryClient({
      bootstrapUrls: [coordinators[1]!.url],
      publicKey: publicKeyHex,
    });
    // the instance's own /instances may answer from its 1 s cache: ask until it is fresh
    const viaOwner = await until('the instance serves the current directory', async () => {
      const o = await viaInstance.ownerOf(POOLS[0]!, { refresh: true }).catch(() => null);
      return o?.instanceId === owners[POOLS[0]!] ? o : null;
    });
    expect(viaOwner.instanceId).toBe(owners[POOLS[0]!]);
  });

  it('after an instance drains, the client finds the new owner on refresh', async () => {
    const c1 = coordinators[0]!;
    c1.child.kill('SIGTERM');
    expect(await c1.exited).toBe(0);
    const client = new DirectoryClient({
      bootstrapUrls: bootstraps.map((b) => b.url),
      publicKey: publicKeyHex,
    });
    // c1's record must be gone from the database at once (withdrawn on drain)...
    const rows = createTestPool(db.url);
    try {
      const [left] = await rows.query<RowDataPacket[]>('SELECT instance_id FROM directory_record');
      expect(left.map((r) => String(r.instance_id))).toEqual(['c2']);
    } finally {
      await rows.end();
    }
    // ...and from what the bootstrap nodes serve within their cache time (they may
    // serve the previous answer while revalidating, so wait for the whole state)
    await until('c2 alone in the directory, owning every pool', async () => {
      for (const p of POOLS)
        if ((await client.ownerOf(p, { refresh: true })).instanceId !== 'c2') return null;
      return [...client.current()!.instances.keys()].join(',') === 'c2' ? true : null;
    });
    expect([...client.current()!.instances.keys()]).toEqual(['c2']);
    expect(await leaseOwners()).toEqual({ '0.001btc': 'c2', '0.01btc': 'c2' });
  });
});
