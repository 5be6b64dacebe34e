/**
 * `GET /instances` on every coordinator, so any instance is a bootstrap node
 * too: the bootstrap app's route and cache (same response, ETag, CORS and
 * at most one query per second) over the coordinator's own pool, reading
 * `directory_view` like a bootstrap node does.
 *
 * Mount it on the coordinator's Hono app: `app.route('/', createCoordinatorInstancesApp(pool).app)`.
 *
 * @module
 */
import type { Hono } from 'hono';
import type { Pool } from 'mysql2/promise';
import { createInstancesApp } from '#bootstrap/app.ts';
import { DirectoryCache } from '#bootstrap/directory_cache.ts';
import { poolDirectoryReader } from '#bootstrap/mysql_reader.ts';

/** The sub-app and its cache (whose `stats()` a metrics exporter may read). */
export function createCoordinatorInstancesApp(
  db: Pick<Pool, 'query'>,
  opts: { cacheTtlMs?: number; publicKey?: Uint8Array | null } = {},
): { app: Hono; cache: DirectoryCache } {
  const cache = new DirectoryCache(poolDirectoryReader(db), {
    ttlMs: opts.cacheTtlMs ?? 1000,
    publicKey: opts.publicKey ?? null,
  });
  return { app: createInstancesApp(cache), cache };
}
