/**
 * Migration runner against the real MariaDB: applies every file of
 * coordinator/store/migrations once, is a no-op the second time, and is safe
 * when several connections and several processes start it at the same time
 * (advisory lock); the statement splitter respects quotes and comments.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationError } from '#coordinator/store/errors.ts';
import {
  loadMigrations,
  MIGRATIONS_DIR,
  runMigrations,
  splitSqlStatements,
} from '#coordinator/store/migrate.ts';
import { connectTestDb, createTestDatabase, type TestDatabase } from '#test/support/db.ts';

async function tables(url: string): Promise<string[]> {
  const conn = await connectTestDb(url);
  try {
    const [rows] = await conn.query<RowDataPacket[]>(
      "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
    );
    return rows.map((r) => String(r.t)).sort();
  } finally {
    await conn.end();
  }
}

async function appliedRows(url: string): Promise<number[]> {
  const conn = await connectTestDb(url);
  try {
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    return rows.map((r) => Number(r.version));
  } finally {
    await conn.end();
  }
}

function runInChild(url: string): Promise<{ code: number | null; out: string }> {
  const script = `import { runMigrations } from '#coordinator/store/migrate.ts';
const r = await runMigrations(process.env.DB_URL);
console.log(JSON.stringify(r));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: { ...process.env, DB_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('splitSqlStatements', () => {
  it('splits on semicolons outside quotes and comments', () => {
    const sql = `-- head; comment
CREATE TABLE a (x VARCHAR(3) DEFAULT ';'); # hash; comment
/* block; comment */ INSERT INTO a VALUES ('it''s;'), ("q;\\"");
INSERT INTO \`we;ird\` VALUES (1);;
`;
    expect(splitSqlStatements(sql)).toEqual([
      "CREATE TABLE a (x VARCHAR(3) DEFAULT ';')",
      `INSERT INTO a VALUES ('it''s;'), ("q;\\"")`,
      'INSERT INTO `we;ird` VALUES (1)',
    ]);
  });

  it('refuses an unterminated quote', () => {
    expect(() => splitSqlStatements("SELECT 'oops;")).toThrow(MigrationError);
  });
});

describe('migration files', () => {
  it('are numbered uniquely and include 001_core', async () => {
    const ms = await loadMigrations();
    expect(ms[0]).toMatchObject({ version: 1, name: 'core' });
    expect(new Set(ms.map((m) => m.version)).size).toBe(ms.length);
  });

  it('refuses a duplicate version', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wpt-mig-'));
    try {
      await writeFile(join(dir, '001_a.sql'), 'SELECT 1;');
      await writeFile(join(dir, '001_b.sql'), 'SELECT 1;');
      await expect(loadMigrations(dir)).rejects.toThrow(/version 1 appears twice/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('runMigrations', () => {
  let db: TestDatabase;
  let dbConc: TestDatabase;
  let dbProc: TestDatabase;
  beforeAll(async () => {
    [db, dbConc, dbProc] = await Promise.all([
      createTestDatabase('migrate'),
      createTestDatabase('migrate conc'),
      createTestDatabase('migrate proc'),
    ]);
  });
  afterAll(async () => {
    await Promise.all([db?.drop(), dbConc?.drop(), dbProc?.drop()]);
  });

  it('applies every file once, then is a no-op', async () => {
    const all = (await loadMigrations()).map((m) => m.version);
    const first = await runMigrations(db.url);
    expect(first.applied).toEqual(all);
    expect(first.skipped).toEqual([]);
    const t = await tables(db.url);
    for (const name of [
      'mix',
      'mix_log',
      'mix_output',
      'mix_txid',
      'tx0_whitelist',
      'blame',
      'ban',
      'fee_index',
    ]) {
      expect(t).toContain(name);
    }
    const second = await runMigrations(db.url);
    expect(second.applied).toEqual([]);
    expect(second.skipped).toEqual(all);
    expect(await appliedRows(db.url)).toEqual(all);
  });

  it('is safe when three connections run it at once', async () => {
    const all = (await loadMigrations()).map((m) => m.version);
    const reports = await Promise.all([
      runMigrations(dbConc.url),
      runMigrations(dbConc.url),
      runMigrations(dbConc.url),
    ]);
    const appliedTotal = reports.flatMap((r) => r.applied).sort((a, b) => a - b);
    expect(appliedTotal).toEqual(all);
    expect(await appliedRows(dbConc.url)).toEqual(all);
  });

  it('is safe when three processes run it at once', async () => {
    const all = (await loadMigrations()).map((m) => m.version);
    const results = await Promise.all([
      runInChild(dbProc.url),
      runInChild(dbProc.url),
      runInChild(dbProc.url),
    ]);
    for (const r of results) expect(r.code, r.out).toBe(0);
    const applied = results
      .map((r) => JSON.parse(r.out.trim().split('\n').at(-1)!) as { applied: number[] })
      .flatMap((r) => r.applied)
      .sort((a, b) => a - b);
    expect(applied).toEqual(all);
    expect(await appliedRows(dbProc.url)).toEqual(all);
  });

  it('reports the failing file and statement and records nothing for it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wpt-mig-'));
    const bad = await createTestDatabase('migrate bad');
    try {
      await writeFile(join(dir, '001_ok.sql'), 'CREATE TABLE IF NOT EXISTS t1 (id INT PRIMARY KEY);');
      await writeFile(join(dir, '002_bad.sql'), 'CREATE TABLE IF NOT EXISTS t2 (id INT);\nSELEC nonsense;');
      await expect(runMigrations(bad.url, { dir })).rejects.toThrow(/'002_bad.sql' failed at statement 2\/2/);
      expect(await appliedRows(bad.url)).toEqual([1]);
    } finally {
      await bad.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('uses the project migrations folder by default', () => {
    expect(MIGRATIONS_DIR).toMatch(/coordinator\/store\/migrations\/$/);
  });
});
