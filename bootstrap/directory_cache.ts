/**
 * In-memory cache of the directory in front of a {@link DirectoryReader}: at
 * most one database query per `ttlMs` (default 1 s) per process, whatever the
 * request rate. Concurrent misses share one query; a failed query is not
 * retried before `ttlMs` either (the last good directory is served meanwhile,
 * minus the records that expired since). The serialised body and its ETag
 * are computed once per refresh, not per request.
 *
 * Once the cache holds a directory, an expired entry is refreshed in the
 * background while requests keep getting the current one (stale while
 * revalidate), so a slow or black-holed database never adds latency —
 * except after an idle period (entry older than `maxStaleMs`, default 5 s)
 * with a healthy database, when the request waits for fresh rows. Workers
 * pass `background: false`: workerd drops a promise whose creating request
 * has ended, so there every request waits for the shared refresh while the
 * request that started it is still running (bounded by the query timeout).
 *
 * A process that changes the directory itself (a coordinator acquiring or
 * releasing a pool lease, then publishing its record) calls
 * {@link DirectoryCache.invalidate}: requests from then on wait for rows read
 * after that change, so a client asking right after a takeover sees it.
 *
 * Runtime-neutral: no Node built-ins (runs in Node, Deno and workerd).
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { SignedDirectoryRecord } from '#shared/directory/record.ts';
import { buildDirectoryResponse } from '#shared/directory/response.ts';

/** One stored record as read from `directory_view`. */
export interface DirectoryRow extends SignedDirectoryRecord {
  instanceId: string;
}

/** Source of the live directory rows (mysql2, Hyperdrive mysql2, @planetscale/database, or a test double). */
export interface DirectoryReader {
  /** Reads the non-expired rows of `directory_view`. One call = one database query. */
  readLive(): Promise<DirectoryRow[]>;
  /** Releases connections (optional). */
  close?(): Promise<void>;
}

/** A ready-to-send directory body. */
export interface DirectorySnapshot {
  body: string;
  /** Strong ETag (quoted SHA-256 prefix of the body). */
  etag: string;
  records: number;
  /** When the rows were read (ms, local clock). */
  readAt: number;
}

/** Counters exposed on `/health` (the benchmark reads `dbQueries`). */
export interface DirectoryCacheStats {
  dbQueries: number;
  dbFailures: number;
  lastError: string | null;
  lastReadAt: number | null;
  refusedRecords: number;
}

/** Options of {@link DirectoryCache}. */
export interface DirectoryCacheOptions {
  /** Minimum time between two queries, ms (default 1000). */
  ttlMs?: number;
  /** Clock (ms since epoch), for tests. */
  now?: () => number;
  /** When set, records that fail verification under this key are not served. */
  publicKey?: Uint8Array | null;
  /**
   * A query not answered within this time counts as failed (default 5000 ms),
   * so a black-holed connection (or, on Workers, a query orphaned by a
   * cancelled request) cannot keep every later request waiting.
   */
  queryTimeoutMs?: number;
  /** Oldest entry served without waiting for the refresh while the database is healthy (default 5000 ms). */
  maxStaleMs?: number;
}

/** Per-request options of {@link DirectoryCache.get}. */
export interface DirectoryGetOptions {
  /** Refresh in the background while serving the current entry (default true; false on Workers). */
  background?: boolean;
}

/** Raised when there is no directory to serve (first query failed). */
export class DirectoryUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DirectoryUnavailableError';
  }
}

const encoder = new TextEncoder();

