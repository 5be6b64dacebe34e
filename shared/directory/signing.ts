/**
 * Signing and verification of directory records (Ed25519, @noble/curves:
 * pure JS, same code in Node, Deno, Workers and browsers). Two trust modes:
 *
 * - **root keys** (default for new deployments): a record (version 2) is
 *   signed by its instance's own key and carries the root's certificate of
 *   that key ({@link checkInstanceCertificate}); verifiers pin one or more
 *   root public keys (several for rotation);
 * - **single key** (legacy): a record (version 1) signed directly by the one
 *   pinned cluster key. A verifier in root mode never accepts such a record,
 *   and a single-key verifier never accepts a version 2 record, so the
 *   legacy mode cannot weaken a root-pinned client.
 *
 * The signed message is the UTF-8 encoding of
 * `"whirlpool-directory-record-v1\n" + canonicalJson` (a domain prefix so a
 * directory signature can never be reused as a signature over anything else).
 * Verification checks, in order: signature shape, signature under the pinned
 * key, JSON and schema, canonical form, version, lifetime and time window.
 * Each failure throws {@link DirectoryVerificationError} with a `reason`.
 *
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import {
  type CertificateProblem,
  checkInstanceCertificate,
  type InstanceCertificate,
} from './certificate.ts';
import {
  CERTIFIED_RECORD_VERSION,
  canonicalRecordJson,
  DIRECTORY_RECORD_VERSION,
  type DirectoryRecord,
  DirectoryRecordSchema,
  MAX_RECORD_TTL_MS,
  type SignedDirectoryRecord,
} from './record.ts';

/** Domain-separation prefix of every signed directory message. */
export const DIRECTORY_SIGNATURE_DOMAIN = 'whirlpool-directory-record-v1\n';

/** Default tolerance for clock differences between the database and the verifier. */
export const DEFAULT_CLOCK_SKEW_MS = 30_000;

/** Why a record was refused. `forged` covers any record whose signature does not verify (forged or altered). */
export type DirectoryVerificationReason =
  | 'malformed-signature'
  | 'forged'
  | 'malformed-record'
  | 'non-canonical'
  | 'unsupported-version'
  | 'expired'
  | 'not-yet-valid'
  | 'untrusted-certificate';

/** What a verifier trusts: the pinned root keys (records with certificates), or one legacy directory key. */
export type DirectoryTrust = { rootKeys: readonly Uint8Array[] } | { singleKey: Uint8Array };

/** Normalises the legacy `Uint8Array` form to {@link DirectoryTrust}. */
export function toDirectoryTrust(t: DirectoryTrust | Uint8Array): DirectoryTrust {
  return t instanceof Uint8Array ? { singleKey: t } : t;
}

/** Cache of certificate checks within one verification pass (same certificate, one check). */
export type CertificateCache = Map<
  string,
  { ok: true; certificate: InstanceCertificate } | { ok: false; problem: CertificateProblem; message: string }
>;

