/**
 * Dashboard password hashes: scrypt (node:crypto) in the self-describing form
 * `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>`, compared in constant time.
 * Operators produce one with `npm run dashboard:hash-password` and put it in
 * `WHIRLPOOL_DASHBOARD_PASSWORD_HASH`; the clear password is never stored.
 *
 * @module
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const KEY_LEN = 32;

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LEN, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Hashes `password` with a fresh 16-byte salt (N = 2^15, r = 8, p = 1 by default). */
export async function hashPassword(password: string, opts: { n?: number; r?: number; p?: number } = {}) {
  const n = opts.n ?? 32768;
  const r = opts.r ?? 8;
  const p = opts.p ?? 1;
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, n, r, p);
  return `scrypt$${n}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether `encoded` is a well-formed hash of this module's format. */
export function isPasswordHash(encoded: string): boolean {
  return /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(encoded);
}

/** Checks `password` against `encoded`; false (never throws) on a malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  if (!isPasswordHash(encoded)) return false;
  const [, n, r, p, salt, hash] = encoded.split('$') as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  if (expected.length !== KEY_LEN) return false;
  try {
    const key = await scryptAsync(password, Buffer.from(salt, 'base64'), Number(n), Number(r), Number(p));
    return timingSafeEqual(key, expected);
  } catch {
    return false;
  }
}
