/**
 * One vector table run against both {@link Secp256k1} implementations (the
 * portable @noble one and libsecp256k1): spec vectors (§8.3 ECDH, §8.6 Tx0
 * witness and fee data, §8.8 signed messages), and the edge cases where two
 * libraries could disagree (high S, out-of-range scalars, non-strict DER,
 * invalid points, wrong lengths).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { p2wpkh, Transaction } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import { loadNativeSecp256k1 } from '#coordinator/crypto/native_secp256k1.ts';
import { messageDigest, verifyMessageForAddress } from '#shared/bitcoin/signed_message.ts';
import { verifyP2wpkhWitness } from '#shared/bitcoin/witness_verify.ts';
import { nobleSecp256k1, type Secp256k1 } from '#shared/crypto/secp256k1.ts';
import { decodeTx0FeeDataFromTx } from '#shared/protocol/tx0_fee_data.ts';
import { SECRET_WALLET_NOTIFICATION_PRIV, TX0_E11E81E6_HEX } from '../protocol/vector_8_6.ts';

const N = secp256k1.Point.CURVE().n;
const PRIV_A = hexToBytes('725f8de3f2f5d6b064660309a398d0c4b193b53df8dc538ffdd4d279c43fa01f');
const PRIV_B = hexToBytes('0000000000000000000000000000000000000000000000000000000000000003');
const PUB_A = hexToBytes('02631b285dbecd7ef9d1445bfd88e99d3f9699a45d05b749b3a1a699dfc3bdfb26');
const DIGEST = sha256(new TextEncoder().encode('vector'));

function be32(n: bigint): Uint8Array {
  return hexToBytes(n.toString(16).padStart(64, '0'));
}

function signCompact(digest: Uint8Array, priv: Uint8Array): { compact: Uint8Array; recovery: number } {
  const sig = secp256k1.sign(digest, priv, { prehash: false, format: 'recovered' });
  return { compact: sig.slice(1), recovery: sig[0]! };
}

function der(compact: Uint8Array): Uint8Array {
  return secp256k1.Signature.fromBytes(compact, 'compact').toBytes('der');
}

function highS(compact: Uint8Array): Uint8Array {
  const sig = secp256k1.Signature.fromBytes(compact, 'compact');
  return concatBytes(be32(sig.r), be32(N - sig.s));
}

/** DER of raw integer bytes, with no normalisation (to build non-strict encodings). */
function rawDer(r: Uint8Array, s: Uint8Array): Uint8Array {
  const body = concatBytes(Uint8Array.of(0x02, r.length), r, Uint8Array.of(0x02, s.length), s);
  return concatBytes(Uint8Array.of(0x30, body.length), body);
}

/** A 33-byte compressed encoding whose x has no point on the curve. */
function notOnCurve(): Uint8Array {
  for (let x = 1n; ; x++) {
    const bytes = concatBytes(Uint8Array.of(2), be32(x));
    try {
      secp256k1.Point.fromBytes(bytes);
    } catch {
      return bytes;
    }
  }
}

const BACKENDS: Secp256k1[] = [nobleSecp256k1, loadNativeSecp256k1()];

