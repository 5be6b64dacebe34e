/**
 * The coordinator's MySQL/MariaDB connection pool (mysql2/promise) built from
 * a `mysql://user:pass@host:port/db` URL, with the settings every module
 * relies on: UTC date handling (`timezone: 'Z'`), BIGINT values above 2^53
 * as strings rather than rounded numbers, and no multiple statements in one
 * query (migrations split their files statement by statement).
 *
 * @module
 */
import {
  type Connection,
  type ConnectionOptions,
  createConnection,
  createPool,
  type Pool,
} from 'mysql2/promise';
import { mysqlFieldsFromUrl, redactUrl } from '#shared/db/mysql_url.ts';

/** mysql2 connection options from a database URL (throws on a non-mysql URL, without echoing the password). */
export function mysqlOptionsFromUrl(url: string): ConnectionOptions {
  return {
    ...mysqlFieldsFromUrl(url, { requireDatabase: true }),
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: 'utf8mb4_unicode_ci',
    multipleStatements: false,
  };
}

/** Options of {@link createDbPool}. */
export interface DbPoolOptions {
  /** Maximum open connections (default 10). */
  connectionLimit?: number;
  /** Connect timeout in ms (default 10000). */
  connectTimeoutMs?: number;
}

/**
 * The application pool. Connections are opened lazily; a dead connection
 * (server restart) is dropped by mysql2 and the next query opens a new one.
 */
export function createDbPool(url: string, opts: DbPoolOptions = {}): Pool {
  return createPool({
    ...mysqlOptionsFromUrl(url),
    connectionLimit: opts.connectionLimit ?? 10,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    waitForConnections: true,
    enableKeepAlive: true,
  });
}

/** One dedicated connection (migrations, advisory locks). Close it with `end()`. */
export async function createDbConnection(url: string): Promise<Connection> {
  try {
    return await createConnection(mysqlOptionsFromUrl(url));
  } catch (err) {
    throw new Error(`Cannot connect to database '${redactUrl(url)}'`, { cause: err });
  }
}

export { MYSQL_ERRORS, mysqlErrno } from './db_errors.ts';
