import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  sign,
} from 'node:crypto';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { base64url } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { z85Encode } from '#shared/codec/z85.ts';
import {
  bigIntToBytes,
  blindMessage,
  bytesToBigInt,
  encodeRsaSpki,
  parseRsaSpki,
  pssEncode,
  pssVerify,
  unblindSignature,
} from '#shared/crypto/blind_rsa.ts';
import { DecodeError } from '#shared/errors.ts';
import {
  BLINDED_HEX,
  BLINDED_Z85_PREFIX,
  EM_HEX,
  MESSAGE,
  PUBLIC_KEY_64,
  R,
  SALT_HEX,
  SIGNED_BLINDED_HEX,
  SPKI_HEX,
  TEST_KEY_PKCS8_PEM,
  UNBLINDED_HEX,
} from './vector_8_9.ts';

const message = new TextEncoder().encode(MESSAGE);
const key = parseRsaSpki(hexToBytes(SPKI_HEX));

describe('SubjectPublicKeyInfo', () => {
  it('parses and re-encodes the §8.9 public key byte for byte', () => {
    expect(key.e).toBe(65537n);
    expect(key.n.toString(2)).toHaveLength(2048);
    expect(bytesToHex(encodeRsaSpki(key))).toBe(SPKI_HEX);
    expect(z85Encode(encodeRsaSpki(key))).toBe(PUBLIC_KEY_64);
  });

  it('reproduces the Java computePublicKey quirk vector (spec §8.4: SPKI with the private exponent)', () => {
    const jwk = createPrivateKey(TEST_KEY_PKCS8_PEM).export({ format: 'jwk' });
    const d = bytesToBigInt(base64url.decode(`${jwk.d!}${'='.repeat((4 - (jwk.d!.length % 4)) % 4)}`));
    const spki = encodeRsaSpki({ n: key.n, e: d });
    expect(spki).toHaveLength(549);
    const z = z85Encode(spki);
    expect(z).toHaveLength(687);
    expect(z.startsWith('fOfuHfBXi)dUZGG{ydc70r&D9F=VzZfOfuj0!HBN0j]oYj@ix!8n.')).toBe(true);
  });

  it('matches what node:crypto exports for the test key', () => {
    const spki = createPublicKey(createPrivateKey(TEST_KEY_PKCS8_PEM)).export({
      type: 'spki',
      format: 'der',
    });
    expect(bytesToHex(spki)).toBe(SPKI_HEX);
  });

  it('encodes keys that node:crypto can import', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const der = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    const parsed = parseRsaSpki(der);
    expect(encodeRsaSpki(parsed)).toEqual(der);
    expect(
      createPublicKey({ key: Buffer.from(encodeRsaSpki(parsed)), format: 'der', type: 'spki' }).type,
    ).toBe('public');
  });

  it('throws DecodeError on malformed DER', () => {
    const der = hexToBytes(SPKI_HEX);
    const bad: Uint8Array[] = [
      new Uint8Array(0),
      der.subarray(0, 100),
      Uint8Array.from([...der, 0]),
      Uint8Array.from(der.map((b, i) => (i === 12 ? 0x02 : b))), // other OID
      Uint8Array.from(der.map((b, i) => (i === 0 ? 0x31 : b))),
      hexToBytes('3003020101'),
    ];
    for (const d of bad) expect(() => parseRsaSpki(d)).toThrow(DecodeError);
    for (let i = 0; i < 200; i++) {
      const junk = crypto.getRandomValues(new Uint8Array(1 + (i % 300)));
      try {
        parseRsaSpki(junk);
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError);
      }
    }
  });
});

