/**
 * Versioned schema migrations: the files `coordinator/store/migrations/NNN_name.sql`
 * are applied in version order, each exactly once, and recorded in
 * `schema_migrations`. Ranges: 001–009 core store, 010–019 cluster,
 * 020–029 directory.
 *
 * Several instances may start at the same moment: the runner takes the
 * advisory lock `GET_LOCK('whirlpool_migrate', 60)` on a dedicated
 * connection, re-reads the applied versions under the lock, applies what is
 * missing and releases the lock. MySQL DDL commits implicitly, so a file is
 * not atomic: write migrations idempotent (`CREATE TABLE IF NOT EXISTS`,
 * `INSERT IGNORE`, `CREATE OR REPLACE VIEW`) so a file interrupted half way
 * can simply run again. Files are split into statements here (quotes and
 * comments respected; no `DELIMITER` / stored programs), so the connection
 * never needs `multipleStatements`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Logger } from '#coordinator/log.ts';
import { createDbConnection } from './db_pool.ts';
import { MigrationError } from './errors.ts';

/** Folder of the project's migration files. */
export const MIGRATIONS_DIR: string = fileURLToPath(new URL('./migrations/', import.meta.url));

/** Name of the advisory lock serialising migration runs across instances. */
export const MIGRATION_LOCK = 'whirlpool_migrate';

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  /** SHA-256 hex of the file text. */
  checksum: string;
}

/** Outcome of {@link runMigrations}. */
export interface MigrationReport {
  /** Versions applied by this run, in order. */
  applied: number[];
  /** Versions found already applied. */
  skipped: number[];
}

const FILE_RE = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/** Reads and orders the migration files of `dir` (throws on a duplicate version or a stray `.sql` name). */
export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const out: Migration[] = [];
  const seen = new Map<number, string>();
  for (const file of names) {
    const m = FILE_RE.exec(file);
    if (!m)
      throw new MigrationError(
        `Migration file '${file}' does not match NNN_name.sql (lower case, digits, _)`,
      );
    const version = Number(m[1]);
    const prev = seen.get(version);
    if (prev) throw new MigrationError(`Migration version ${version} appears twice: '${prev}' and '${file}'`);
    seen.set(version, file);
    const sql = await readFile(join(dir, file), 'utf8');
    out.push({
      version,
      name: m[2]!,
      file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  return out.sort((a, b) => a.version - b.version);
}

/**
 * Splits SQL text into statements on `;` outside quotes ('', "", ``) and
 * comments (`-- `, `#`, `/* *\/`). Comments are dropped; empty statements
 * are skipped.
 */
export function splitSqlStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < n) {
        const d = sql[j]!;
        if (d === '\\' && c !== '`') {
          j += 2;
          continue;
        }
        if (d === c) {
          if (sql[j + 1] === c) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      if (j >= n) throw new MigrationError(`Unterminated ${c} quote in SQL starting at offset ${i}`);
      cur += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if ((c === '-' && next === '-' && /[\s]/.test(sql[i + 2] ?? '\n')) || c === '#') {
      const j = sql.indexOf('\n', i);
      i = j < 0 ? n : j + 1;
      cur += '\n';
      continue;
    }
    if (c === '/' && next === '*') {
      const j = sql.indexOf('*/', i + 2);
      if (j < 0) throw new MigrationError(`Unterminated /* comment in SQL starting at offset ${i}`);
      i = j + 2;
      cur += ' ';
      continue;
    }
    if (c === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      i++;
      continue;
    }
    cur += c;
    i++;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

async function appliedVersions(conn: Connection): Promise<Map<number, string>> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT version, checksum FROM schema_migrations');
  return new Map(rows.map((r) => [Number(r.version), String(r.checksum)]));
}

/**
 * Applies every pending migration of `dir` to the database at `url`, under
 * the advisory lock. Safe to call from several processes at once; a no-op
 * when the schema is current.
 */
export async function runMigrations(
  url: string,
  opts: { dir?: string; logger?: Logger; lockTimeoutSeconds?: number } = {},
): Promise<MigrationReport> {
  const migrations = await loadMigrations(opts.dir);
  const conn = await createDbConnection(url);
  const log = opts.logger;
  try {
    const timeout = opts.lockTimeoutSeconds ?? 60;
    const [lockRows] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS got', [
      MIGRATION_LOCK,
      timeout,
    ]);
    const got = lockRows[0]?.got;
    if (got !== 1) {
      throw new MigrationError(
        got === 0
          ? `Timed out after ${timeout} s waiting for migration lock '${MIGRATION_LOCK}' (another instance is migrating)`
          : `Could not take migration lock '${MIGRATION_LOCK}'`,
      );
    }
    try {
      await conn.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version INT NOT NULL PRIMARY KEY,
           name VARCHAR(255) NOT NULL,
           checksum CHAR(64) NOT NULL,
           applied DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      );
      const done = await appliedVersions(conn);
      const report: MigrationReport = { applied: [], skipped: [] };
      for (const m of migrations) {
        const prev = done.get(m.version);
        if (prev !== undefined) {
          if (prev !== m.checksum) {
            log?.warn(
              { version: m.version, file: m.file },
              'applied migration file has changed since it was applied',
            );
          }
          report.skipped.push(m.version);
          continue;
        }
        const statements = splitSqlStatements(m.sql);
        for (const [idx, stmt] of statements.entries()) {
          try {
            await conn.query(stmt);
          } catch (err) {
            throw new MigrationError(
              `Migration '${m.file}' failed at statement ${idx + 1}/${statements.length}: ${(err as Error).message}`,
              { cause: err },
            );
          }
        }
        await conn.query('INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)', [
          m.version,
          m.name,
          m.checksum,
        ]);
        log?.info({ version: m.version, file: m.file, statements: statements.length }, 'migration applied');
        report.applied.push(m.version);
      }
      return report;
    } finally {
      await conn.query('SELECT RELEASE_LOCK(?)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    await conn.end().catch(() => undefined);
  }
}
