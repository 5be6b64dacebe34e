import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { mergeDirectoryRecords } from '#shared/directory/pool_map.ts';
import { canonicalRecordJson, type DirectoryRecord } from '#shared/directory/record.ts';
import { buildDirectoryResponse } from '#shared/directory/response.ts';
import {
  DirectoryVerificationError,
  directoryPublicKey,
  signDirectoryRecord,
  verifyDirectoryRecord,
} from '#shared/directory/signing.ts';

const NOW = 1_800_000_000_000;
const key = ed25519.utils.randomSecretKey();
const pub = directoryPublicKey(key);
const otherKey = ed25519.utils.randomSecretKey();

function record(over: Partial<DirectoryRecord> = {}): DirectoryRecord {
  return {
    version: 1,
    instanceId: 'inst-a',
    urlClear: 'https://a.example.org',
    urlOnion: null,
    state: 'active',
    pools: [
      { poolId: '0.01btc', epoch: 3 },
      { poolId: '0.001btc', epoch: 1 },
    ],
    issuedAt: NOW - 1_000,
    expiresAt: NOW + 60_000,
    ...over,
  };
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DirectoryVerificationError);
    return (err as DirectoryVerificationError).reason;
  }
  throw new Error('expected a DirectoryVerificationError');
}

describe('canonical form', () => {
  it('is compact JSON with fixed member order and sorted pools', () => {
    const json = canonicalRecordJson(record());
    expect(json).toBe(
      '{"version":1,"instanceId":"inst-a","urlClear":"https://a.example.org","urlOnion":null,"state":"active",' +
        '"pools":[{"poolId":"0.001btc","epoch":1},{"poolId":"0.01btc","epoch":3}],' +
        `"issuedAt":${NOW - 1000},"expiresAt":${NOW + 60000}}`,
    );
  });
  it('does not depend on member or pool order of the input', () => {
    const r = record();
    const { expiresAt, ...rest } = r;
    const shuffled = { expiresAt, ...rest, pools: [...r.pools].reverse() };
    expect(canonicalRecordJson(shuffled)).toBe(canonicalRecordJson(r));
  });
});

describe('verifyDirectoryRecord', () => {
  it('accepts a record signed with the directory key and returns its content', () => {
    const signed = signDirectoryRecord(record(), key);
    expect(signed.signature).toMatch(/^[0-9a-f]{128}$/);
    expect(verifyDirectoryRecord(signed, pub, NOW)).toEqual({
      ...record(),
      pools: [...record().pools].reverse(),
    });
  });

  it('refuses a record signed by another key as forged', () => {
    const signed = signDirectoryRecord(record(), otherKey);
    expect(reasonOf(() => verifyDirectoryRecord(signed, pub, NOW))).toBe('forged');
    expect(() => verifyDirectoryRecord(signed, pub, NOW)).toThrow(/of 'inst-a' refused \(forged\)/);
  });

  it('refuses an altered record (epoch raised, URL changed, whitespace added)', () => {
    const signed = signDirectoryRecord(record(), key);
    const raised = { ...signed, record: signed.record.replace('"epoch":3', '"epoch":4') };
    const moved = { ...signed, record: signed.record.replace('a.example.org', 'evil.example.org') };
    const spaced = { ...signed, record: signed.record.replace(',"state"', ', "state"') };
    for (const s of [raised, moved, spaced]) {
      expect(s.record).not.toBe(signed.record);
      expect(reasonOf(() => verifyDirectoryRecord(s, pub, NOW))).toBe('forged');
    }
  });

  it('refuses an altered signature', () => {
    const signed = signDirectoryRecord(record(), key);
    const flipped = (signed.signature[0] === '0' ? '1' : '0') + signed.signature.slice(1);
    expect(reasonOf(() => verifyDirectoryRecord({ ...signed, signature: flipped }, pub, NOW))).toBe('forged');
    expect(reasonOf(() => verifyDirectoryRecord({ ...signed, signature: 'zz' }, pub, NOW))).toBe(
      'malformed-signature',
    );
  });

  it('refuses an expired record, with the clock skew tolerance', () => {
    const signed = signDirectoryRecord(record({ issuedAt: NOW - 120_000, expiresAt: NOW - 60_000 }), key);
    expect(reasonOf(() => verifyDirectoryRecord(signed, pub, NOW))).toBe('expired');
    expect(() => verifyDirectoryRecord(signed, pub, NOW)).toThrow(/expired at/);
    expect(verifyDirectoryRecord(signed, pub, NOW, { clockSkewMs: 61_000 }).instanceId).toBe('inst-a');
    expect(reasonOf(() => verifyDirectoryRecord(signed, pub, NOW - 60_000, { clockSkewMs: 0 }))).toBe(
      'expired',
    );
  });

  it('refuses a record issued in the future', () => {
    const signed = signDirectoryRecord(record({ issuedAt: NOW + 120_000, expiresAt: NOW + 180_000 }), key);
    expect(reasonOf(() => verifyDirectoryRecord(signed, pub, NOW))).toBe('not-yet-valid');
  });

  it('refuses correctly signed but non-canonical, malformed or unknown-version content', () => {
    const nonCanonical = JSON.stringify({ ...record(), pools: record().pools });
    const sign = (text: string) => {
      // sign arbitrary text the way signDirectoryRecord does, to test the later checks
      const msg = new TextEncoder().encode(`whirlpool-directory-record-v1\n${text}`);
      return { record: text, signature: bytesToHex(ed25519.sign(msg, key)) };
    };
    expect(reasonOf(() => verifyDirectoryRecord(sign(nonCanonical), pub, NOW))).toBe('non-canonical');
    expect(reasonOf(() => verifyDirectoryRecord(sign('{"x":1}'), pub, NOW))).toBe('malformed-record');
    expect(reasonOf(() => verifyDirectoryRecord(sign('not json'), pub, NOW))).toBe('malformed-record');
    const v2 = canonicalRecordJson(record({ version: 2 }));
    expect(reasonOf(() => verifyDirectoryRecord(sign(v2), pub, NOW))).toBe('unsupported-version');
    const longLived = canonicalRecordJson(record({ expiresAt: NOW + 2 * 86_400_000 }));
    expect(reasonOf(() => verifyDirectoryRecord(sign(longLived), pub, NOW))).toBe('malformed-record');
  });
});