/** A directory record failed verification; `reason` says which check and `instanceId` whose record (when readable). */
export class DirectoryVerificationError extends Error {
  readonly reason: DirectoryVerificationReason;
  readonly instanceId: string | null;
  constructor(
    reason: DirectoryVerificationReason,
    instanceId: string | null,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Directory record${instanceId ? ` of '${instanceId}'` : ''} refused (${reason}): ${message}`,
      options,
    );
    this.name = 'DirectoryVerificationError';
    this.reason = reason;
    this.instanceId = instanceId;
  }
}

const encoder = new TextEncoder();

function signedMessage(recordJson: string): Uint8Array {
  return encoder.encode(DIRECTORY_SIGNATURE_DOMAIN + recordJson);
}

/** Public key (32 bytes) of a directory private key (32-byte Ed25519 seed). */
export function directoryPublicKey(privateKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(privateKey);
}

/** Parses a 32-byte key given as 64 hex characters; `what` names it in the error. */
export function parseDirectoryKeyHex(hex: string, what: string): Uint8Array {
  const trimmed = hex.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(trimmed)) {
    throw new Error(`${what} must be 64 hex characters (32 bytes), got ${trimmed.length} characters`);
  }
  return hexToBytes(trimmed.toLowerCase());
}

/** Signs a record: returns its canonical JSON and the Ed25519 signature as hex. */
export function signDirectoryRecord(record: DirectoryRecord, privateKey: Uint8Array): SignedDirectoryRecord {
  const json = canonicalRecordJson(record);
  return { record: json, signature: bytesToHex(ed25519.sign(signedMessage(json), privateKey)) };
}

/** Best-effort instance id of an unverified record, only for error messages. */
function peekInstanceId(json: string): string | null {
  try {
    const v: unknown = JSON.parse(json);
    if (v && typeof v === 'object' && 'instanceId' in v && typeof v.instanceId === 'string') {
      return v.instanceId.slice(0, 64);
    }
  } catch {
    // unreadable: no id
  }
  return null;
}

/**
 * Verifies a signed record at time `nowMs` (ms since the Unix epoch) and
 * returns its content. `trust` is the pinned root keys (record version 2:
 * certificate by a root key for this instance, record signed by the
 * certified key, record expiring no later than its certificate) or, legacy,
 * one directory key (`Uint8Array` or `{ singleKey }`, record version 1).
 * Throws {@link DirectoryVerificationError}: `forged` (signature does not
 * verify), `untrusted-certificate`, `malformed-record` (schema, a lifetime
 * above {@link MAX_RECORD_TTL_MS}, an epoch above the maximum),
 * `unsupported-version` (also a record of the other trust mode),
 * `non-canonical`, `expired` / `not-yet-valid` (with `clockSkewMs`).
 */
export function verifyDirectoryRecord(
  signed: SignedDirectoryRecord,
  trust: DirectoryTrust | Uint8Array,
  nowMs: number,
  opts: { clockSkewMs?: number; certificateCache?: CertificateCache } = {},
): DirectoryRecord {
  const skew = opts.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  const t = toDirectoryTrust(trust);
  const json = signed.record;
  if (typeof signed.signature !== 'string' || !/^[0-9a-f]{128}$/.test(signed.signature)) {
    throw new DirectoryVerificationError(
      'malformed-signature',
      peekInstanceId(json),
      'signature must be 128 lowercase hex characters',
    );
  }
  let signingKey: Uint8Array;
  let record: DirectoryRecord | null = null;
  let certificate: InstanceCertificate | null = null;
  if ('singleKey' in t) {
    signingKey = t.singleKey;
  } else {
    // root mode: the certificate inside the (not yet verified) record names the signing key
    record = parseRecord(json);
    if (record.version !== CERTIFIED_RECORD_VERSION || !record.certificate) {
      throw new DirectoryVerificationError(
        'unsupported-version',
        record.instanceId,
        `version ${record.version} record without a certificate: this verifier pins root keys and needs version ${CERTIFIED_RECORD_VERSION}`,
      );
    }
    const cacheKey = `${record.instanceId}\n${record.certificate.signature}\n${record.certificate.certificate}`;
    let check = opts.certificateCache?.get(cacheKey);
    if (!check) {
      check = checkInstanceCertificate(record.certificate, t.rootKeys, record.instanceId, nowMs, skew);
      opts.certificateCache?.set(cacheKey, check);
    }
    if (!check.ok) {
      throw new DirectoryVerificationError('untrusted-certificate', record.instanceId, check.message);
    }
    certificate = check.certificate;
    signingKey = hexToBytes(certificate.publicKey);
  }
  let valid = false;
  try {
    valid = ed25519.verify(hexToBytes(signed.signature), signedMessage(json), signingKey);
  } catch {
    valid = false;
  }
  if (!valid) {
    throw new DirectoryVerificationError(
      'forged',
      peekInstanceId(json),
      `signature does not verify under the ${certificate ? 'certified instance' : 'pinned directory'} key ${bytesToHex(signingKey).slice(0, 16)}… (forged or altered record)`,
    );
  }
  record ??= parseRecord(json);
  if (certificate === null && record.version !== DIRECTORY_RECORD_VERSION) {
    throw new DirectoryVerificationError(
      'unsupported-version',
      record.instanceId,
      `version ${record.version}, this verifier (single key) knows version ${DIRECTORY_RECORD_VERSION}`,
    );
  }
  if (certificate === null && record.certificate) {
    throw new DirectoryVerificationError(
      'malformed-record',
      record.instanceId,
      'version 1 record with a certificate',
    );
  }
  if (canonicalRecordJson(record) !== json) {
    throw new DirectoryVerificationError(
      'non-canonical',
      record.instanceId,
      'record text is not in canonical form',
    );
  }
  if (record.expiresAt - record.issuedAt > MAX_RECORD_TTL_MS) {
    throw new DirectoryVerificationError(
      'malformed-record',
      record.instanceId,
      `lifetime ${record.expiresAt - record.issuedAt} ms exceeds the maximum ${MAX_RECORD_TTL_MS} ms`,
    );
  }
  if (certificate && record.expiresAt > certificate.expiresAt) {
    throw new DirectoryVerificationError(
      'untrusted-certificate',
      record.instanceId,
      `record expires after its certificate (${new Date(certificate.expiresAt).toISOString()})`,
    );
  }
  if (nowMs >= record.expiresAt + skew) {
    throw new DirectoryVerificationError(
      'expired',
      record.instanceId,
      `expired at ${new Date(record.expiresAt).toISOString()}, now is ${new Date(nowMs).toISOString()} (replayed or stale record, or a wrong clock)`,
    );
  }
  if (record.issuedAt > nowMs + skew) {
    throw new DirectoryVerificationError(
      'not-yet-valid',
      record.instanceId,
      `issued at ${new Date(record.issuedAt).toISOString()}, in the future of now ${new Date(nowMs).toISOString()} (check the clock)`,
    );
  }
  return record;
}

/** Parses record text against the schema (version not checked). */
function parseRecord(json: string): DirectoryRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new DirectoryVerificationError('malformed-record', null, 'record is not JSON', { cause: err });
  }
  const result = DirectoryRecordSchema.safeParse(parsed);
  if (!result.success) {
    throw new DirectoryVerificationError(
      'malformed-record',
      peekInstanceId(json),
      `record does not match the schema: ${result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
    );
  }
  return result.data;
}