describe.each(BACKENDS)('Secp256k1 backend $name', (secp) => {
  describe('recoverPublicKey', () => {
    it('recovers the §8.8 signed-message key, compressed and uncompressed', () => {
      const raw = base64.decode(
        'H5vr0bgDNfKoUpbaY4Ah/dv39nEx/uKaKJi2yfZKCxw6cQDRE+/ZvgiyfTjQ2YvUTeoWpImNo1vdV+uPaM0XeNM=',
      );
      const digest = messageDigest('0.01btc');
      const recovery = (raw[0]! - 27) & 3;
      expect(bytesToHex(secp.recoverPublicKey(digest, raw.subarray(1), recovery, true)!)).toBe(
        bytesToHex(PUB_A),
      );
      expect(bytesToHex(secp.recoverPublicKey(digest, raw.subarray(1), recovery, false)!)).toBe(
        bytesToHex(secp256k1.Point.fromBytes(PUB_A).toBytes(false)),
      );
    });

    it('recovers fresh keys for both parities, and a high-S signature with the flipped parity', () => {
      for (const priv of [PRIV_A, PRIV_B, be32(N - 1n)]) {
        const pub = secp256k1.getPublicKey(priv, true);
        const { compact, recovery } = signCompact(DIGEST, priv);
        expect(bytesToHex(secp.recoverPublicKey(DIGEST, compact, recovery, true)!)).toBe(bytesToHex(pub));
        expect(bytesToHex(secp.recoverPublicKey(DIGEST, highS(compact), recovery ^ 1, true)!)).toBe(
          bytesToHex(pub),
        );
        // the other parity recovers another key
        expect(
          bytesToHex(secp.recoverPublicKey(DIGEST, compact, recovery ^ 1, true) ?? new Uint8Array()),
        ).not.toBe(bytesToHex(pub));
      }
    });

    it('returns null for zero or out-of-range scalars, bad recovery ids and wrong lengths', () => {
      const { compact, recovery } = signCompact(DIGEST, PRIV_A);
      const r = compact.subarray(0, 32);
      const s = compact.subarray(32);
      const zero = new Uint8Array(32);
      expect(secp.recoverPublicKey(DIGEST, concatBytes(zero, s), recovery, true)).toBeNull();
      expect(secp.recoverPublicKey(DIGEST, concatBytes(r, zero), recovery, true)).toBeNull();
      expect(secp.recoverPublicKey(DIGEST, concatBytes(be32(N), s), recovery, true)).toBeNull();
      expect(secp.recoverPublicKey(DIGEST, concatBytes(r, be32(N)), recovery, true)).toBeNull();
      for (const bad of [-1, 4, 1.5, Number.NaN]) {
        expect(secp.recoverPublicKey(DIGEST, compact, bad, true)).toBeNull();
      }
      expect(secp.recoverPublicKey(DIGEST, compact.subarray(1), recovery, true)).toBeNull();
      expect(secp.recoverPublicKey(DIGEST.subarray(1), compact, recovery, true)).toBeNull();
    });
  });

  describe('verifyDerLowS', () => {
    const pub = secp256k1.getPublicKey(PRIV_A, true);
    const { compact } = signCompact(DIGEST, PRIV_A);

    it('accepts a low-S DER signature for the compressed and the uncompressed key', () => {
      expect(secp.verifyDerLowS(der(compact), DIGEST, pub)).toBe(true);
      expect(secp.verifyDerLowS(der(compact), DIGEST, secp256k1.Point.fromBytes(pub).toBytes(false))).toBe(
        true,
      );
    });

    it('accepts the real §8.6 Tx0 input witness through verifyP2wpkhWitness', () => {
      const tx = Transaction.fromRaw(hexToBytes(TX0_E11E81E6_HEX), { allowUnknownOutputs: true });
      const witness = tx.getInput(0).finalScriptWitness!;
      const script = p2wpkh(witness[1]!).script;
      expect(verifyP2wpkhWitness(tx, 0, script, 500000000n, witness, secp)).toBe(true);
      expect(verifyP2wpkhWitness(tx, 0, script, 500000001n, witness, secp)).toBe(false);
    });

    it('rejects a high-S signature, another digest and another key', () => {
      expect(secp.verifyDerLowS(der(highS(compact)), DIGEST, pub)).toBe(false);
      expect(secp.verifyDerLowS(der(compact), sha256(DIGEST), pub)).toBe(false);
      expect(secp.verifyDerLowS(der(compact), DIGEST, secp256k1.getPublicKey(PRIV_B, true))).toBe(false);
    });

    it('rejects non-strict DER: padding, negative integers, trailing bytes, wrong lengths', () => {
      const r = compact.subarray(0, 32);
      const s = compact.subarray(32);
      const strict = der(compact);
      expect(bytesToHex(rawDer(r[0]! >= 0x80 ? concatBytes(Uint8Array.of(0), r) : r, s))).toBe(
        bytesToHex(strict),
      );
      const padded = rawDer(concatBytes(Uint8Array.of(0, 0), r), s);
      expect(secp.verifyDerLowS(padded, DIGEST, pub)).toBe(false);
      // a positive r whose top bit is set, encoded without its 0x00 (reads as negative)
      const { compact: c2 } = [PRIV_A, PRIV_B, be32(5n), be32(7n), be32(11n)]
        .map((k) => signCompact(DIGEST, k))
        .find((x) => x.compact[0]! >= 0x80)!;
      const negative = rawDer(c2.subarray(0, 32), c2.subarray(32));
      expect(secp.verifyDerLowS(negative, DIGEST, secp256k1.getPublicKey(PRIV_A, true))).toBe(false);
      expect(secp.verifyDerLowS(concatBytes(strict, Uint8Array.of(0)), DIGEST, pub)).toBe(false);
      const badLength = Uint8Array.from(strict);
      badLength[1] = badLength[1]! + 1;
      expect(secp.verifyDerLowS(badLength, DIGEST, pub)).toBe(false);
      expect(secp.verifyDerLowS(new Uint8Array(), DIGEST, pub)).toBe(false);
      expect(secp.verifyDerLowS(rawDer(new Uint8Array([0]), s), DIGEST, pub)).toBe(false);
      expect(secp.verifyDerLowS(rawDer(concatBytes(Uint8Array.of(0), be32(N)), s), DIGEST, pub)).toBe(false);
    });

    it('rejects invalid public keys and digests of the wrong length', () => {
      const sig = der(compact);
      expect(secp.verifyDerLowS(sig, DIGEST, notOnCurve())).toBe(false);
      const hybrid = secp256k1.Point.fromBytes(pub).toBytes(false);
      hybrid[0] = 0x06 | (hybrid[64]! & 1);
      expect(secp.verifyDerLowS(sig, DIGEST, hybrid)).toBe(false);
      expect(secp.verifyDerLowS(sig, DIGEST, new Uint8Array(33))).toBe(false);
      expect(secp.verifyDerLowS(sig, DIGEST, pub.subarray(1))).toBe(false);
      expect(secp.verifyDerLowS(sig, DIGEST.subarray(1), pub)).toBe(false);
    });
  });

  describe('ecdhX', () => {
    it('computes the §8.3 shared x and the §8.6 fee data', () => {
      expect(bytesToHex(secp.ecdhX(PRIV_A, PUB_A))).toBe(
        'f7bb2f512fa4e83170af99c6067b77a515b6ce3f253e390390ae0c488f7b60fd',
      );
      const tx = Transaction.fromRaw(hexToBytes(TX0_E11E81E6_HEX), { allowUnknownOutputs: true });
      const fee = decodeTx0FeeDataFromTx(tx, hexToBytes(SECRET_WALLET_NOTIFICATION_PRIV), secp)!;
      expect(fee.feeIndice).toBe(0);
      expect(bytesToHex(fee.scodePayload!)).toBe('0102');
    });

    it('is symmetric and equals the x of (a·b)·G', () => {
      const pubB = secp256k1.getPublicKey(PRIV_B, true);
      const ab = (BigInt(`0x${bytesToHex(PRIV_A)}`) * 3n) % N;
      const expected = bytesToHex(secp256k1.getPublicKey(be32(ab), true).subarray(1));
      expect(bytesToHex(secp.ecdhX(PRIV_A, pubB))).toBe(expected);
      expect(bytesToHex(secp.ecdhX(PRIV_B, PUB_A))).toBe(expected);
      expect(bytesToHex(secp.ecdhX(PRIV_B, secp256k1.Point.fromBytes(PUB_A).toBytes(false)))).toBe(expected);
    });

    it('does not modify its inputs', () => {
      const priv = Uint8Array.from(PRIV_B);
      const pub = Uint8Array.from(PUB_A);
      secp.ecdhX(priv, pub);
      expect(bytesToHex(priv)).toBe(bytesToHex(PRIV_B));
      expect(bytesToHex(pub)).toBe(bytesToHex(PUB_A));
    });

    it('throws on a zero or out-of-range private key and on an invalid public key', () => {
      expect(() => secp.ecdhX(new Uint8Array(32), PUB_A)).toThrow();
      expect(() => secp.ecdhX(be32(N), PUB_A)).toThrow();
      expect(() => secp.ecdhX(PRIV_A, new Uint8Array(33))).toThrow();
      expect(() => secp.ecdhX(PRIV_A, notOnCurve())).toThrow();
    });
  });

  it('verifyMessageForAddress agrees through the backend', () => {
    const sig = 'H5vr0bgDNfKoUpbaY4Ah/dv39nEx/uKaKJi2yfZKCxw6cQDRE+/ZvgiyfTjQ2YvUTeoWpImNo1vdV+uPaM0XeNM=';
    const tb = 'tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g';
    expect(verifyMessageForAddress('0.01btc', sig, tb, 'testnet', secp)).toBe(true);
    expect(verifyMessageForAddress('0.5btc', sig, tb, 'testnet', secp)).toBe(false);
  });
});

