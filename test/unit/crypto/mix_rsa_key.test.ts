import { constants, createPrivateKey, createPublicKey, privateDecrypt } from 'node:crypto';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { generateMixRsaKey, mixRsaKeyFromPkcs8Pem } from '#coordinator/crypto/mix_rsa_key.ts';
import { z85Decode, z85Encode } from '#shared/codec/z85.ts';
import {
  bigIntToBytes,
  blindMessage,
  parseRsaSpki,
  pssVerify,
  unblindSignature,
} from '#shared/crypto/blind_rsa.ts';
import { ProtocolError } from '#shared/errors.ts';
import {
  BLINDED_HEX,
  MESSAGE,
  PUBLIC_KEY_64,
  SIGNED_BLINDED_HEX,
  SPKI_HEX,
  TEST_KEY_PKCS8_PEM,
  UNBLINDED_HEX,
} from './vector_8_9.ts';

const utf8 = new TextEncoder();

describe('mixRsaKeyFromPkcs8Pem (spec §8.9)', () => {
  const key = mixRsaKeyFromPkcs8Pem(TEST_KEY_PKCS8_PEM);

  it('exposes the SPKI of the test key', () => {
    expect(bytesToHex(key.publicKeySpki)).toBe(SPKI_HEX);
    expect(z85Encode(key.publicKeySpki)).toBe(PUBLIC_KEY_64);
  });

  it('signs the blinded vector to signedBlinded', () => {
    expect(bytesToHex(key.signBlinded(hexToBytes(BLINDED_HEX)))).toBe(SIGNED_BLINDED_HEX);
  });

  it('verifies the unblinded vector and rejects others', () => {
    expect(key.verify(utf8.encode(MESSAGE), hexToBytes(UNBLINDED_HEX))).toBe(true);
    expect(key.verify(utf8.encode(`${MESSAGE}.`), hexToBytes(UNBLINDED_HEX))).toBe(false);
    expect(key.verify(utf8.encode(MESSAGE), hexToBytes(SIGNED_BLINDED_HEX))).toBe(false);
    expect(key.verify(utf8.encode(MESSAGE), new Uint8Array(0))).toBe(false);
    expect(key.verify(utf8.encode(MESSAGE), new Uint8Array(257))).toBe(false);
    expect(key.verify(utf8.encode(MESSAGE), new Uint8Array(256).fill(0xff))).toBe(false);
  });

  it('rejects blinded inputs that are empty, longer than 256 bytes or not below n', () => {
    const n = parseRsaSpki(key.publicKeySpki).n;
    expect(() => key.signBlinded(new Uint8Array(257))).toThrow(ProtocolError);
    expect(() => key.signBlinded(new Uint8Array(0))).toThrow(ProtocolError);
    expect(() => key.signBlinded(bigIntToBytes(n, 256))).toThrow(ProtocolError);
    expect(() => key.signBlinded(new Uint8Array(256).fill(0xff))).toThrow(ProtocolError);
  });

  it('left-pads short blinded inputs and strips leading zeros of the result', () => {
    const priv = createPrivateKey(TEST_KEY_PKCS8_PEM);
    const short = hexToBytes(BLINDED_HEX).subarray(1); // 255 bytes = a smaller integer
    const expected = new Uint8Array(
      privateDecrypt(
        { key: priv, padding: constants.RSA_NO_PADDING },
        bigIntToBytes(BigInt(`0x${bytesToHex(short)}`), 256),
      ),
    );
    const got = key.signBlinded(short);
    expect(got[0]).not.toBe(0);
    expect(bytesToHex(got)).toBe(bytesToHex(expected).replace(/^(00)+/, ''));
    expect(bytesToHex(key.signBlinded(Uint8Array.of(1)))).toBe('01');
  });
});

describe('generateMixRsaKey', () => {
  it('generates 2048-bit keys with e = 65537 in SPKI form', async () => {
    const key = await generateMixRsaKey();
    expect(key.publicKeySpki).toHaveLength(294);
    const pub = parseRsaSpki(key.publicKeySpki);
    expect(pub.e).toBe(65537n);
    expect(pub.n.toString(2)).toHaveLength(2048);
    expect(
      createPublicKey({ key: Buffer.from(key.publicKeySpki), format: 'der', type: 'spki' }).asymmetricKeyType,
    ).toBe('rsa');
  });

  it('passes 300 random blind/sign/unblind/verify rounds, short signatures included', async () => {
    const key = await generateMixRsaKey();
    const pub = parseRsaSpki(z85Decode(z85Encode(key.publicKeySpki)));
    for (let i = 0; i < 300; i++) {
      const address = `tb1q${i.toString(36).padStart(38, 'q')}`;
      const msg = utf8.encode(address);
      const { blinded, r } = blindMessage(msg, pub);
      // wire round trip as in ConfirmInputRequest / ConfirmInputResponse
      const signed = z85Decode(z85Encode(key.signBlinded(z85Decode(z85Encode(blinded)))));
      const unblinded = z85Decode(z85Encode(unblindSignature(signed, r, pub)));
      expect(pssVerify(msg, unblinded, pub)).toBe(true);
      expect(key.verify(msg, unblinded)).toBe(true);
      expect(key.verify(utf8.encode(`${address}x`), unblinded)).toBe(false);
    }
    // Force short signatures: search salts until the unblinded signature has a leading zero byte.
    let forced = 0;
    for (let i = 0; forced < 3 && i < 20_000; i++) {
      const msg = utf8.encode(`forced-${i}`);
      const { blinded, r } = blindMessage(msg, pub);
      const unblinded = unblindSignature(key.signBlinded(blinded), r, pub);
      if (unblinded.length >= 256) continue;
      forced++;
      expect(pssVerify(msg, unblinded, pub)).toBe(true);
      expect(key.verify(msg, unblinded)).toBe(true);
    }
    expect(forced).toBe(3);
  }, 120_000);
});
