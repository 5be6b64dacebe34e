/**
 * {@link DirectoryReader} over @planetscale/database: PlanetScale's HTTP API
 * through `fetch` (any runtime, no TCP). The URL is
 * `https://user:password@host` (or `http://` for a local ps-http-sim).
 *
 * @module
 */
import { connect } from '@planetscale/database';
import type { DirectoryReader } from './directory_cache.ts';
import { DIRECTORY_QUERY, toDirectoryRows } from './directory_rows.ts';

/** Reader over a PlanetScale (or ps-http-sim) URL; `fetch` is injectable. */
export function createPlanetscaleDirectoryReader(
  url: string,
  opts: { fetch?: typeof fetch } = {},
): DirectoryReader {
  const conn = connect({ url, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  return {
    async readLive() {
      const res = await conn.execute(DIRECTORY_QUERY);
      return toDirectoryRows(res.rows as Array<Record<string, unknown>>);
    },
  };
}
