/**
 * Bitcoin "signed message" signatures (bitcoinj/Electrum style, BIP137
 * headers 27–34) used for RegisterInputRequest.signature (spec §4.3).
 * Hand-written: neither @scure/btc-signer nor any maintained ESM library
 * implements message signing. Signing is on @noble/curves; recovery and
 * verification take a {@link Secp256k1} (default: the portable noble one; the
 * coordinator passes libsecp256k1).
 *
 * Digest = SHA256d(varint(24) ‖ "Bitcoin Signed Message:\n" ‖ varint(len) ‖ UTF-8 message);
 * signature = base64(header ‖ r ‖ s) with header = 27 + recId (+ 4 for a compressed key).
 *
 * @module
 */

import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { utils } from '@scure/btc-signer';
import { nobleSecp256k1, type Secp256k1 } from '../crypto/secp256k1.ts';
import { addressToOutputScript, type NetworkName } from './network.ts';

const MAGIC = utf8ToBytes('Bitcoin Signed Message:\n');

/** Returns the 32-byte digest a Bitcoin signed message signs (double SHA-256 of the framed message). */
export function messageDigest(message: string): Uint8Array {
  const body = utf8ToBytes(message);
  return sha256(sha256(concatBytes(compactSize(MAGIC.length), MAGIC, compactSize(body.length), body)));
}

/**
 * Signs `message` with a private key: deterministic RFC 6979, low S, compressed
 * header (31–34). Returns the 88-character padded base64 signature.
 */
export function signMessage(message: string, privKey: Uint8Array): string {
  const sig = secp256k1.sign(messageDigest(message), privKey, { prehash: false, format: 'recovered' });
  const out = new Uint8Array(65);
  out[0] = 27 + 4 + sig[0]!;
  out.set(sig.subarray(1), 1);
  return base64.encode(out);
}

/**
 * Returns the public key a signature was made with (33 bytes for headers
 * 31–34, 65 bytes uncompressed for headers 27–30), or `null` when the
 * signature is malformed, has another header, or recovers no key.
 */
export function recoverMessagePublicKey(
  message: string,
  signatureB64: string,
  secp: Secp256k1 = nobleSecp256k1,
): Uint8Array | null {
  try {
    // 88 base64 characters = 65 bytes; anything longer is refused before decoding.
    if (signatureB64.length > 100) return null;
    const raw = base64.decode(signatureB64);
    if (raw.length !== 65) return null;
    const header = raw[0]!;
    if (header < 27 || header > 34) return null;
    const compressed = header >= 31;
    const recovery = (header - 27) & 3;
    return secp.recoverPublicKey(messageDigest(message), raw.subarray(1), recovery, compressed);
  } catch {
    return null;
  }
}

/**
 * Returns true when `signatureB64` is a valid signature of `message` by the
 * key behind `address` (P2WPKH or P2PKH on `network`), like bitcoinj: the key
 * is recovered from the signature and its hash160 (compressed or not, per the
 * header) must match the address. Any other address type, any malformed
 * input, or any mismatch gives false; it never throws.
 */
export function verifyMessageForAddress(
  message: string,
  signatureB64: string,
  address: string,
  network: NetworkName,
  secp: Secp256k1 = nobleSecp256k1,
): boolean {
  try {
    if (typeof message !== 'string' || typeof signatureB64 !== 'string' || typeof address !== 'string') {
      return false;
    }
    const pub = recoverMessagePublicKey(message, signatureB64, secp);
    if (pub === null) return false;
    return isPublicKeyOfScript(pub, addressToOutputScript(address, network));
  } catch {
    return false;
  }
}

/**
 * True when `script` is the P2WPKH or P2PKH output script of `publicKey`
 * (its hash160, as serialized: 33 or 65 bytes). The second half of
 * {@link verifyMessageForAddress}, for callers that already hold the key
 * recovered by {@link recoverMessagePublicKey} and the output script.
 */
export function isPublicKeyOfScript(publicKey: Uint8Array, script: Uint8Array): boolean {
  const hash = ripemd160(sha256(publicKey));
  const p2wpkh = concatBytes(Uint8Array.of(0x00, 0x14), hash);
  const p2pkh = concatBytes(Uint8Array.of(0x76, 0xa9, 0x14), hash, Uint8Array.of(0x88, 0xac));
  return utils.compareBytes(script, p2wpkh) === 0 || utils.compareBytes(script, p2pkh) === 0;
}

function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8);
  return Uint8Array.of(0xfe, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
}
