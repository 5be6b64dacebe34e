/**
 * The client library with directory discovery on real parts: MariaDB, btcd
 * regtest, two real coordinator processes publishing a signed directory, one
 * bootstrap node process. A client given only `bootstrap: { urls: [node],
 * directoryPublicKey }` lists pools on a live instance and its mix session
 * subscribes at the owner of the pool (SubscribePoolResponse there, no
 * redirect); a client pinned to another key is refused with a clear error.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhirlpoolClient } from '#client/api.ts';
import type { MixPhase } from '#client/mix/mix_types.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { freePort } from '#devnet/ports.ts';
import { type ListeningProcess, spawnListening } from '#devnet/spawn_listening.ts';
import { directoryPublicKey } from '#shared/directory/signing.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import {
  createDirectoryReaderAccount,
  type DirectoryReaderAccount,
} from '#test/support/directory_account.ts';

const MNEMONIC =
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const privateKey = ed25519.utils.randomSecretKey();
const publicKeyHex = bytesToHex(directoryPublicKey(privateKey));
let db: TestDatabase;
let btcd: BtcdNode;
let account: DirectoryReaderAccount;
let bootstrap: ListeningProcess;
const procs: Array<CoordinatorProcess & { url: string }> = [];

async function start(id: string): Promise<void> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const p = spawnCoordinator({
    instanceId: id,
    env: {
      WHIRLPOOL_DB_URL: db.url,
      WHIRLPOOL_BITCOIN_RPC_URL: btcd.rpcUrl,
      WHIRLPOOL_NETWORK: 'regtest',
      WHIRLPOOL_POOLS: 'config/pools.regtest.json',
      WHIRLPOOL_SECRET_WALLET_WORDS: 'all all all all all all all all all all all all',
      WHIRLPOOL_HOST: '127.0.0.1',
      WHIRLPOOL_PORT: String(port),
      WHIRLPOOL_URL_CLEAR: url,
      WHIRLPOOL_LOG_LEVEL: 'info',
      WHIRLPOOL_DIRECTORY_PRIVATE_KEY: bytesToHex(privateKey),
    },
  });
  procs.push(Object.assign(p, { url }));
  await p.waitFor((l) => l.msg === 'coordinator started', 60_000);
}

beforeAll(async () => {
  [db, btcd] = await Promise.all([
    createTestDatabase('client discovery mix'),
    startBtcd({ matureBlocks: 1 }),
  ]);
  await start('da');
  await start('db');
  account = await createDirectoryReaderAccount(db.name);
  bootstrap = await spawnListening(process.execPath, ['bootstrap/node.ts'], {
    env: { BOOTSTRAP_DB_URL: account.url, BOOTSTRAP_PORT: '0', BOOTSTRAP_HOST: '127.0.0.1' },
  });
}, 120_000);

afterAll(async () => {
  for (const p of procs) p.signal('SIGKILL');
  await Promise.all(procs.map((p) => p.exit));
  await bootstrap?.stop();
  await account?.drop();
  await btcd?.stop();
  await db?.drop();
});

function client(key = publicKeyHex): WhirlpoolClient {
  return new WhirlpoolClient({
    bootstrap: { urls: [bootstrap.url], directoryPublicKey: key },
    wallet: Wallet.fromMnemonic(MNEMONIC, { network: 'regtest' }),
    rpc: undefined,
    reconnectDelayMs: 200,
    reconnectUntilMs: 5_000,
  });
}

describe('WhirlpoolClient with bootstrap discovery', () => {
  it('REST goes to a live instance and the mix session subscribes at the pool owner', async () => {
    const c = client();
    // wait until every pool is leased and published
    const deadline = Date.now() + 60_000;
    let pools = await c.listPools().catch(() => []);
    for (;;) {
      const dir = await c.directory!.refresh().catch(() => null);
      const owners = new Set([...(dir?.directory.pools.values() ?? [])].map((o) => o.instanceId));
      // every pool published and spread over both instances (the second one took its share)
      if (
        dir &&
        pools.length > 0 &&
        pools.every((p) => dir.directory.pools.has(p.poolId)) &&
        owners.size === 2
      )
        break;
      if (Date.now() > deadline) throw new Error('pools never all published');
      await new Promise((r) => setTimeout(r, 500));
      pools = await c.listPools().catch(() => []);
    }
    expect(procs.map((p) => p.url)).toContain(await c.locator.restUrl());
    for (const pool of pools) {
      const owner = await c.directory!.ownerOf(pool.poolId);
      const session = c.mixOnce(
        {
          txid: '11'.repeat(32),
          vout: 0,
          value: pool.denomination,
          privateKey: c.wallet.account('postmix').key(0, 0).privateKey,
          publicKey: c.wallet.account('postmix').key(0, 0).publicKey,
        },
        { poolId: pool.poolId, denomination: pool.denomination, transport: 'websocket' },
      );
      const phases: MixPhase[] = [];
      const redirects: unknown[] = [];
      session.on('redirect', (r) => redirects.push(r));
      const subscribed = new Promise<string>((resolve) =>
        session.on('phase', (p) => {
          phases.push(p);
          if (p === 'REGISTERING_INPUT') resolve(session.serverUrl);
        }),
      );
      const at = await Promise.race([subscribed, session.run().then((o) => `ended: ${JSON.stringify(o)}`)]);
      session.stop();
      await session.run();
      expect(redirects).toEqual([]);
      expect(at).toBe(owner.url);
    }
  }, 90_000);

  it('refuses a directory signed with another key with a clear error', async () => {
    const other = bytesToHex(directoryPublicKey(ed25519.utils.randomSecretKey()));
    await expect(client(other).listPools()).rejects.toThrow(
      /No bootstrap entry gave a valid directory.*forged/,
    );
  });
});
