/**
 * Whirlpool's blind RSA signature of the output address (spec §4.2):
 * RSASSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt, trailer 0xBC) blinded with
 * `m·r^e mod n` the way BouncyCastle's PSSSigner over an RSABlindingEngine does
 * it, plus X.509 SubjectPublicKeyInfo parsing/encoding of the mix key.
 *
 * Hand-written with bigint arithmetic and @noble/hashes: no library fits.
 * RFC 9474 libraries use SHA-384 suites, add a message "prepare" step and
 * reject signatures shorter than the modulus, which BouncyCastle produces
 * (leading zeros stripped) about once in 256 mixes. Runs in every runtime
 * (no node:crypto).
 *
 * @module
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from '@noble/hashes/utils.js';
import { DecodeError } from '../errors.ts';

/** An RSA public key. */
export interface RsaPublicKey {
  n: bigint;
  e: bigint;
}

const HASH_LEN = 32;
const SALT_LEN = 32;
/** DER of AlgorithmIdentifier { rsaEncryption, NULL }. */
const RSA_ALGORITHM_ID = Uint8Array.from([
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
]);
const RSA_ENCRYPTION_OID = Uint8Array.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);

// ---------------------------------------------------------------------------
// SubjectPublicKeyInfo (DER)

/**
 * Parses an X.509 SubjectPublicKeyInfo DER holding an rsaEncryption key.
 * Throws {@link DecodeError} (codec `der`) on anything else.
 */
export function parseRsaSpki(der: Uint8Array): RsaPublicKey {
  const reader = new DerReader(der);
  const spki = reader.read(0x30);
  reader.end('SubjectPublicKeyInfo');
  const spkiReader = new DerReader(spki);
  const algorithm = new DerReader(spkiReader.read(0x30));
  const oid = algorithm.read(0x06);
  if (!bytesEqual(oid, RSA_ENCRYPTION_OID)) throw new DecodeError('der', 'Not an rsaEncryption key');
  if (!algorithm.done()) {
    const params = algorithm.read(0x05);
    if (params.length !== 0) throw new DecodeError('der', 'Invalid rsaEncryption parameters');
  }
  algorithm.end('AlgorithmIdentifier');
  const bitString = spkiReader.read(0x03);
  spkiReader.end('SubjectPublicKeyInfo');
  if (bitString[0] !== 0) throw new DecodeError('der', 'Public key BIT STRING has unused bits');
  const rsaKey = new DerReader(bitString.subarray(1));
  const seq = new DerReader(rsaKey.read(0x30));
  rsaKey.end('RSAPublicKey');
  const n = seq.readUnsignedInteger();
  const e = seq.readUnsignedInteger();
  seq.end('RSAPublicKey');
  if (n < 3n || e < 3n || n % 2n === 0n) throw new DecodeError('der', 'Invalid RSA modulus or exponent');
  return { n, e };
}

/** Encodes an RSA public key as X.509 SubjectPublicKeyInfo DER (294 bytes for 2048 bits, e = 65537). */
export function encodeRsaSpki(key: RsaPublicKey): Uint8Array {
  const rsaPublicKey = derTlv(0x30, concatBytes(derInteger(key.n), derInteger(key.e)));
  const bitString = derTlv(0x03, concatBytes(Uint8Array.of(0), rsaPublicKey));
  return derTlv(0x30, concatBytes(RSA_ALGORITHM_ID, bitString));
}

