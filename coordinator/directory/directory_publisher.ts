/**
 * Directory publisher: a coordinator periodically writes its own signed
 * directory record into `directory_record` (migration 020). The content comes
 * from the cluster tables: URLs and state from this instance's `instance`
 * row, pools from its current leases (coordinator/store/pool_lease.ts, the
 * one owner of the "lease is current" rule). Times are database time (`NOW(3)`), never the host's.
 *
 * The cluster stream (or main.ts) starts it with {@link startDirectoryPublisher}
 * and calls `publishNow()` right after it acquires or releases a lease, so
 * the directory follows pool moves without waiting for the next tick. On a
 * graceful stop, `stop({ withdraw: true })` deletes the record.
 *
 * The signing key comes from `WHIRLPOOL_DIRECTORY_PRIVATE_KEY` (64 hex
 * characters, an Ed25519 seed) or `WHIRLPOOL_DIRECTORY_PRIVATE_KEY_FILE`
 * (a file holding that hex); it is configured on coordinators only. With
 * `WHIRLPOOL_DIRECTORY_CERTIFICATE(_FILE)` (the offline root's certificate of
 * this instance's key, `npm run directory:certify`) the key is this
 * instance's own and records are version 2 carrying the certificate;
 * without it the key is the legacy cluster-wide key (version 1 records).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import { currentFencesOf } from '#coordinator/store/pool_lease.ts';
import { InstanceCertificateSchema } from '#shared/directory/certificate.ts';
import {
  CERTIFIED_RECORD_VERSION,
  DIRECTORY_RECORD_VERSION,
  type DirectoryRecord,
  MAX_RECORD_TTL_MS,
  type SignedDirectoryRecord,
  type SignedInstanceCertificate,
} from '#shared/directory/record.ts';
import { directoryPublicKey, parseDirectoryKeyHex, signDirectoryRecord } from '#shared/directory/signing.ts';

/** The slice of a mysql2 promise pool the publisher uses. */
export type PublisherDb = Pick<Pool, 'query'>;

/** Minimal logger (pino fits). */
export interface PublisherLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Options of {@link publishDirectoryRecord} and {@link startDirectoryPublisher}. */
export interface DirectoryPublisherOptions {
  db: PublisherDb;
  instanceId: string;
  /** Ed25519 seed (32 bytes), see {@link loadDirectoryPrivateKey}. */
  privateKey: Uint8Array;
  /** Record lifetime in ms (default 60 000, at most 120 000: verifiers refuse longer). Clients and bootstrap nodes drop the record after it. */
  ttlMs?: number;
  /** Root certificate of `privateKey` for this instance (version 2 records); null/absent: legacy single key. */
  certificate?: SignedInstanceCertificate | null;
  /** Publication period in ms (default 15 000, keep it well under ttlMs). */
  intervalMs?: number;
  /** Overrides of the `instance` row (tests, or an instance not yet registered). */
  urlClear?: string;
  urlOnion?: string | null;
  logger?: PublisherLogger;
}

/** Default record lifetime. */
export const DEFAULT_DIRECTORY_TTL_MS = 60_000;
/** Default publication period. */
export const DEFAULT_DIRECTORY_INTERVAL_MS = 15_000;

/** What one publication did: `published` with the record, or `withdrawn`/`skipped` with the reason. */
export type PublishResult =
  | { action: 'published'; record: DirectoryRecord; signed: SignedDirectoryRecord }
  | { action: 'withdrawn' | 'skipped'; reason: string };

/**
 * Reads the directory private key from `WHIRLPOOL_DIRECTORY_PRIVATE_KEY` or
 * `WHIRLPOOL_DIRECTORY_PRIVATE_KEY_FILE`. Returns null when neither is set
 * (the instance then publishes nothing); throws when both are set or the
 * value is not 64 hex characters (the message never contains the key).
 */
export function loadDirectoryPrivateKey(
  env: Record<string, string | undefined> = process.env,
): Uint8Array | null {
  const inline = env.WHIRLPOOL_DIRECTORY_PRIVATE_KEY;
  const file = env.WHIRLPOOL_DIRECTORY_PRIVATE_KEY_FILE;
  if (inline && file) {
    throw new Error(
      'Set only one of WHIRLPOOL_DIRECTORY_PRIVATE_KEY and WHIRLPOOL_DIRECTORY_PRIVATE_KEY_FILE',
    );
  }
  if (inline) return parseDirectoryKeyHex(inline, 'WHIRLPOOL_DIRECTORY_PRIVATE_KEY');
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`Cannot read WHIRLPOOL_DIRECTORY_PRIVATE_KEY_FILE '${file}'`, { cause: err });
    }
    return parseDirectoryKeyHex(text, `Directory key file '${file}'`);
  }
  return null;
}

