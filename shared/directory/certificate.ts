/**
 * Instance certificates: an offline **root key** (Ed25519) signs, for one
 * coordinator instance, its id, its directory public key and an expiry. The
 * instance signs its own records with that key and carries the certificate
 * in every record (record version 2), so clients pinning only the root
 * public key(s) can verify any instance, and a stolen instance key can sign
 * records for that one instance only, until its certificate expires.
 *
 * The root signs the UTF-8 bytes of
 * `"whirlpool-directory-certificate-v1\n" + canonicalJson`, where the
 * canonical JSON has the members of {@link InstanceCertificate} in that order.
 *
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import type { SignedInstanceCertificate } from './record.ts';

/** Domain-separation prefix of certificate signatures (never valid as a record signature). */
export const CERTIFICATE_SIGNATURE_DOMAIN = 'whirlpool-directory-certificate-v1\n';

/** Certificate format version. */
export const CERTIFICATE_VERSION = 1;

/** Longest certificate lifetime a verifier accepts: 400 days (rotate the instance keys at least yearly). */
export const MAX_CERTIFICATE_LIFETIME_MS = 400 * 24 * 60 * 60 * 1000;

/** What the root key certifies. */
export interface InstanceCertificate {
  version: number;
  /** The instance allowed to use the key (records of other instances signed with it are refused). */
  instanceId: string;
  /** The instance's Ed25519 directory public key, 64 lowercase hex characters. */
  publicKey: string;
  /** Ms since the Unix epoch: not valid before. */
  issuedAt: number;
  /** Ms since the Unix epoch: not valid after (records must expire by then too). */
  expiresAt: number;
}

/** Schema of the certificate content (strict). */
export const InstanceCertificateSchema = z
  .strictObject({
    version: z.literal(CERTIFICATE_VERSION),
    instanceId: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/),
    publicKey: z.string().regex(/^[0-9a-f]{64}$/),
    issuedAt: z.number().int().nonnegative(),
    expiresAt: z.number().int().nonnegative(),
  })
  .refine((c) => c.expiresAt > c.issuedAt, 'expiresAt must be after issuedAt')
  .refine(
    (c) => c.expiresAt - c.issuedAt <= MAX_CERTIFICATE_LIFETIME_MS,
    `lifetime must be at most ${MAX_CERTIFICATE_LIFETIME_MS} ms`,
  );

/** Canonical JSON of a certificate (members in the order of {@link InstanceCertificate}). */
export function canonicalCertificateJson(c: InstanceCertificate): string {
  return JSON.stringify({
    version: c.version,
    instanceId: c.instanceId,
    publicKey: c.publicKey,
    issuedAt: c.issuedAt,
    expiresAt: c.expiresAt,
  });
}

const encoder = new TextEncoder();

function certificateMessage(json: string): Uint8Array {
  return encoder.encode(CERTIFICATE_SIGNATURE_DOMAIN + json);
}

/** Signs a certificate with the root private key (32-byte Ed25519 seed). */
export function signInstanceCertificate(
  c: InstanceCertificate,
  rootPrivateKey: Uint8Array,
): SignedInstanceCertificate {
  const json = canonicalCertificateJson(c);
  return { certificate: json, signature: bytesToHex(ed25519.sign(certificateMessage(json), rootPrivateKey)) };
}

/** Why a certificate was refused. */
export type CertificateProblem =
  | 'malformed'
  | 'untrusted-root'
  | 'wrong-instance'
  | 'expired'
  | 'not-yet-valid';

/**
 * Verifies a certificate against the pinned root keys (any one of them: a
 * second pinned key allows rotating the root) at `nowMs` with `skewMs`
 * tolerance, for `instanceId`. Returns the content, or the problem and a
 * message.
 */
export function checkInstanceCertificate(
  signed: SignedInstanceCertificate,
  rootKeys: readonly Uint8Array[],
  instanceId: string,
  nowMs: number,
  skewMs: number,
):
  | { ok: true; certificate: InstanceCertificate }
  | { ok: false; problem: CertificateProblem; message: string } {
  if (!/^[0-9a-f]{128}$/.test(signed.signature)) {
    return {
      ok: false,
      problem: 'malformed',
      message: 'certificate signature must be 128 lowercase hex characters',
    };
  }
  const sig = hexToBytes(signed.signature);
  const msg = certificateMessage(signed.certificate);
  const trusted = rootKeys.some((k) => {
    try {
      return ed25519.verify(sig, msg, k);
    } catch {
      return false;
    }
  });
  if (!trusted) {
    return {
      ok: false,
      problem: 'untrusted-root',
      message: `certificate is not signed by any of the ${rootKeys.length} pinned root key(s)`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(signed.certificate);
  } catch {
    return { ok: false, problem: 'malformed', message: 'certificate is not JSON' };
  }
  const r = InstanceCertificateSchema.safeParse(parsed);
  if (!r.success || canonicalCertificateJson(r.data) !== signed.certificate) {
    return {
      ok: false,
      problem: 'malformed',
      message: 'certificate does not match the schema or is not canonical',
    };
  }
  const c = r.data;
  if (c.instanceId !== instanceId) {
    return {
      ok: false,
      problem: 'wrong-instance',
      message: `certificate is for instance '${c.instanceId}', the record is of '${instanceId}'`,
    };
  }
  if (nowMs >= c.expiresAt + skewMs) {
    return {
      ok: false,
      problem: 'expired',
      message: `certificate expired at ${new Date(c.expiresAt).toISOString()}`,
    };
  }
  if (c.issuedAt > nowMs + skewMs) {
    return {
      ok: false,
      problem: 'not-yet-valid',
      message: `certificate valid from ${new Date(c.issuedAt).toISOString()}`,
    };
  }
  return { ok: true, certificate: c };
}
