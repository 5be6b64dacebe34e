/**
 * Test databases on the shared MariaDB: every suite creates its own, uniquely
 * named database, works in it and drops it afterwards, so suites can run in
 * parallel against one server.
 *
 * The server comes from `WHIRLPOOL_TEST_DB_URL` (default
 * `mysql://root@127.0.0.1:3306`, MariaDB 10.11 started by `.ci/run`).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import {
  type Connection,
  type ConnectionOptions,
  createConnection,
  createPool,
  type Pool,
} from 'mysql2/promise';
import { mysqlFieldsFromUrl, redactUrl } from '#shared/db/mysql_url.ts';

/** Server URL the test databases are created on (no database in the path). */
export const TEST_DB_URL: string = process.env.WHIRLPOOL_TEST_DB_URL ?? 'mysql://root@127.0.0.1:3306';

/** A database created for one suite; `url` points at it, `drop()` removes it. */
export interface TestDatabase {
  /** Database name, e.g. `wpt_store_1234_k3j9x2`. */
  name: string;
  /** `TEST_DB_URL` with the database name as its path. */
  url: string;
  /** Drops the database (idempotent). */
  drop(): Promise<void>;
}

/**
 * Connection options for mysql2 parsed from a `mysql://user:pass@host:port/db`
 * URL, with the settings the project uses everywhere: UTC date handling and
 * BIGINT values above 2^53 as strings instead of rounded numbers.
 */
export function mysqlOptionsFromUrl(url: string): ConnectionOptions {
  return {
    ...mysqlFieldsFromUrl(url),
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
  };
}

/** Same URL with another database path (query string kept). */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** URL without its password, for error messages and logs. */
export { redactUrl };

/** Turns a suite label into a database-name fragment: `[a-z0-9_]`, at most 24 characters. */
function sanitizeLabel(label: string): string {
  const s = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return (s || 'suite').slice(0, 24);
}

/**
 * Opens one connection to `url` (server or database URL). Callers close it
 * with `end()`. `multipleStatements` is for SQL files only.
 */
export async function connectTestDb(
  url: string,
  opts: { multipleStatements?: boolean } = {},
): Promise<Connection> {
  try {
    return await createConnection({
      ...mysqlOptionsFromUrl(url),
      multipleStatements: opts.multipleStatements ?? false,
    });
  } catch (err) {
    throw new Error(`Cannot connect to test MariaDB at '${redactUrl(url)}'`, { cause: err });
  }
}

/** A mysql2 promise pool on `url` with the project's settings (UTC, big numbers). */
export function createTestPool(url: string, opts: { connectionLimit?: number } = {}): Pool {
  return createPool({ ...mysqlOptionsFromUrl(url), connectionLimit: opts.connectionLimit ?? 5 });
}

/**
 * Creates a fresh, empty database named after `label` (plus pid and a random
 * suffix) on {@link TEST_DB_URL}, utf8mb4. Call `drop()` in `afterAll`.
 */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const random = Math.random().toString(36).slice(2, 8).padEnd(6, '0');
  const name = `wpt_${sanitizeLabel(label)}_${process.pid}_${random}`;
  const conn = await connectTestDb(TEST_DB_URL);
  try {
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
  let dropped = false;
  return {
    name,
    url: withDatabase(TEST_DB_URL, name),
    async drop() {
      if (dropped) return;
      const c = await connectTestDb(TEST_DB_URL);
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
        dropped = true;
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Runs SQL text (several `;`-separated statements allowed) on the database
 * at `url` over one connection with `multipleStatements` on. Meant for schema
 * fixtures; application code never enables multiple statements.
 */
export async function runSql(url: string, sql: string): Promise<void> {
  const conn = await connectTestDb(url, { multipleStatements: true });
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

/** Runs each SQL file in order on the database at `url` (see {@link runSql}). */
export async function runSqlFiles(url: string, paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    const sql = await readFile(path, 'utf8');
    try {
      await runSql(url, sql);
    } catch (err) {
      throw new Error(`SQL file '${path}' failed on '${redactUrl(url)}'`, { cause: err });
    }
  }
}