const SignedCertificateSchema = z.strictObject({
  certificate: z.string().max(2048),
  signature: z.string().regex(/^[0-9a-f]{128}$/),
});

/**
 * Reads this instance's certificate (JSON `{certificate, signature}` from
 * `npm run directory:certify`) from `WHIRLPOOL_DIRECTORY_CERTIFICATE` or
 * `WHIRLPOOL_DIRECTORY_CERTIFICATE_FILE`; null when neither is set.
 */
export function loadDirectoryCertificate(
  env: Record<string, string | undefined> = process.env,
): SignedInstanceCertificate | null {
  const inline = env.WHIRLPOOL_DIRECTORY_CERTIFICATE;
  const file = env.WHIRLPOOL_DIRECTORY_CERTIFICATE_FILE;
  if (inline && file)
    throw new Error(
      'Set only one of WHIRLPOOL_DIRECTORY_CERTIFICATE and WHIRLPOOL_DIRECTORY_CERTIFICATE_FILE',
    );
  let text: string | undefined = inline;
  if (file) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`Cannot read WHIRLPOOL_DIRECTORY_CERTIFICATE_FILE '${file}'`, { cause: err });
    }
  }
  if (!text) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error('The directory certificate is not JSON ({"certificate": …, "signature": …})', {
      cause: err,
    });
  }
  const r = SignedCertificateSchema.safeParse(value);
  if (!r.success)
    throw new Error('The directory certificate must be {"certificate": "<json>", "signature": "<128 hex>"}');
  return r.data;
}

/**
 * Checks that a certificate fits this publisher: for `instanceId`, for the
 * public key of `privateKey`; returns its expiry (records never outlive it).
 * Throws with a clear message otherwise (a misconfigured instance must not
 * publish records every client refuses).
 */
export function certificateExpiry(
  certificate: SignedInstanceCertificate,
  instanceId: string,
  privateKey: Uint8Array,
): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(certificate.certificate);
  } catch (err) {
    throw new Error('Directory certificate content is not JSON', { cause: err });
  }
  const c = InstanceCertificateSchema.safeParse(parsed);
  if (!c.success) throw new Error('Directory certificate content does not match the certificate format');
  if (c.data.instanceId !== instanceId) {
    throw new Error(
      `Directory certificate is for instance '${c.data.instanceId}', this instance is '${instanceId}'`,
    );
  }
  if (c.data.publicKey !== bytesToHex(directoryPublicKey(privateKey))) {
    throw new Error('Directory certificate certifies another key than WHIRLPOOL_DIRECTORY_PRIVATE_KEY');
  }
  return c.data.expiresAt;
}

/** Deletes this instance's record (graceful stop). */
export async function withdrawDirectoryRecord(db: PublisherDb, instanceId: string): Promise<void> {
  await db.query('DELETE FROM directory_record WHERE instance_id = ?', [instanceId]);
}

/**
 * Builds, signs and stores this instance's record once. Publishes when the
 * instance is `active` or `draining`; withdraws the record when it is
 * `stopped`; skips when it is `starting`, unregistered or has no clear URL.
 */
