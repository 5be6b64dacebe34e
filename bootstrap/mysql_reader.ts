/**
 * {@link DirectoryReader}s over mysql2: a pool (Node, Deno, and coordinators
 * reading their own database), or one connection per query (Workers through
 * Hyperdrive, which pools on its side and forbids sharing a socket between
 * requests). Workers need `disableEval: true` (no `new Function` there).
 *
 * @module
 */
import {
  type ConnectionOptions,
  createConnection,
  createPool,
  type Pool,
  type RowDataPacket,
} from 'mysql2/promise';
import { mysqlFieldsFromUrl } from '#shared/db/mysql_url.ts';
import type { DirectoryReader } from './directory_cache.ts';
import { DIRECTORY_QUERY, toDirectoryRows } from './directory_rows.ts';

/** mysql2 connection options from `mysql://user:password@host:port/database` (no secrets in errors). */
export function mysqlOptionsFromUrl(url: string): ConnectionOptions {
  return {
    ...mysqlFieldsFromUrl(url, { label: 'Bootstrap database URL', defaultUser: '', requireDatabase: true }),
    timezone: 'Z',
    multipleStatements: false,
  };
}

/** Reader over an existing pool (for example the coordinator's own). */
export function poolDirectoryReader(pool: Pick<Pool, 'query'>): DirectoryReader {
  return {
    async readLive() {
      const [rows] = await pool.query<RowDataPacket[]>(DIRECTORY_QUERY);
      return toDirectoryRows(rows);
    },
  };
}

/** Reader owning a small mysql2 pool on `url` (Node, Deno). */
export function createMysqlDirectoryReader(
  url: string,
  opts: { connectionLimit?: number; connectTimeoutMs?: number } = {},
): DirectoryReader {
  const pool = createPool({
    ...mysqlOptionsFromUrl(url),
    connectionLimit: opts.connectionLimit ?? 2,
    connectTimeout: opts.connectTimeoutMs ?? 5_000,
    enableKeepAlive: true,
  });
  return { ...poolDirectoryReader(pool), close: () => pool.end() };
}

/**
 * Reader opening one connection per query (Workers + Hyperdrive: the binding
 * gives `host`, `port`, `user`, `password`, `database`). `disableEval` is
 * forced on: workerd forbids code generation from strings.
 */
export function createPerQueryMysqlReader(options: ConnectionOptions): DirectoryReader {
  return {
    async readLive() {
      const conn = await createConnection({ ...options, disableEval: true, multipleStatements: false });
      try {
        const [rows] = await conn.query<RowDataPacket[]>(DIRECTORY_QUERY);
        return toDirectoryRows(rows);
      } finally {
        await conn.end().catch(() => undefined);
      }
    },
  };
}