describe('the two backends on random inputs', () => {
  it('agree on recovery, verification and ECDH for 40 random keys and digests', () => {
    const [a, b] = BACKENDS as [Secp256k1, Secp256k1];
    for (let i = 0; i < 40; i++) {
      const priv = secp256k1.utils.randomSecretKey();
      const digest = sha256(priv);
      const { compact, recovery } = signCompact(digest, priv);
      const pub = secp256k1.getPublicKey(priv, true);
      for (const rec of [0, 1, 2, 3]) {
        const ra = a.recoverPublicKey(digest, compact, rec, true);
        const rb = b.recoverPublicKey(digest, compact, rec, true);
        expect(ra === null ? null : bytesToHex(ra)).toBe(rb === null ? null : bytesToHex(rb));
      }
      expect(bytesToHex(a.recoverPublicKey(digest, compact, recovery, true)!)).toBe(bytesToHex(pub));
      expect(a.verifyDerLowS(der(compact), digest, pub)).toBe(true);
      expect(b.verifyDerLowS(der(compact), digest, pub)).toBe(true);
      expect(a.verifyDerLowS(der(highS(compact)), digest, pub)).toBe(false);
      expect(b.verifyDerLowS(der(highS(compact)), digest, pub)).toBe(false);
      expect(bytesToHex(a.ecdhX(priv, PUB_A))).toBe(bytesToHex(b.ecdhX(priv, PUB_A)));
    }
  });
});