describe('mergeDirectoryRecords', () => {
  const a3 = record({ instanceId: 'inst-a', pools: [{ poolId: 'p', epoch: 3 }] });
  const b4 = record({
    instanceId: 'inst-b',
    urlClear: 'https://b.example.org',
    pools: [{ poolId: 'p', epoch: 4 }],
  });

  it('gives a contested pool to the higher epoch whatever the order', () => {
    expect(mergeDirectoryRecords([a3, b4]).pools.get('p')).toEqual({
      poolId: 'p',
      instanceId: 'inst-b',
      epoch: 4,
    });
    expect(mergeDirectoryRecords([b4, a3]).pools.get('p')).toEqual({
      poolId: 'p',
      instanceId: 'inst-b',
      epoch: 4,
    });
  });

  it('keeps the newest record of an instance (a replayed older record loses)', () => {
    const old = record({ instanceId: 'inst-a', issuedAt: NOW - 30_000, pools: [{ poolId: 'p', epoch: 5 }] });
    const newer = record({ instanceId: 'inst-a', issuedAt: NOW - 1_000, pools: [] });
    const merged = mergeDirectoryRecords([newer, old, b4]);
    expect(merged.instances.get('inst-a')?.issuedAt).toBe(NOW - 1_000);
    expect(merged.pools.get('p')?.instanceId).toBe('inst-b');
  });

  it('replayed lower-epoch claim of another instance does not take the pool back', () => {
    const replayedA = record({
      instanceId: 'inst-a',
      issuedAt: NOW - 50_000,
      pools: [{ poolId: 'p', epoch: 2 }],
    });
    const dir = mergeDirectoryRecords([replayedA, b4]);
    expect(dir.pools.get('p')).toEqual({ poolId: 'p', instanceId: 'inst-b', epoch: 4 });
  });
});

describe('buildDirectoryResponse', () => {
  it('passes signed records through untouched, drops expired and forged ones when a key is given', () => {
    const good = signDirectoryRecord(record({ instanceId: 'inst-b' }), key);
    const expired = signDirectoryRecord(record({ instanceId: 'inst-c', expiresAt: NOW - 1 }), key);
    const forged = signDirectoryRecord(record({ instanceId: 'inst-d' }), otherKey);
    const { response, refused } = buildDirectoryResponse([forged, expired, good], {
      nowMs: NOW,
      publicKey: pub,
    });
    expect(response.records).toEqual([good]);
    expect(response.pools).toEqual({
      '0.001btc': { instanceId: 'inst-b', epoch: 1 },
      '0.01btc': { instanceId: 'inst-b', epoch: 3 },
    });
    expect(refused.map((e) => e.reason).sort()).toEqual(['expired', 'forged']);
    const unverified = buildDirectoryResponse([forged, expired, good], { nowMs: NOW });
    expect(unverified.response.records.length).toBe(2);
  });
});
