/**
 * Directory records: what one coordinator instance says about itself (its
 * URLs, state and the pools it holds a lease on, with the lease epoch), and
 * the canonical text that gets signed. See docs/directory.md for the format.
 *
 * The canonical form is compact JSON with a fixed member order and pools
 * sorted by `poolId`. `JSON.stringify` is fully specified by ECMAScript (string
 * escaping included) and every value is a string, a safe integer or null, so
 * the same record serialises to the same bytes in Node, Deno, Workers and
 * browsers.
 *
 * @module
 */
import { z } from 'zod';

/**
 * Format version of a record signed directly by the cluster's single
 * directory key (legacy single-key mode, no certificate).
 */
export const DIRECTORY_RECORD_VERSION = 1;
/** Format version of a record signed by an instance key and carrying its root certificate. */
export const CERTIFIED_RECORD_VERSION = 2;

/**
 * Longest lifetime (`expiresAt - issuedAt`) a verifier accepts: 120 s, twice
 * the publishers' TTL (60 s). A record claiming more is refused
 * (`malformed-record`), so a stolen key or a replaying mirror gets at most
 * this long out of one record.
 */
export const MAX_RECORD_TTL_MS = 120_000;

/**
 * Highest lease epoch a record may claim: 2^32 − 1 (one acquisition a second
 * takes 136 years to get there). Records claiming more are refused, so a
 * record claiming epoch 2^53 − 1 cannot win every pool.
 */
export const MAX_DIRECTORY_EPOCH = 2 ** 32 - 1;

/** Most pools one record may list. */
export const MAX_RECORD_POOLS = 256;

/** Longest record text (UTF-16 code units, JSON is ASCII here): 16 KiB. */
export const MAX_RECORD_CHARS = 16_384;

/** Instance states a coordinator publishes. `draining` instances still own their pools until they release them. */
export const INSTANCE_STATES = ['active', 'draining'] as const;

/** State of a coordinator instance as published in its record. */
export type InstanceState = (typeof INSTANCE_STATES)[number];

/** A pool held by the instance under lease `epoch` (fencing token, +1 on every acquisition). */
export interface DirectoryPool {
  poolId: string;
  epoch: number;
}

/** One instance's directory record (the signed content). */
export interface DirectoryRecord {
  /** Format version, {@link DIRECTORY_RECORD_VERSION}. */
  version: number;
  instanceId: string;
  /** Clear-net base URL of the instance, e.g. `https://pool1.example.org`. */
  urlClear: string;
  /** Tor base URL (`http://<56 chars>.onion`), or null when the instance has none. */
  urlOnion: string | null;
  state: InstanceState;
  /** Pools the instance holds a valid lease on, sorted by poolId. */
  pools: DirectoryPool[];
  /** Milliseconds since the Unix epoch (database clock at publication). */
  issuedAt: number;
  /** Milliseconds since the Unix epoch after which the record must not be used. */
  expiresAt: number;
  /** Version 2 only: the root's certificate of the instance key that signed this record. */
  certificate?: SignedInstanceCertificate;
}

/** A root-signed instance certificate as carried in a record (see certificate.ts). */
export interface SignedInstanceCertificate {
  /** Canonical JSON of the certificate content. */
  certificate: string;
  /** Ed25519 signature of the root key, 128 lowercase hex characters. */
  signature: string;
}

/** A record as stored and served: canonical JSON text plus its Ed25519 signature (128 hex characters). */
export interface SignedDirectoryRecord {
  record: string;
  signature: string;
}

const idPattern = /^[A-Za-z0-9._:-]{1,64}$/;
const httpUrl = z
  .string()
  .max(512)
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.search === '' && u.hash === '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without query or fragment');
const timestamp = z.number().int().nonnegative();

/** Schema of the record content (strict: unknown members are refused). */
export const DirectoryRecordSchema = z
  .strictObject({
    version: z.number().int(),
    instanceId: z.string().regex(idPattern),
    urlClear: httpUrl,
    urlOnion: httpUrl.nullable(),
    state: z.enum(INSTANCE_STATES),
    pools: z
      .array(
        z.strictObject({
          poolId: z.string().regex(idPattern),
          epoch: z.number().int().positive().max(MAX_DIRECTORY_EPOCH),
        }),
      )
      .max(MAX_RECORD_POOLS),
    issuedAt: timestamp,
    expiresAt: timestamp,
    certificate: z
      .strictObject({ certificate: z.string().max(2048), signature: z.string().max(128) })
      .optional(),
  })
  .refine((r) => r.expiresAt > r.issuedAt, 'expiresAt must be after issuedAt')
  .refine((r) => new Set(r.pools.map((p) => p.poolId)).size === r.pools.length, 'pools must be unique');

/** Schema of a signed record on the wire (shape only; see verifyDirectoryRecord for the content). */
export const SignedDirectoryRecordSchema = z.strictObject({
  record: z.string().max(MAX_RECORD_CHARS),
  signature: z.string().max(128),
});

/**
 * Canonical JSON text of a record: members in the order of
 * {@link DirectoryRecord}, pools sorted by poolId (code unit order), no
 * whitespace, `certificate` (members `certificate`, `signature`) last and
 * only when present. This exact text is signed and served.
 */
export function canonicalRecordJson(record: DirectoryRecord): string {
  const pools = [...record.pools]
    .sort((a, b) => (a.poolId < b.poolId ? -1 : a.poolId > b.poolId ? 1 : 0))
    .map((p) => ({ poolId: p.poolId, epoch: p.epoch }));
  const base = {
    version: record.version,
    instanceId: record.instanceId,
    urlClear: record.urlClear,
    urlOnion: record.urlOnion,
    state: record.state,
    pools,
    issuedAt: record.issuedAt,
    expiresAt: record.expiresAt,
  };
  if (!record.certificate) return JSON.stringify(base);
  return JSON.stringify({
    ...base,
    certificate: { certificate: record.certificate.certificate, signature: record.certificate.signature },
  });
}
