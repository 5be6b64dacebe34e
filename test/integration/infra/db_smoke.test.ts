/**
 * Smoke test of the test-database support (test/support/db.ts) against the
 * real MariaDB: a suite gets its own database, mysql2 round-trips values with
 * the project's settings, SQL files run, and `drop()` removes the database.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectTestDb,
  createTestDatabase,
  createTestPool,
  mysqlOptionsFromUrl,
  runSqlFiles,
  TEST_DB_URL,
  type TestDatabase,
} from '#test/support/db.ts';

async function databaseExists(name: string): Promise<boolean> {
  const conn = await connectTestDb(TEST_DB_URL);
  try {
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      [name],
    );
    return rows.length === 1;
  } finally {
    await conn.end();
  }
}

describe('test database support', () => {
  let db: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase('db smoke');
    dir = await mkdtemp(join(tmpdir(), 'wpt-sql-'));
  });
  afterAll(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a uniquely named database reachable through its url', async () => {
    expect(db.name).toMatch(/^wpt_db_smoke_\d+_[a-z0-9]{6}$/);
    expect(await databaseExists(db.name)).toBe(true);
    expect(mysqlOptionsFromUrl(db.url).database).toBe(db.name);
    const other = await createTestDatabase('db smoke');
    try {
      expect(other.name).not.toBe(db.name);
    } finally {
      await other.drop();
    }
  });

  it('runs SQL files with several statements', async () => {
    const file = join(dir, '001_schema.sql');
    await writeFile(
      file,
      `CREATE TABLE t (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, sats BIGINT NOT NULL,
         created DATETIME(3) NOT NULL, note VARCHAR(50) NULL) ENGINE=InnoDB;
       INSERT INTO t VALUES (1, 2100000000000000, '2024-01-02 03:04:05.678', 'one');`,
    );
    await runSqlFiles(db.url, [file]);
    const conn = await connectTestDb(db.url);
    try {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM t');
      expect(Number(rows[0]?.n)).toBe(1);
    } finally {
      await conn.end();
    }
  });

  it('names the failing file when a SQL file is broken', async () => {
    const file = join(dir, '002_broken.sql');
    await writeFile(file, 'CREATE TABLE broken (;');
    await expect(runSqlFiles(db.url, [file])).rejects.toThrow(/002_broken\.sql/);
  });

  it('round-trips BIGINT and DATETIME with a pool: safe numbers, big strings, UTC dates', async () => {
    const pool = createTestPool(db.url);
    try {
      const created = new Date(Date.UTC(2025, 5, 6, 7, 8, 9, 123));
      await pool.execute('INSERT INTO t (id, sats, created, note) VALUES (?, ?, ?, ?)', [
        9007199254740993n,
        1_000_000,
        created,
        null,
      ]);
      const [rows] = await pool.execute<RowDataPacket[]>('SELECT id, sats, created, note FROM t ORDER BY id');
      expect(rows).toHaveLength(2);
      expect(rows[0]?.sats).toBe(2_100_000_000_000_000);
      expect(rows[0]?.created).toEqual(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)));
      // above 2^53: a string, not a rounded number
      expect(rows[1]?.id).toBe('9007199254740993');
      expect(rows[1]?.sats).toBe(1_000_000);
      expect(rows[1]?.created).toEqual(created);
      expect(rows[1]?.note).toBeNull();
      // the session runs in UTC, so NOW() and JS agree within a few seconds
      const [now] = await pool.query<RowDataPacket[]>('SELECT NOW(3) AS now');
      const dbNow = now[0]!.now as Date;
      expect(Math.abs(dbNow.getTime() - Date.now())).toBeLessThan(5_000);
    } finally {
      await pool.end();
    }
  });

  it('refuses several statements on an ordinary connection', async () => {
    const conn = await connectTestDb(db.url);
    try {
      await expect(conn.query('SELECT 1; SELECT 2')).rejects.toMatchObject({ code: 'ER_PARSE_ERROR' });
    } finally {
      await conn.end();
    }
  });

  it('drops the database, and dropping twice is harmless', async () => {
    const tmp = await createTestDatabase('drop me');
    expect(await databaseExists(tmp.name)).toBe(true);
    await tmp.drop();
    await tmp.drop();
    expect(await databaseExists(tmp.name)).toBe(false);
  });
});
