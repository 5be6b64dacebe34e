/**
 * The coordinator's per-mix RSA key for blind signatures (spec §4.2): a fresh
 * 2048-bit key (e = 65537) whose private half never leaves node:crypto. Signs
 * blinded bordereaux with raw RSA (`blinded^d mod n`) and verifies the
 * unblinded RSASSA-PSS (SHA-256, salt 32) signatures at registerOutput.
 *
 * @module
 */

import {
  constants,
  createPrivateKey,
  createPublicKey,
  verify as cryptoVerify,
  generateKeyPair,
  type KeyObject,
  privateDecrypt,
} from 'node:crypto';
import { bigIntToBytes, bytesToBigInt, parseRsaSpki } from '#shared/crypto/blind_rsa.ts';
import { ProtocolError } from '#shared/errors.ts';

/** A mix's RSA key pair. */
export interface MixRsaKey {
  /** X.509 SubjectPublicKeyInfo DER of the public key (294 bytes); sent Z85-encoded as `publicKey64`. */
  readonly publicKeySpki: Uint8Array;
  /**
   * Raw RSA private operation on a blinded bordereau (≤ 256 bytes, below n).
   * Returns the minimal big-endian result (leading zeros stripped, like
   * BouncyCastle). Throws {@link ProtocolError} on an out-of-range input.
   */
  signBlinded(blinded: Uint8Array): Uint8Array;
  /** Verifies an unblinded RSASSA-PSS signature of `message` (short signatures accepted). Never throws. */
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

const MODULUS_BITS = 2048;

/** Generates a fresh 2048-bit RSA key (e = 65537) for one mix. */
export async function generateMixRsaKey(): Promise<MixRsaKey> {
  const privateKey = await new Promise<KeyObject>((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: MODULUS_BITS, publicExponent: 65537 }, (err, _pub, priv) => {
      if (err) reject(err);
      else resolve(priv);
    });
  });
  return mixRsaKeyFromPrivateKey(privateKey);
}

/** Builds a mix key from a PKCS#8 (`BEGIN PRIVATE KEY`) PEM, e.g. the test key of spec §8.9. */
export function mixRsaKeyFromPkcs8Pem(pem: string): MixRsaKey {
  return mixRsaKeyFromPrivateKey(createPrivateKey({ key: pem, format: 'pem' }));
}

function mixRsaKeyFromPrivateKey(privateKey: KeyObject): MixRsaKey {
  if (privateKey.asymmetricKeyType !== 'rsa') throw new TypeError('Mix key must be an RSA key');
  const publicKey = createPublicKey(privateKey);
  const publicKeySpki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const { n } = parseRsaSpki(publicKeySpki);
  const k = Math.ceil(n.toString(2).length / 8);

  function signBlinded(blinded: Uint8Array): Uint8Array {
    if (blinded.length === 0) throw new ProtocolError('Empty blinded bordereau');
    if (blinded.length > k) {
      throw new ProtocolError(`Blinded bordereau too long: ${blinded.length} bytes (max ${k})`);
    }
    if (bytesToBigInt(blinded) >= n) throw new ProtocolError('Blinded bordereau is not below the modulus');
    const out = new Uint8Array(
      privateDecrypt(
        { key: privateKey, padding: constants.RSA_NO_PADDING },
        bigIntToBytes(bytesToBigInt(blinded), k),
      ),
    );
    let start = 0;
    while (start < out.length - 1 && out[start] === 0) start++;
    return out.slice(start);
  }

  function verify(message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length === 0 || signature.length > k) return false;
    const padded = new Uint8Array(k);
    padded.set(signature, k - signature.length);
    try {
      return cryptoVerify(
        'sha256',
        message,
        { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        padded,
      );
    } catch {
      return false;
    }
  }

  return Object.freeze({ publicKeySpki, signBlinded, verify });
}