/** The cache; one per process (or per isolate on Workers). */
export class DirectoryCache {
  readonly #reader: DirectoryReader;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #publicKey: Uint8Array | null;
  readonly #queryTimeoutMs: number;
  readonly #maxStaleMs: number;
  #rows: DirectoryRow[] | null = null;
  #snapshot: DirectorySnapshot | null = null;
  #nextExpiry: number | null = null;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<void> | null = null;
  /** Set by {@link invalidate}: the refresh every request waits for until it settles. */
  #fresh: Promise<void> | null = null;
  readonly #stats: DirectoryCacheStats = {
    dbQueries: 0,
    dbFailures: 0,
    lastError: null,
    lastReadAt: null,
    refusedRecords: 0,
  };

  constructor(reader: DirectoryReader, opts: DirectoryCacheOptions = {}) {
    this.#reader = reader;
    this.#ttlMs = opts.ttlMs ?? 1000;
    this.#now = opts.now ?? Date.now;
    this.#publicKey = opts.publicKey ?? null;
    this.#queryTimeoutMs = opts.queryTimeoutMs ?? 5000;
    this.#maxStaleMs = opts.maxStaleMs ?? 5000;
  }

  /** Counters since start. */
  stats(): DirectoryCacheStats {
    return { ...this.#stats };
  }

  /**
   * Marks the cached directory as outdated by a change this process makes:
   * once `change` settles (e.g. the publication of this instance's record),
   * rows are read again, and every request from this call on waits for that
   * read (bounded like any wait, by the query timeout plus 1 s) instead of
   * getting the cached directory. Not bound by ttlMs: it is driven by the
   * process's own lease changes, not by requests.
   */
  invalidate(change: Promise<unknown> = Promise.resolve()): void {
    const fresh = change
      .then(
        () => undefined,
        () => undefined,
      )
      .then(async () => {
        // a refresh that started before the change may have read the old rows
        if (this.#inflight) await this.#inflight;
        this.#inflight = this.#refresh();
        await this.#inflight;
      });
    this.#fresh = fresh;
    void fresh.finally(() => {
      if (this.#fresh === fresh) this.#fresh = null;
    });
  }

  /** The current directory body, querying the reader only when the cached one is older than ttlMs. */
  async get(opts: DirectoryGetOptions = {}): Promise<DirectorySnapshot> {
    if (this.#fresh) await this.#bounded(this.#fresh);
    const now = this.#now();
    if (!this.#inflight && now - this.#lastAttempt >= this.#ttlMs) this.#inflight = this.#refresh();
    if (this.#inflight) {
      const snap = this.#snapshot;
      const healthyButOld =
        this.#stats.lastError === null && snap !== null && now - snap.readAt > this.#maxStaleMs;
      if (!snap || healthyButOld || opts.background === false) await this.#bounded(this.#inflight);
    }
    if (!this.#snapshot || !this.#rows) {
      throw new DirectoryUnavailableError(
        `Directory unavailable: ${this.#stats.lastError ?? 'not read yet'}`,
      );
    }
    if (this.#nextExpiry !== null && this.#now() >= this.#nextExpiry)
      this.#build(this.#rows, this.#snapshot.readAt);
    return this.#snapshot;
  }

  /** Waits for `p`, but never longer than the query timeout (plus 1 s) measured from this waiter. */
  async #bounded(p: Promise<void>): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#queryTimeoutMs + 1000);
    });
    await Promise.race([p, limit]).finally(() => clearTimeout(timer));
  }

  async #refresh(): Promise<void> {
    this.#lastAttempt = this.#now();
    this.#stats.dbQueries++;
    try {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Directory query timed out after ${this.#queryTimeoutMs} ms`)),
          this.#queryTimeoutMs,
        );
      });
      const rows = await Promise.race([this.#reader.readLive(), timeout]).finally(() => clearTimeout(timer));
      this.#rows = rows;
      this.#build(rows, this.#now());
      this.#stats.lastReadAt = this.#snapshot!.readAt;
      this.#stats.lastError = null;
    } catch (err) {
      this.#stats.dbFailures++;
      this.#stats.lastError = err instanceof Error ? err.message : String(err);
    } finally {
      this.#lastAttempt = this.#now();
      this.#inflight = null;
    }
  }

  #build(rows: DirectoryRow[], readAt: number): void {
    const { response, refused, nextExpiryMs } = buildDirectoryResponse(rows, {
      nowMs: this.#now(),
      publicKey: this.#publicKey,
    });
    this.#stats.refusedRecords = refused.length;
    const body = JSON.stringify(response);
    const etag = `"${bytesToHex(sha256(encoder.encode(body))).slice(0, 32)}"`;
    this.#snapshot = { body, etag, records: response.records.length, readAt };
    this.#nextExpiry = nextExpiryMs;
  }
}
