/**
 * The secp256k1 operations that are hot on the coordinator's request path,
 * behind one small interface, and the portable implementation on
 * @noble/curves that runs everywhere (Node, Deno, Workers, browsers).
 *
 * The coordinator (Node) injects a libsecp256k1 implementation
 * (coordinator/crypto/native_secp256k1.ts, about 30× faster); code in
 * `shared/` defaults to {@link nobleSecp256k1} so bootstrap nodes and the
 * client need no native module. Both implementations pass the same vector
 * table (test/unit/crypto/secp256k1_backends.test.ts).
 *
 * Only verification-side operations are here: signing stays on @noble/curves
 * (clients sign a few messages per mix, it is not hot).
 *
 * @module
 */

import { secp256k1 } from '@noble/curves/secp256k1.js';

/** The hot secp256k1 operations (public-key recovery, ECDSA verification, ECDH). */
export interface Secp256k1 {
  /** Short name for logs and benchmarks (`noble`, `libsecp256k1`). */
  readonly name: string;
  /**
   * Returns the public key that made the 64-byte compact signature `r ‖ s`
   * with recovery id `recovery` (0–3) over the 32-byte `digest`: 33 bytes
   * when `compressed`, else 65. Null when no key is recovered or any input is
   * malformed. Never throws.
   */
  recoverPublicKey(
    digest: Uint8Array,
    compactSignature: Uint8Array,
    recovery: number,
    compressed: boolean,
  ): Uint8Array | null;
  /**
   * True when the strict-DER signature `der` over the 32-byte `digest` is
   * valid for `publicKey` (see {@link isPublicKeyEncoding}) and has a low S (BIP62, as
   * bitcoind's standardness rules). Never throws.
   */
  verifyDerLowS(der: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean;
  /**
   * Returns the 32-byte big-endian x-coordinate of `privateKey` × `publicKey`
   * (ECDH without hashing). Throws on an invalid key.
   */
  ecdhX(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
}

/**
 * True when `key` is a SEC1 compressed (33 bytes, 0x02/0x03) or uncompressed
 * (65 bytes, 0x04) encoding; hybrid keys (0x06/0x07) are not accepted.
 */
export function isPublicKeyEncoding(key: Uint8Array): boolean {
  return (
    (key.length === 33 && (key[0] === 0x02 || key[0] === 0x03)) || (key.length === 65 && key[0] === 0x04)
  );
}

/** {@link Secp256k1} on @noble/curves (pure JavaScript; portable). */
export const nobleSecp256k1: Secp256k1 = {
  name: 'noble',
  recoverPublicKey(digest, compactSignature, recovery, compressed) {
    try {
      if (digest.length !== 32 || compactSignature.length !== 64) return null;
      if (!Number.isInteger(recovery) || recovery < 0 || recovery > 3) return null;
      const sig = new Uint8Array(65);
      sig[0] = recovery;
      sig.set(compactSignature, 1);
      const pub = secp256k1.recoverPublicKey(sig, digest, { prehash: false });
      return compressed ? pub : secp256k1.Point.fromBytes(pub).toBytes(false);
    } catch {
      return null;
    }
  },
  verifyDerLowS(der, digest, publicKey) {
    try {
      if (digest.length !== 32) return false;
      return secp256k1.verify(der, digest, publicKey, { prehash: false, format: 'der', lowS: true });
    } catch {
      return false;
    }
  },
  ecdhX(privateKey, publicKey) {
    return secp256k1.getSharedSecret(privateKey, publicKey, true).slice(1);
  },
};
