/**
 * The statement every bootstrap reader runs and the mapping of its rows, shared
 * by the mysql2 and @planetscale/database readers.
 *
 * @module
 */
import type { DirectoryRow } from './directory_cache.ts';

/** The one statement bootstrap nodes run: the live rows of the directory view. */
export const DIRECTORY_QUERY = 'SELECT instance_id, record, signature FROM directory_view';

const decoder = new TextDecoder();

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return decoder.decode(v);
  return String(v);
}

/** Maps `directory_view` rows (columns as strings or bytes) to {@link DirectoryRow}s. */
export function toDirectoryRows(rows: ReadonlyArray<Record<string, unknown>>): DirectoryRow[] {
  return rows.map((r) => ({
    instanceId: text(r.instance_id),
    record: text(r.record),
    signature: text(r.signature),
  }));
}
