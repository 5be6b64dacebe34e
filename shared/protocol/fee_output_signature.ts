/**
 * `Tx0Data.feeOutputSignature` (addendum §4.8): the coordinator's signing key
 * signs the serialised fee output (8-byte LE value ‖ varint(script length) ‖
 * scriptPubKey) inside the usual "Bitcoin Signed Message" envelope, and the
 * 65-byte compact signature (header 31–34, compressed key) is sent in
 * base64. No 0.23/0.24 client reads it; a client that wants to can verify it
 * against the coordinator's published signing address (legacy P2PKH of the
 * key at m/44'/coin'/0'/0/0 of the signing wallet).
 *
 * Hand-written on @noble/curves for the same reason as
 * shared/bitcoin/signed_message.ts: no maintained library signs raw bytes in
 * the signed-message envelope.
 *
 * @module
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { p2pkh } from '@scure/btc-signer';
import { addressToOutputScript, btcNetwork, type NetworkName } from '../bitcoin/network.ts';

const MAGIC = utf8ToBytes('Bitcoin Signed Message:\n');

/** Serialised transaction output for (`address`, `value`); an all-upper-case bech32 address is accepted. */
export function serializeTxOutput(address: string, value: number, network: NetworkName): Uint8Array {
  const normalized = address === address.toUpperCase() ? address.toLowerCase() : address;
  const script = addressToOutputScript(normalized, network);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value), true);
  return concatBytes(out, compactSize(script.length), script);
}

/** SHA256d of the signed-message envelope around raw `bytes` (the pre-hash of addendum §9.7). */
export function bytesMessageDigest(bytes: Uint8Array): Uint8Array {
  return sha256(sha256(concatBytes(compactSize(MAGIC.length), MAGIC, compactSize(bytes.length), bytes)));
}

/** Signs the fee output (RFC 6979, low S, compressed header); base64 of 65 bytes. */
export function signFeeOutput(
  feeAddress: string,
  feeValue: number,
  network: NetworkName,
  signingPrivKey: Uint8Array,
): string {
  const digest = bytesMessageDigest(serializeTxOutput(feeAddress, feeValue, network));
  const sig = secp256k1.sign(digest, signingPrivKey, { prehash: false, format: 'recovered' });
  const out = new Uint8Array(65);
  out[0] = 27 + 4 + sig[0]!;
  out.set(sig.subarray(1), 1);
  return base64.encode(out);
}

/** Legacy P2PKH address of a (compressed) public key: the published "signing address". */
export function signingAddress(publicKey: Uint8Array, network: NetworkName): string {
  return p2pkh(publicKey, btcNetwork(network)).address!;
}

/**
 * True when `signatureB64` signs (`feeAddress`, `feeValue`) with the key of
 * `expectedSigningAddress` (P2PKH). Never throws.
 */
export function verifyFeeOutputSignature(
  feeAddress: string,
  feeValue: number,
  signatureB64: string,
  expectedSigningAddress: string,
  network: NetworkName,
): boolean {
  try {
    const raw = base64.decode(signatureB64);
    if (raw.length !== 65) return false;
    const header = raw[0]!;
    if (header < 31 || header > 34) return false;
    const sig = concatBytes(Uint8Array.of(header - 31), raw.subarray(1));
    const digest = bytesMessageDigest(serializeTxOutput(feeAddress, feeValue, network));
    const pub = secp256k1.recoverPublicKey(sig, digest, { prehash: false });
    return signingAddress(pub, network) === expectedSigningAddress;
  } catch {
    return false;
  }
}

function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8);
  return Uint8Array.of(0xfe, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
}