class DerReader {
  readonly #bytes: Uint8Array;
  #pos = 0;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  done(): boolean {
    return this.#pos >= this.#bytes.length;
  }
  end(what: string): void {
    if (!this.done()) throw new DecodeError('der', `Trailing bytes after ${what}`);
  }
  /** Reads one TLV with the expected tag and returns its content. */
  read(tag: number): Uint8Array {
    const b = this.#bytes;
    if (this.#pos + 2 > b.length) throw new DecodeError('der', 'Truncated DER');
    const actual = b[this.#pos++]!;
    if (actual !== tag) {
      throw new DecodeError('der', `Expected tag 0x${tag.toString(16)}, got 0x${actual.toString(16)}`);
    }
    let len = b[this.#pos++]!;
    if (len & 0x80) {
      const count = len & 0x7f;
      if (count === 0 || count > 4) throw new DecodeError('der', 'Unsupported DER length');
      if (this.#pos + count > b.length) throw new DecodeError('der', 'Truncated DER');
      len = 0;
      for (let i = 0; i < count; i++) len = len * 256 + b[this.#pos++]!;
    }
    if (this.#pos + len > b.length) throw new DecodeError('der', 'Truncated DER');
    const content = b.subarray(this.#pos, this.#pos + len);
    this.#pos += len;
    return content;
  }
  readUnsignedInteger(): bigint {
    const content = this.read(0x02);
    if (content.length === 0) throw new DecodeError('der', 'Empty INTEGER');
    if (content[0]! & 0x80) throw new DecodeError('der', 'Negative INTEGER');
    return bytesToBigInt(content);
  }
}

function derLength(len: number): Uint8Array {
  if (len < 0x80) return Uint8Array.of(len);
  const bytes: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.from([0x80 | bytes.length, ...bytes]);
}

function derTlv(tag: number, content: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(tag), derLength(content.length), content);
}

function derInteger(value: bigint): Uint8Array {
  let bytes = bigIntToMinimalBytes(value);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes = concatBytes(Uint8Array.of(0), bytes);
  return derTlv(0x02, bytes);
}

// ---------------------------------------------------------------------------
// EMSA-PSS (RFC 8017 §9.1) with SHA-256, MGF1-SHA-256

/**
 * EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with SHA-256, MGF1-SHA-256 and the given
 * salt; returns `ceil(emBits / 8)` bytes (256 for a 2048-bit key, emBits 2047).
 */
export function pssEncode(message: Uint8Array, emBits: number, salt: Uint8Array): Uint8Array {
  const emLen = Math.ceil(emBits / 8);
  if (emLen < HASH_LEN + salt.length + 2) throw new RangeError('Encoding error: emBits too small');
  const mHash = sha256(message);
  const h = sha256(concatBytes(new Uint8Array(8), mHash, salt));
  const db = new Uint8Array(emLen - HASH_LEN - 1);
  db[db.length - salt.length - 1] = 0x01;
  db.set(salt, db.length - salt.length);
  const mask = mgf1(h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >>> (8 * emLen - emBits);
  return concatBytes(db, h, Uint8Array.of(0xbc));
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with SHA-256, MGF1-SHA-256 and a 32-byte salt. */
function pssCheck(message: Uint8Array, em: Uint8Array, emBits: number): boolean {
  const emLen = Math.ceil(emBits / 8);
  if (em.length !== emLen || emLen < HASH_LEN + SALT_LEN + 2) return false;
  if (em[emLen - 1] !== 0xbc) return false;
  const dbLen = emLen - HASH_LEN - 1;
  const maskedDb = em.subarray(0, dbLen);
  const h = em.subarray(dbLen, dbLen + HASH_LEN);
  const topMask = 0xff >>> (8 * emLen - emBits);
  if ((maskedDb[0]! & ~topMask & 0xff) !== 0) return false;
  const mask = mgf1(h, dbLen);
  const db = new Uint8Array(dbLen);
  for (let i = 0; i < dbLen; i++) db[i] = maskedDb[i]! ^ mask[i]!;
  db[0]! &= topMask;
  const psLen = dbLen - SALT_LEN - 1;
  for (let i = 0; i < psLen; i++) if (db[i] !== 0) return false;
  if (db[psLen] !== 0x01) return false;
  const salt = db.subarray(dbLen - SALT_LEN);
  const h2 = sha256(concatBytes(new Uint8Array(8), sha256(message), salt));
  return bytesEqual(h, h2);
}

function mgf1(seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(length / HASH_LEN) * HASH_LEN);
  const counter = new Uint8Array(4);
  for (let i = 0, off = 0; off < length; i++, off += HASH_LEN) {
    new DataView(counter.buffer).setUint32(0, i);
    out.set(sha256(concatBytes(seed, counter)), off);
  }
  return out.subarray(0, length);
}

// ---------------------------------------------------------------------------
// Blinding, unblinding, verification

/**
 * Client step 1 (spec §4.2.3): PSS-encodes `message` (fresh random 32-byte
 * salt unless given) and blinds it with r (random, bit length bitlen(n) − 1,
 * 1 < r < n, gcd(r, n) = 1, unless given). Returns `EM·r^e mod n` left-padded
 * to the modulus length, and r for {@link unblindSignature}.
 */
export function blindMessage(
  message: Uint8Array,
  key: RsaPublicKey,
  opts?: { salt?: Uint8Array; r?: bigint },
): { blinded: Uint8Array; r: bigint } {
  const modBits = bitLength(key.n);
  const k = Math.ceil(modBits / 8);
  const salt = opts?.salt ?? randomBytes(SALT_LEN);
  if (salt.length !== SALT_LEN) throw new RangeError(`Salt must be ${SALT_LEN} bytes, got ${salt.length}`);
  const r = opts?.r ?? randomBlindingFactor(key.n);
  if (r <= 1n || r >= key.n || gcd(r, key.n) !== 1n) throw new RangeError('Invalid blinding factor');
  const em = bytesToBigInt(pssEncode(message, modBits - 1, salt));
  const blinded = (em * modPow(r, key.e, key.n)) % key.n;
  return { blinded: bigIntToBytes(blinded, k), r };
}

/**
 * Client step 3: `s = s'·r⁻¹ mod n`, returned as minimal big-endian bytes
 * (leading zeros stripped, like BouncyCastle). Throws {@link DecodeError}
 * when the signed value is not below the modulus.
 */
export function unblindSignature(signedBlinded: Uint8Array, r: bigint, key: RsaPublicKey): Uint8Array {
  const sPrime = bytesToBigInt(signedBlinded);
  if (sPrime >= key.n) throw new DecodeError('rsa', 'Signed blinded value is not below the modulus');
  const s = (sPrime * modInverse(r, key.n)) % key.n;
  return bigIntToMinimalBytes(s);
}

/**
 * Verifies an RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) signature of
 * `message`. The signature is read as an integer, so values shorter than the
 * modulus (leading zeros stripped) are accepted. Never throws.
 */
export function pssVerify(message: Uint8Array, signature: Uint8Array, key: RsaPublicKey): boolean {
  try {
    const modBits = bitLength(key.n);
    const k = Math.ceil(modBits / 8);
    if (signature.length === 0 || signature.length > k) return false;
    const s = bytesToBigInt(signature);
    if (s >= key.n) return false;
    const m = modPow(s, key.e, key.n);
    const emBits = modBits - 1;
    const emLen = Math.ceil(emBits / 8);
    if (bitLength(m) > emBits) return false;
    return pssCheck(message, bigIntToBytes(m, emLen), emBits);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// bigint helpers

/** Big-endian unsigned bytes → bigint. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex.length === 0 ? 0n : BigInt(`0x${hex}`);
}

/** bigint → big-endian bytes left-padded to `length`; throws RangeError if it does not fit. */
export function bigIntToBytes(value: bigint, length: number): Uint8Array {
  const minimal = bigIntToMinimalBytes(value);
  if (minimal.length > length) throw new RangeError(`Integer does not fit in ${length} bytes`);
  const out = new Uint8Array(length);
  out.set(minimal, length - minimal.length);
  return out;
}

/** bigint → minimal big-endian bytes (no leading zero; 0 → one zero byte). */
export function bigIntToMinimalBytes(value: bigint): Uint8Array {
  if (value < 0n) throw new RangeError('Negative integer');
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a;
  let y = b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [((a % m) + m) % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new RangeError('Value is not invertible modulo n');
  return ((oldS % m) + m) % m;
}

function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  crypto.getRandomValues(out);
  return out;
}

function randomBlindingFactor(n: bigint): bigint {
  const bits = bitLength(n) - 1;
  const bytes = Math.ceil(bits / 8);
  const topMask = 0xff >>> (8 * bytes - bits);
  for (;;) {
    const buf = randomBytes(bytes);
    buf[0]! &= topMask;
    const r = bytesToBigInt(buf);
    if (r > 1n && gcd(r, n) === 1n) return r;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
