/**
 * The `GET /instances` response served by bootstrap nodes and coordinators:
 * the live signed records passed through byte for byte (clients verify them
 * with their pinned key) and a pool → owner map for convenience. Clients must
 * not trust the map: they rebuild it from the records they verified.
 *
 * @module
 */
import { z } from 'zod';
import { mergeDirectoryRecords } from './pool_map.ts';
import {
  type DirectoryRecord,
  DirectoryRecordSchema,
  type SignedDirectoryRecord,
  SignedDirectoryRecordSchema,
} from './record.ts';
import {
  type CertificateCache,
  type DirectoryTrust,
  DirectoryVerificationError,
  verifyDirectoryRecord,
} from './signing.ts';

/** Most records a directory response may hold (clients refuse larger answers before verifying anything). */
export const MAX_DIRECTORY_RECORDS = 1000;

/** Largest `GET /instances` body a client reads: 1 MiB (it stops reading beyond). */
export const MAX_DIRECTORY_RESPONSE_BYTES = 1024 * 1024;

/** Path of the directory endpoint on bootstrap nodes and coordinators. */
export const INSTANCES_PATH = '/instances';

/** Body of `GET /instances`. */
export interface DirectoryResponse {
  /** Response format version (1). */
  version: 1;
  /** Signed records, sorted by canonical text so equal directories give equal bodies. */
  records: SignedDirectoryRecord[];
  /** poolId → owner derived from `records` by the server (informative only). */
  pools: Record<string, { instanceId: string; epoch: number }>;
}

/** Schema clients parse the response with (unknown members tolerated for later additions). */
export const DirectoryResponseSchema = z.looseObject({
  version: z.literal(1),
  records: z.array(SignedDirectoryRecordSchema).max(MAX_DIRECTORY_RECORDS),
  pools: z.record(z.string(), z.looseObject({ instanceId: z.string(), epoch: z.number() })).optional(),
});

/** Reads a record's content without checking its signature (server-side map building only). */
function parseUnverified(signed: SignedDirectoryRecord): DirectoryRecord | null {
  try {
    const r = DirectoryRecordSchema.safeParse(JSON.parse(signed.record));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/**
 * Builds the response from stored records at time `nowMs`: drops records
 * already expired (and, when `publicKey` is given, records that fail
 * verification — a legacy key or `{ rootKeys }` — returned in `refused`), sorts the rest and derives the pool
 * map. `nextExpiryMs` is when the earliest kept record expires (the body must
 * be rebuilt then), or null.
 */
export function buildDirectoryResponse(
  stored: readonly SignedDirectoryRecord[],
  opts: { nowMs: number; publicKey?: Uint8Array | DirectoryTrust | null },
): { response: DirectoryResponse; refused: DirectoryVerificationError[]; nextExpiryMs: number | null } {
  const refused: DirectoryVerificationError[] = [];
  const kept: Array<{ signed: SignedDirectoryRecord; record: DirectoryRecord }> = [];
  const certificateCache: CertificateCache = new Map();
  for (const s of stored) {
    let record: DirectoryRecord | null;
    if (opts.publicKey) {
      try {
        record = verifyDirectoryRecord(s, opts.publicKey, opts.nowMs, { clockSkewMs: 0, certificateCache });
      } catch (err) {
        if (err instanceof DirectoryVerificationError) {
          refused.push(err);
          continue;
        }
        throw err;
      }
    } else {
      record = parseUnverified(s);
      if (!record || record.expiresAt <= opts.nowMs) continue;
    }
    kept.push({ signed: { record: s.record, signature: s.signature }, record });
  }
  kept.sort((a, b) => (a.signed.record < b.signed.record ? -1 : a.signed.record > b.signed.record ? 1 : 0));
  const merged = mergeDirectoryRecords(kept.map((k) => k.record));
  const pools: DirectoryResponse['pools'] = {};
  for (const id of [...merged.pools.keys()].sort()) {
    const owner = merged.pools.get(id)!;
    pools[id] = { instanceId: owner.instanceId, epoch: owner.epoch };
  }
  const nextExpiryMs = kept.length ? Math.min(...kept.map((k) => k.record.expiresAt)) : null;
  return { response: { version: 1, records: kept.map((k) => k.signed), pools }, refused, nextExpiryMs };
}