export async function publishDirectoryRecord(opts: DirectoryPublisherOptions): Promise<PublishResult> {
  const ttlMs = opts.ttlMs ?? DEFAULT_DIRECTORY_TTL_MS;
  if (!(ttlMs > 0 && ttlMs <= MAX_RECORD_TTL_MS)) {
    throw new Error(
      `Directory record TTL ${ttlMs} ms must be in (0, ${MAX_RECORD_TTL_MS}] (verifiers refuse longer)`,
    );
  }
  const certExpiry = opts.certificate
    ? certificateExpiry(opts.certificate, opts.instanceId, opts.privateKey)
    : null;
  const [instRows] = await opts.db.query<RowDataPacket[]>(
    'SELECT url_clear, url_onion, state, CAST(ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) AS SIGNED) AS now_ms ' +
      'FROM (SELECT 1) AS one LEFT JOIN instance ON instance.id = ?',
    [opts.instanceId],
  );
  const inst = instRows[0];
  if (!inst) throw new Error(`Directory publisher for '${opts.instanceId}': clock query returned no row`);
  const nowMs = Number(inst.now_ms);
  const state: string | null = inst.state ?? null;
  if (state === 'stopped') {
    await withdrawDirectoryRecord(opts.db, opts.instanceId);
    return { action: 'withdrawn', reason: `instance '${opts.instanceId}' is stopped` };
  }
  if (state !== 'active' && state !== 'draining') {
    return { action: 'skipped', reason: `instance '${opts.instanceId}' state is ${state ?? 'unregistered'}` };
  }
  const urlClear = opts.urlClear ?? inst.url_clear ?? null;
  if (!urlClear) return { action: 'skipped', reason: `instance '${opts.instanceId}' has no clear URL` };
  const urlOnion = opts.urlOnion !== undefined ? opts.urlOnion : (inst.url_onion ?? null);

  const fences = await currentFencesOf(opts.db, opts.instanceId);
  if (certExpiry !== null && nowMs >= certExpiry) {
    return { action: 'skipped', reason: `the directory certificate of '${opts.instanceId}' has expired` };
  }
  const expiresAt = certExpiry === null ? nowMs + ttlMs : Math.min(nowMs + ttlMs, certExpiry);
  const record: DirectoryRecord = {
    version: opts.certificate ? CERTIFIED_RECORD_VERSION : DIRECTORY_RECORD_VERSION,
    instanceId: opts.instanceId,
    urlClear,
    urlOnion,
    state,
    pools: fences.map((f) => ({ poolId: f.poolId, epoch: f.epoch })),
    issuedAt: nowMs,
    expiresAt,
    ...(opts.certificate ? { certificate: opts.certificate } : {}),
  };
  const signed = signDirectoryRecord(record, opts.privateKey);
  await opts.db.query<ResultSetHeader>(
    'INSERT INTO directory_record (instance_id, record, signature, issued_at, expires_at) ' +
      'VALUES (?, ?, ?, NOW(3), TIMESTAMPADD(MICROSECOND, ?, NOW(3))) ' +
      'ON DUPLICATE KEY UPDATE record = VALUES(record), signature = VALUES(signature), ' +
      'issued_at = VALUES(issued_at), expires_at = VALUES(expires_at)',
    [opts.instanceId, signed.record, signed.signature, (expiresAt - nowMs) * 1000],
  );
  return { action: 'published', record, signed };
}

/** A running publisher. */
export interface DirectoryPublisher {
  /** Publishes now (after a lease change); a call during a publication triggers one more after it. */
  publishNow(): Promise<PublishResult>;
  /** Stops the timer; with `withdraw`, deletes the record so clients stop using this instance at once. */
  stop(opts?: { withdraw?: boolean }): Promise<void>;
}

/**
 * Publishes at once and then every `intervalMs`. Failures are logged and
 * retried at the next tick (the record stays valid until its expiry).
 */
export function startDirectoryPublisher(opts: DirectoryPublisherOptions): DirectoryPublisher {
  const intervalMs = opts.intervalMs ?? DEFAULT_DIRECTORY_INTERVAL_MS;
  const ttlMs = opts.ttlMs ?? DEFAULT_DIRECTORY_TTL_MS;
  if (opts.certificate) certificateExpiry(opts.certificate, opts.instanceId, opts.privateKey);
  if (intervalMs >= ttlMs) {
    throw new Error(
      `Directory publish interval ${intervalMs} ms must be shorter than the record TTL ${ttlMs} ms`,
    );
  }
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let inflight: Promise<PublishResult> | null = null;
  let queued: Promise<PublishResult> | null = null;

  /**
   * Publishes now. A call arriving while a publication runs gets one more
   * publication after it (that one may have read the leases before the
   * change the caller reports); further calls meanwhile share it.
   */
  function publishNow(): Promise<PublishResult> {
    // after stop() nothing is published any more: a publication queued by a
    // lease change during the drain must not re-create a withdrawn record
    if (stopped) return Promise.resolve({ action: 'skipped', reason: 'publisher stopped' });
    if (!inflight) {
      inflight = publishDirectoryRecord(opts).finally(() => {
        inflight = null;
      });
      return inflight;
    }
    queued ??= inflight
      .catch(() => undefined)
      .then(() => {
        queued = null;
        return publishNow();
      });
    return queued;
  }

  async function tick(): Promise<void> {
    try {
      const res = await publishNow();
      if (res.action !== 'published')
        opts.logger?.info({ instanceId: opts.instanceId, ...res }, 'directory record');
    } catch (err) {
      opts.logger?.warn({ err, instanceId: opts.instanceId }, 'directory record publication failed');
    }
    if (!stopped) {
      timer = setTimeout(tick, intervalMs);
      timer.unref?.();
    }
  }
  void tick();

  return {
    publishNow,
    async stop(stopOpts = {}) {
      stopped = true;
      if (timer) clearTimeout(timer);
      while (inflight || queued) await (queued ?? inflight)?.catch(() => undefined);
      if (stopOpts.withdraw) await withdrawDirectoryRecord(opts.db, opts.instanceId);
    },
  };
}
