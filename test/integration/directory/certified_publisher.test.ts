/**
 * The publisher with a root certificate on real MariaDB (issue 12): the
 * stored record is version 2, carries the certificate, verifies under the
 * pinned root key (not under the instance key as a legacy key), and passes
 * the read-only view and the bootstrap response builder unchanged; a
 * certificate for another instance or key is refused at start; a TTL above
 * the verifiers' cap is refused.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certify } from '#coordinator/directory/certificate_cli.ts';
import {
  loadDirectoryCertificate,
  publishDirectoryRecord,
  startDirectoryPublisher,
} from '#coordinator/directory/directory_publisher.ts';
import type { SignedInstanceCertificate } from '#shared/directory/record.ts';
import { buildDirectoryResponse } from '#shared/directory/response.ts';
import { directoryPublicKey, verifyDirectoryRecord } from '#shared/directory/signing.ts';
import { createTestPool } from '#test/support/db.ts';
import { createDirectoryFixture, type DirectoryFixture } from '#test/support/directory_fixture.ts';

describe('certified directory publisher', () => {
  let fx: DirectoryFixture;
  const root = ed25519.utils.randomSecretKey();
  let certificate: SignedInstanceCertificate;

  beforeAll(async () => {
    fx = await createDirectoryFixture('dir_certified');
    const text = certify({
      rootKey: root,
      instanceId: 'c1',
      publicKeyHex: fx.publicKeyHex,
      days: 30,
      nowMs: Date.now() - 60_000,
    });
    certificate = loadDirectoryCertificate({ WHIRLPOOL_DIRECTORY_CERTIFICATE: text })!;
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  it('publishes version 2 records that verify under the root key only', async () => {
    await fx.registerInstance({ id: 'c1', urlClear: 'https://c1.example.org' });
    await fx.setLease('0.01btc', 'c1', 4);
    const res = await publishDirectoryRecord({
      db: fx.pool,
      instanceId: 'c1',
      privateKey: fx.privateKey,
      certificate,
    });
    expect(res.action).toBe('published');
    // read back through the bootstrap nodes' read-only account and view
    const reader = createTestPool(fx.account.url);
    const [rows] = await reader.query('SELECT record, signature FROM directory_view');
    await reader.end();
    const stored = (rows as Array<{ record: string; signature: string }>)[0]!;
    const rootKeys = { rootKeys: [directoryPublicKey(root)] };
    const record = verifyDirectoryRecord(stored, rootKeys, Date.now());
    expect(record).toMatchObject({ version: 2, instanceId: 'c1', pools: [{ poolId: '0.01btc', epoch: 4 }] });
    expect(record.certificate).toEqual(certificate);
    expect(() => verifyDirectoryRecord(stored, fx.publicKey, Date.now())).toThrow(/unsupported-version/);
    const built = buildDirectoryResponse([stored], { nowMs: Date.now(), publicKey: rootKeys });
    expect(built.refused).toEqual([]);
    expect(built.response.records).toEqual([stored]);
  });

  it('refuses a certificate of another instance or key, and a TTL above 120 s', async () => {
    expect(() =>
      startDirectoryPublisher({ db: fx.pool, instanceId: 'c2', privateKey: fx.privateKey, certificate }),
    ).toThrow(/for instance 'c1', this instance is 'c2'/);
    const other = ed25519.utils.randomSecretKey();
    expect(() =>
      startDirectoryPublisher({ db: fx.pool, instanceId: 'c1', privateKey: other, certificate }),
    ).toThrow(/certifies another key/);
    await expect(
      publishDirectoryRecord({ db: fx.pool, instanceId: 'c1', privateKey: fx.privateKey, ttlMs: 86_400_000 }),
    ).rejects.toThrow(/must be in \(0, 120000\]/);
    expect(bytesToHex(directoryPublicKey(fx.privateKey))).toBe(fx.publicKeyHex);
  });
});
