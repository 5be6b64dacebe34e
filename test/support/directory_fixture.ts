/**
 * Test fixture for directory suites: a fresh database migrated with the
 * project's migrations, the read-only directory account, a directory key pair
 * and helpers that write `instance` / `pool_lease` rows the way the cluster
 * does and publish records with the real publisher.
 *
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Pool } from 'mysql2/promise';
import { type PublishResult, publishDirectoryRecord } from '#coordinator/directory/directory_publisher.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { directoryPublicKey } from '#shared/directory/signing.ts';
import { createTestDatabase, createTestPool, type TestDatabase } from './db.ts';
import { createDirectoryReaderAccount, type DirectoryReaderAccount } from './directory_account.ts';

/** Everything a directory suite needs. */
export interface DirectoryFixture {
  db: TestDatabase;
  /** Root pool on the test database (the coordinator's rights). */
  pool: Pool;
  account: DirectoryReaderAccount;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  publicKeyHex: string;
  /** Upserts an `instance` row (state active unless given) with a fresh heartbeat. */
  registerInstance(i: {
    id: string;
    urlClear: string;
    urlOnion?: string | null;
    state?: string;
  }): Promise<void>;
  /** Sets `pool_lease` for a pool: owner, epoch and a lease valid for `seconds` (negative = expired). */
  setLease(poolId: string, owner: string | null, epoch: number, seconds?: number): Promise<void>;
  /** Publishes the instance's record with the real publisher. */
  publish(instanceId: string, ttlMs?: number): Promise<PublishResult>;
  cleanup(): Promise<void>;
}

/** Creates the fixture; call `cleanup()` in afterAll. */
export async function createDirectoryFixture(
  label: string,
  opts: { readerPassword?: string } = {},
): Promise<DirectoryFixture> {
  const db = await createTestDatabase(label);
  await runMigrations(db.url);
  const account = await createDirectoryReaderAccount(db.name, { password: opts.readerPassword });
  const pool = createTestPool(db.url);
  const privateKey = ed25519.utils.randomSecretKey();
  const publicKey = directoryPublicKey(privateKey);
  return {
    db,
    pool,
    account,
    privateKey,
    publicKey,
    publicKeyHex: bytesToHex(publicKey),
    async registerInstance(i) {
      await pool.query(
        'INSERT INTO instance (id, url_clear, url_onion, version, state, started_at, heartbeat_at) ' +
          "VALUES (?, ?, ?, 'test', ?, NOW(3), NOW(3)) ON DUPLICATE KEY UPDATE url_clear = VALUES(url_clear), " +
          'url_onion = VALUES(url_onion), state = VALUES(state), heartbeat_at = NOW(3)',
        [i.id, i.urlClear, i.urlOnion ?? null, i.state ?? 'active'],
      );
    },
    async setLease(poolId, owner, epoch, seconds = 60) {
      await pool.query(
        'INSERT INTO pool_lease (pool_id, owner, epoch, lease_until, acquired_at, renewed_at) ' +
          'VALUES (?, ?, ?, TIMESTAMPADD(MICROSECOND, ?, NOW(3)), NOW(3), NOW(3)) ' +
          'ON DUPLICATE KEY UPDATE owner = VALUES(owner), epoch = VALUES(epoch), lease_until = VALUES(lease_until)',
        [poolId, owner, epoch, Math.round(seconds * 1_000_000)],
      );
    },
    publish(instanceId, ttlMs = 60_000) {
      return publishDirectoryRecord({ db: pool, instanceId, privateKey, ttlMs });
    },
    async cleanup() {
      await pool.end().catch(() => undefined);
      await account.drop().catch(() => undefined);
      await db.drop();
    },
  };
}