describe('blind signature vector (spec §8.9)', () => {
  it('PSS-encodes the address with the given salt', () => {
    expect(bytesToHex(pssEncode(message, 2047, hexToBytes(SALT_HEX)))).toBe(EM_HEX);
  });

  it('blinds with the given r', () => {
    const { blinded, r } = blindMessage(message, key, { salt: hexToBytes(SALT_HEX), r: R });
    expect(r).toBe(R);
    expect(blinded).toHaveLength(256);
    expect(bytesToHex(blinded)).toBe(BLINDED_HEX);
    const z = z85Encode(blinded);
    expect(z).toHaveLength(320);
    expect(z.startsWith(BLINDED_Z85_PREFIX)).toBe(true);
  });

  it('unblinds the signed value to an ordinary PSS signature', () => {
    const unblinded = unblindSignature(hexToBytes(SIGNED_BLINDED_HEX), R, key);
    expect(bytesToHex(unblinded)).toBe(UNBLINDED_HEX);
    expect(pssVerify(message, unblinded, key)).toBe(true);
    expect(pssVerify(new TextEncoder().encode(`${MESSAGE}x`), unblinded, key)).toBe(false);
  });

  it('produces what a standard PSS signer produces with the same salt (EM^d)', () => {
    const priv = createPrivateKey(TEST_KEY_PKCS8_PEM);
    const raw = privateDecrypt({ key: priv, padding: constants.RSA_NO_PADDING }, hexToBytes(EM_HEX));
    expect(bytesToHex(raw).replace(/^(00)+/, '')).toBe(UNBLINDED_HEX.replace(/^(00)+/, ''));
  });
});

describe('pssVerify', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pub = parseRsaSpki(new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })));

  it('accepts node:crypto PSS signatures and rejects tampered ones', () => {
    for (let i = 0; i < 10; i++) {
      const msg = crypto.getRandomValues(new Uint8Array(i * 7));
      const sig = new Uint8Array(
        sign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
      );
      expect(pssVerify(msg, sig, pub)).toBe(true);
      const bad = Uint8Array.from(sig);
      bad[100]! ^= 1;
      expect(pssVerify(msg, bad, pub)).toBe(false);
    }
  });

  it('rejects other salt lengths, empty, oversize and out-of-range signatures', () => {
    const msg = message;
    const sig20 = new Uint8Array(
      sign('sha256', msg, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 }),
    );
    expect(pssVerify(msg, sig20, pub)).toBe(false);
    expect(pssVerify(msg, new Uint8Array(0), pub)).toBe(false);
    expect(pssVerify(msg, new Uint8Array(257), pub)).toBe(false);
    expect(pssVerify(msg, bigIntToBytes(pub.n, 256), pub)).toBe(false);
    expect(pssVerify(msg, bigIntToBytes(pub.n + 1n, 257), pub)).toBe(false);
  });

  it('accepts signatures with leading zeros stripped', () => {
    // Find a salt whose signature starts with a zero byte (≈1/256 per try).
    const priv = createPrivateKey(TEST_KEY_PKCS8_PEM);
    for (let i = 0; ; i++) {
      const salt = new Uint8Array(32);
      new DataView(salt.buffer).setUint32(0, i);
      const em = pssEncode(message, 2047, salt);
      const s = new Uint8Array(privateDecrypt({ key: priv, padding: constants.RSA_NO_PADDING }, em));
      if (s[0] !== 0) continue;
      expect(pssVerify(message, s, key)).toBe(true);
      const stripped = s.subarray(s.findIndex((b) => b !== 0));
      expect(stripped.length).toBeLessThan(256);
      expect(pssVerify(message, stripped, key)).toBe(true);
      expect(bytesToBigInt(stripped)).toBe(bytesToBigInt(s));
      break;
    }
  });
});

describe('blindMessage', () => {
  it('draws a fresh salt and r each time', () => {
    const a = blindMessage(message, key);
    const b = blindMessage(message, key);
    expect(a.r).not.toBe(b.r);
    expect(a.r > 1n && a.r < key.n).toBe(true);
    expect(a.r.toString(2).length).toBeLessThanOrEqual(2047);
    expect(bytesToHex(a.blinded)).not.toBe(bytesToHex(b.blinded));
  });

  it('rejects an invalid r or salt', () => {
    expect(() => blindMessage(message, key, { r: 1n })).toThrow(RangeError);
    expect(() => blindMessage(message, key, { r: key.n })).toThrow(RangeError);
    expect(() => blindMessage(message, key, { salt: new Uint8Array(20) })).toThrow(RangeError);
  });

  it('unblindSignature rejects a value not below n', () => {
    expect(() => unblindSignature(bigIntToBytes(key.n, 256), R, key)).toThrow(DecodeError);
  });
});
