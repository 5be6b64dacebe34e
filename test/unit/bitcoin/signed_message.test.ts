import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { p2pkh, TEST_NETWORK } from '@scure/btc-signer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { p2wpkhAddress } from '#shared/bitcoin/network.ts';
import {
  messageDigest,
  recoverMessagePublicKey,
  signMessage,
  verifyMessageForAddress,
} from '#shared/bitcoin/signed_message.ts';

const PRIV = hexToBytes('725f8de3f2f5d6b064660309a398d0c4b193b53df8dc538ffdd4d279c43fa01f');
const TB = 'tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g';
const BC = 'bc1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knh0cywm';

/** Spec §8.8. */
const VECTORS = [
  {
    message: '0.01btc',
    digest: '7b299344a00bba6253b22f11b1d4f2c337c776e9a2a49a64c3606afd17b9830d',
    signature: 'H5vr0bgDNfKoUpbaY4Ah/dv39nEx/uKaKJi2yfZKCxw6cQDRE+/ZvgiyfTjQ2YvUTeoWpImNo1vdV+uPaM0XeNM=',
  },
  {
    message: '0.5btc',
    digest: '48da22aadf1dda5e4b9a955d14df565e6374cfb672a4de0f33da138994b9ca5e',
    signature: 'IHkcr/j2M856u32LNLYXbGDiDgBpKlm0Opq/fkEoodLpEyEmZ7GbUVj7pg3L9yrNGvyI2mjV1p/cQxOrkEL7vlQ=',
  },
];

describe('signed message (spec §8.8)', () => {
  for (const v of VECTORS) {
    it(`computes the digest, signature and verification of "${v.message}"`, () => {
      expect(bytesToHex(messageDigest(v.message))).toBe(v.digest);
      expect(signMessage(v.message, PRIV)).toBe(v.signature);
      expect(verifyMessageForAddress(v.message, v.signature, TB, 'testnet')).toBe(true);
      expect(verifyMessageForAddress(v.message, v.signature, BC, 'mainnet')).toBe(true);
    });
  }

  it('rejects another message, another address or another network', () => {
    const sig = VECTORS[0]!.signature;
    expect(verifyMessageForAddress('0.5btc', sig, TB, 'testnet')).toBe(false);
    expect(
      verifyMessageForAddress('0.01btc', sig, 'tb1qkgv4ljdkthdse8kscwvj9tuvysuqlkcr4mp957', 'testnet'),
    ).toBe(false);
    expect(verifyMessageForAddress('0.01btc', sig, TB, 'mainnet')).toBe(false);
  });

  it('accepts a non-deterministic (random-nonce) signature and a high-S one', () => {
    const digest = messageDigest('0.01btc');
    const sig = secp256k1.sign(digest, PRIV, { prehash: false, format: 'recovered', extraEntropy: true });
    const raw = new Uint8Array(65);
    raw[0] = 31 + sig[0]!;
    raw.set(sig.subarray(1), 1);
    const b64 = base64.encode(raw);
    expect(b64).not.toBe(VECTORS[0]!.signature);
    expect(verifyMessageForAddress('0.01btc', b64, TB, 'testnet')).toBe(true);

    // s → n - s flips the recovery parity; still a valid ECDSA signature.
    const parsed = secp256k1.Signature.fromBytes(sig, 'recovered');
    const high = new secp256k1.Signature(
      parsed.r,
      secp256k1.Point.CURVE().n - parsed.s,
      parsed.recovery! ^ 1,
    );
    const rawHigh = high.toBytes('recovered');
    rawHigh[0] = 31 + rawHigh[0]!;
    expect(verifyMessageForAddress('0.01btc', base64.encode(rawHigh), TB, 'testnet')).toBe(true);
  });

  it('matches legacy P2PKH addresses and uncompressed headers 27–30 like bitcoinj', () => {
    const raw = base64.decode(VECTORS[0]!.signature);
    const compressedPub = recoverMessagePublicKey('0.01btc', VECTORS[0]!.signature)!;
    expect(bytesToHex(compressedPub)).toBe(
      '02631b285dbecd7ef9d1445bfd88e99d3f9699a45d05b749b3a1a699dfc3bdfb26',
    );
    const legacy = p2pkh(compressedPub, TEST_NETWORK).address!;
    expect(legacy).toMatch(/^[mn]/);
    expect(verifyMessageForAddress('0.01btc', VECTORS[0]!.signature, legacy, 'testnet')).toBe(true);
    const legacyUncompressed = p2pkh(secp256k1.Point.fromBytes(compressedPub).toBytes(false), TEST_NETWORK)
      .address!;
    const uncompressed = Uint8Array.from(raw);
    uncompressed[0] = raw[0]! - 4;
    const b64 = base64.encode(uncompressed);
    expect(recoverMessagePublicKey('0.01btc', b64)).toHaveLength(65);
    // the uncompressed key hashes to another address: the P2WPKH of the compressed key no longer matches
    expect(verifyMessageForAddress('0.01btc', b64, TB, 'testnet')).toBe(false);
    expect(verifyMessageForAddress('0.01btc', b64, legacyUncompressed, 'testnet')).toBe(true);
    expect(verifyMessageForAddress('0.01btc', VECTORS[0]!.signature, legacyUncompressed, 'testnet')).toBe(
      false,
    );
  });

  it('rejects BIP137 segwit headers 35–42 and out-of-range headers', () => {
    const raw = base64.decode(VECTORS[0]!.signature);
    for (const header of [0, 26, 35, 39, 42, 43, 255]) {
      const bad = Uint8Array.from(raw);
      bad[0] = header;
      expect(verifyMessageForAddress('0.01btc', base64.encode(bad), TB, 'testnet')).toBe(false);
    }
  });

  it('never throws on garbage', () => {
    const bad: unknown[] = [
      '',
      '!!!',
      'H5vr',
      base64.encode(new Uint8Array(65)),
      base64.encode(new Uint8Array(66)),
      null,
      42,
    ];
    for (const sig of bad) {
      expect(verifyMessageForAddress('0.01btc', sig as string, TB, 'testnet')).toBe(false);
    }
    expect(verifyMessageForAddress('0.01btc', VECTORS[0]!.signature, 'garbage', 'testnet')).toBe(false);
    expect(
      verifyMessageForAddress(undefined as unknown as string, VECTORS[0]!.signature, TB, 'testnet'),
    ).toBe(false);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 60, maxLength: 70 }), fc.string(), (bytes, msg) => {
        expect(typeof verifyMessageForAddress(msg, base64.encode(bytes), TB, 'testnet')).toBe('boolean');
      }),
    );
  });

  it('round-trips sign → verify for random keys and messages', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ maxLength: 300 }),
        (seed, msg) => {
          fc.pre(secp256k1.utils.isValidSecretKey(seed));
          const priv = seed;
          const address = p2wpkhAddress(secp256k1.getPublicKey(priv, true), 'regtest');
          expect(verifyMessageForAddress(msg, signMessage(msg, priv), address, 'regtest')).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });
});
