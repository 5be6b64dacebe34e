/**
 * Directory trust that survives a stolen instance key and a hostile mirror
 * (issue 12): root-certified instance keys (certify CLI function, rotation
 * with two pinned roots, wrong instance, expiry, legacy records refused in
 * root mode), the lifetime and epoch caps, and the client's mirror limits
 * (oversized body, 10,000 records, duplicate copies) with the work it does
 * counted — bytes read, verifications run — never timed.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { DirectoryClient } from '#client/discovery/directory_client.ts';
import { certify } from '#coordinator/directory/certificate_cli.ts';
import type {
  DirectoryRecord,
  SignedDirectoryRecord,
  SignedInstanceCertificate,
} from '#shared/directory/record.ts';
import { MAX_DIRECTORY_RESPONSE_BYTES } from '#shared/directory/response.ts';
import {
  DirectoryVerificationError,
  directoryPublicKey,
  signDirectoryRecord,
  verifyDirectoryRecord,
} from '#shared/directory/signing.ts';

const NOW = 1_800_000_000_000;
const DAY = 86_400_000;
const root1 = ed25519.utils.randomSecretKey();
const root2 = ed25519.utils.randomSecretKey();
const keyA = ed25519.utils.randomSecretKey();
const keyB = ed25519.utils.randomSecretKey();

function cert(
  root: Uint8Array,
  id: string,
  key: Uint8Array,
  days = 90,
  nowMs = NOW - DAY,
): SignedInstanceCertificate {
  return JSON.parse(
    certify({
      rootKey: root,
      instanceId: id,
      publicKeyHex: bytesToHex(directoryPublicKey(key)),
      days,
      nowMs,
    }),
  ) as SignedInstanceCertificate;
}

function rec(
  id: string,
  certificate: SignedInstanceCertificate | undefined,
  over: Partial<DirectoryRecord> = {},
): DirectoryRecord {
  return {
    version: certificate ? 2 : 1,
    instanceId: id,
    urlClear: `https://${id}.example.org`,
    urlOnion: null,
    state: 'active',
    pools: [{ poolId: 'p', epoch: 3 }],
    issuedAt: NOW - 1000,
    expiresAt: NOW + 59_000,
    ...(certificate ? { certificate } : {}),
    ...over,
  };
}

const certA1 = cert(root1, 'a', keyA);
const roots = { rootKeys: [directoryPublicKey(root1)] };
const reason = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof DirectoryVerificationError) return e.reason;
    throw e;
  }
  return 'accepted';
};

describe('root-certified instance keys', () => {
  it('accepts a record signed by a certified instance key', () => {
    const r = verifyDirectoryRecord(signDirectoryRecord(rec('a', certA1), keyA), roots, NOW);
    expect(r).toMatchObject({ instanceId: 'a', version: 2 });
  });

  it('a stolen instance key signs only for its own instance, and only while its certificate lasts', () => {
    // the thief of a's key claims to be b with a's certificate, or forges a certificate for b
    expect(reason(() => verifyDirectoryRecord(signDirectoryRecord(rec('b', certA1), keyA), roots, NOW))).toBe(
      'untrusted-certificate',
    );
    const selfMade = cert(keyA, 'b', keyA);
    expect(
      reason(() => verifyDirectoryRecord(signDirectoryRecord(rec('b', selfMade), keyA), roots, NOW)),
    ).toBe('untrusted-certificate');
    // b's real certificate with a's key: the signature does not verify under b's certified key
    const certB = cert(root1, 'b', keyB);
    expect(reason(() => verifyDirectoryRecord(signDirectoryRecord(rec('b', certB), keyA), roots, NOW))).toBe(
      'forged',
    );
    // an expired certificate, and a record outliving its certificate
    const old = cert(root1, 'a', keyA, 1, NOW - 2 * DAY);
    expect(reason(() => verifyDirectoryRecord(signDirectoryRecord(rec('a', old), keyA), roots, NOW))).toBe(
      'untrusted-certificate',
    );
    const ending = cert(root1, 'a', keyA, 1, NOW - DAY + 30_000); // expires in 30 s
    expect(reason(() => verifyDirectoryRecord(signDirectoryRecord(rec('a', ending), keyA), roots, NOW))).toBe(
      'untrusted-certificate',
    );
  });

  it('rotation: a client pinning both roots accepts either; one pinning the old root refuses the new', () => {
    const certA2 = cert(root2, 'a', keyA);
    const signed = signDirectoryRecord(rec('a', certA2), keyA);
    const both = { rootKeys: [directoryPublicKey(root1), directoryPublicKey(root2)] };
    expect(verifyDirectoryRecord(signed, both, NOW).instanceId).toBe('a');
    expect(verifyDirectoryRecord(signDirectoryRecord(rec('a', certA1), keyA), both, NOW).instanceId).toBe(
      'a',
    );
    expect(reason(() => verifyDirectoryRecord(signed, roots, NOW))).toBe('untrusted-certificate');
  });

  it('legacy single-key records are refused in root mode, certified ones by a single-key verifier', () => {
    const legacy = signDirectoryRecord(rec('a', undefined), root1);
    expect(reason(() => verifyDirectoryRecord(legacy, roots, NOW))).toBe('unsupported-version');
    expect(verifyDirectoryRecord(legacy, directoryPublicKey(root1), NOW).version).toBe(1);
    const certified = signDirectoryRecord(rec('a', certA1), keyA);
    expect(reason(() => verifyDirectoryRecord(certified, directoryPublicKey(keyA), NOW))).toBe(
      'unsupported-version',
    );
  });

  it('certify refuses a lifetime over 400 days', () => {
    expect(() => cert(root1, 'a', keyA, 401)).toThrow(/lifetime must be at most/);
  });
});

describe('record lifetime and epoch caps', () => {
  it('refuses a record living a day, or claiming epoch 2^53-1, even correctly signed', () => {
    const day = signDirectoryRecord(rec('a', certA1, { expiresAt: NOW - 1000 + DAY }), keyA);
    expect(reason(() => verifyDirectoryRecord(day, roots, NOW))).toBe('malformed-record');
    const huge = signDirectoryRecord(
      rec('a', certA1, { pools: [{ poolId: 'p', epoch: 2 ** 53 - 1 }] }),
      keyA,
    );
    expect(reason(() => verifyDirectoryRecord(huge, roots, NOW))).toBe('malformed-record');
    // the limits themselves are accepted: lifetime 120 s, epoch 2^32-1
    const edge = signDirectoryRecord(
      rec('a', certA1, { expiresAt: NOW - 1000 + 120_000, pools: [{ poolId: 'p', epoch: 2 ** 32 - 1 }] }),
      keyA,
    );
    expect(verifyDirectoryRecord(edge, roots, NOW).pools[0]!.epoch).toBe(2 ** 32 - 1);
  });
});

describe('hostile mirror limits (work counted, not timed)', () => {
  const good = signDirectoryRecord(rec('a', certA1), keyA);
  function client(f: (url: string) => Response, urls = ['https://m1']) {
    return new DirectoryClient({
      bootstrapUrls: urls,
      rootKeys: [bytesToHex(directoryPublicKey(root1))],
      fetch: (async (input: RequestInfo | URL) => f(String(input))) as typeof fetch,
      now: () => NOW,
      random: () => 0.999,
      onWarning: () => {},
    });
  }
  const json = (records: SignedDirectoryRecord[]) => JSON.stringify({ version: 1, records });
  /** A body arriving in 64 KiB chunks, as from a socket; counts what was pulled. */
  function chunked(text: string) {
    const bytes = new TextEncoder().encode(text);
    const state = { pulled: 0 };
    const body = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (state.pulled >= bytes.length) return ctl.close();
        const next = bytes.subarray(state.pulled, state.pulled + 65_536);
        state.pulled += next.length;
        ctl.enqueue(next);
      },
    });
    return { body, state, size: bytes.length };
  }

  it('stops reading a 300 MB body after 1 MiB', async () => {
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let produced = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (produced >= 300 * 1024 * 1024) return ctl.close();
        produced += chunk.byteLength;
        ctl.enqueue(chunk);
      },
    });
    const c = client(() => new Response(endless, { status: 200 }));
    await expect(c.refresh()).rejects.toThrow(/larger than 1048576 bytes/);
    expect(c.stats().bytesRead).toBeLessThanOrEqual(MAX_DIRECTORY_RESPONSE_BYTES + chunk.byteLength);
    expect(produced).toBeLessThan(2 * MAX_DIRECTORY_RESPONSE_BYTES);
    expect(c.stats().verifications).toBe(0);
  });

  it('refuses a declared oversized body without reading it', async () => {
    const c = client(
      () => new Response('x', { status: 200, headers: { 'content-length': String(300 * 1024 * 1024) } }),
    );
    await expect(c.refresh()).rejects.toThrow(/larger than/);
    expect(c.stats()).toEqual({ bytesRead: 0, verifications: 0 });
  });

  it('10,000 records: refused before any verification (tiny ones by count, real copies by size)', async () => {
    const tiny = json(Array.from({ length: 10_000 }, () => ({ record: 'x', signature: 'y' })));
    expect(tiny.length).toBeLessThan(MAX_DIRECTORY_RESPONSE_BYTES);
    const c1 = client(() => new Response(tiny));
    await expect(c1.refresh()).rejects.toThrow(/does not match the directory format/);
    expect(c1.stats().verifications).toBe(0);
    const copies = chunked(json(Array.from({ length: 10_000 }, () => good)));
    expect(copies.size).toBeGreaterThan(5 * MAX_DIRECTORY_RESPONSE_BYTES);
    const c2 = client(() => new Response(copies.body));
    await expect(c2.refresh()).rejects.toThrow(/larger than/);
    expect(c2.stats().verifications).toBe(0);
    expect(c2.stats().bytesRead).toBeLessThanOrEqual(MAX_DIRECTORY_RESPONSE_BYTES + 65_536);
    expect(copies.state.pulled).toBeLessThan(2 * MAX_DIRECTORY_RESPONSE_BYTES);
  });

  it('1,000 copies of one record: verified once', async () => {
    const c = client(() => new Response(json(Array.from({ length: 1000 }, () => good))));
    const res = await c.refresh();
    expect(res.directory.pools.get('p')?.instanceId).toBe('a');
    expect(c.stats().verifications).toBe(1);
  });

  it('first contact asks two mirrors: one withholding a record does not hide it', async () => {
    const certB = cert(root1, 'b', keyB);
    const b = signDirectoryRecord(rec('b', certB, { pools: [{ poolId: 'q', epoch: 1 }] }), keyB);
    const asked: string[] = [];
    const c = client(
      (url) => {
        asked.push(url);
        return new Response(json(url.startsWith('https://withholding') ? [good] : [good, b]));
      },
      ['https://withholding', 'https://honest'],
    );
    const res = await c.refresh();
    expect(asked.sort()).toEqual(['https://honest/instances', 'https://withholding/instances']);
    expect(res.directory.pools.get('q')?.instanceId).toBe('b');
  });
});
