/**
 * The bootstrap node's HTTP app (Hono, no Node built-ins: the same module runs
 * on Node, Deno and Workers): `GET /instances` serves the signed directory
 * from a {@link DirectoryCache} with ETag / 304, CORS and Cache-Control, and
 * `GET /health` reports the cache counters. Coordinators mount
 * {@link createInstancesApp} so every instance is a bootstrap node too.
 *
 * Bootstrap nodes hold no secrets: only a read-only database credential that
 * can select `directory_view` and nothing else.
 *
 * @module
 */
import { type Context, Hono } from 'hono';
import { INSTANCES_PATH } from '#shared/directory/response.ts';
import { DirectoryCache, type DirectoryReader, DirectoryUnavailableError } from './directory_cache.ts';

/** Options of {@link createBootstrapApp}. */
export interface BootstrapAppOptions {
  reader: DirectoryReader;
  /** Minimum time between database queries, ms (default 1000). */
  cacheTtlMs?: number;
  /** `Cache-Control: max-age` of `/instances`, seconds (default 1). */
  maxAgeSeconds?: number;
  /** Directory public key: when set, records that fail verification are not served. */
  publicKey?: Uint8Array | null;
  /** Clock for tests. */
  now?: () => number;
}

/** True when an `If-None-Match` header value matches `etag` (weak comparison, lists and `*`). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const want = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === want;
  });
}

/** True on runtimes with an execution context (Workers), where background refreshes are not allowed. */
function hasExecutionContext(c: Context): boolean {
  try {
    return c.executionCtx !== undefined;
  } catch {
    return false;
  }
}

/** CORS headers of every `/instances` answer (public data, any origin may read it and its ETag). */
const CORS_HEADERS = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'ETag' } as const;

/**
 * Hono app serving `GET /instances` from `cache` (mountable under any prefix).
 * Hot path: headers are plain objects built once per snapshot and the
 * handler returns a `Response` directly, which @hono/node-server writes
 * without copying (CORS handled here rather than by a middleware).
 */
export function createInstancesApp(cache: DirectoryCache, opts: { maxAgeSeconds?: number } = {}): Hono {
  const cacheControl = `public, max-age=${opts.maxAgeSeconds ?? 1}`;
  let headersFor: { etag: string; ok: Record<string, string>; notModified: Record<string, string> } | null =
    null;
  const app = new Hono();
  app.options(INSTANCES_PATH, () => {
    return new Response(null, {
      status: 204,
      headers: {
        ...CORS_HEADERS,
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': 'If-None-Match',
        'Access-Control-Max-Age': '86400',
      },
    });
  });
  app.get(INSTANCES_PATH, async (c) => {
    let snap: Awaited<ReturnType<DirectoryCache['get']>>;
    try {
      snap = await cache.get({ background: !hasExecutionContext(c) });
    } catch (err) {
      if (err instanceof DirectoryUnavailableError) {
        return c.json({ error: 'directory unavailable' }, 503, {
          ...CORS_HEADERS,
          'Cache-Control': 'no-store',
          'Retry-After': '1',
        });
      }
      throw err;
    }
    if (headersFor?.etag !== snap.etag) {
      const common = { ...CORS_HEADERS, ETag: snap.etag, 'Cache-Control': cacheControl };
      headersFor = {
        etag: snap.etag,
        ok: { ...common, 'Content-Type': 'application/json; charset=utf-8' },
        notModified: common,
      };
    }
    if (etagMatches(c.req.header('If-None-Match'), snap.etag)) {
      return new Response(null, { status: 304, headers: headersFor.notModified });
    }
    return new Response(snap.body, { status: 200, headers: headersFor.ok });
  });
  return app;
}

/**
 * The bootstrap node: `/instances`, `/health`, JSON 404s. Returns the app and
 * its cache (whose `stats()` the benchmark and tests read).
 */
export function createBootstrapApp(opts: BootstrapAppOptions): { app: Hono; cache: DirectoryCache } {
  const cache = new DirectoryCache(opts.reader, {
    ttlMs: opts.cacheTtlMs,
    publicKey: opts.publicKey ?? null,
    now: opts.now,
  });
  const app = new Hono();
  app.route('/', createInstancesApp(cache, { maxAgeSeconds: opts.maxAgeSeconds }));
  // /health is public: it says whether the last read failed, never the error's text (it names hosts);
  // that text goes to the log, once per distinct error
  let loggedError: string | null = null;
  app.get('/health', async (c) => {
    let records: number | null = null;
    try {
      records = (await cache.get({ background: !hasExecutionContext(c) })).records;
    } catch {
      records = null;
    }
    const stats = cache.stats();
    if (stats.lastError !== null && stats.lastError !== loggedError)
      console.warn(`bootstrap: directory read failing: ${stats.lastError.slice(0, 500)}`);
    loggedError = stats.lastError;
    return c.json(
      {
        status: records === null ? 'unavailable' : 'ok',
        records,
        dbQueries: stats.dbQueries,
        dbFailures: stats.dbFailures,
        refusedRecords: stats.refusedRecords,
        lastReadAt: stats.lastReadAt,
        failing: stats.lastError !== null,
      },
      records === null ? 503 : 200,
      { 'Cache-Control': 'no-store' },
    );
  });
  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.onError((err, c) => {
    console.error('bootstrap: unhandled error', err);
    return c.json({ error: 'internal error' }, 500);
  });
  return { app, cache };
}
