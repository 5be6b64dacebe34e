/**
 * Session settings of the coordinator's MySQL pools against the real
 * MariaDB: a transaction left idle on an application connection while it
 * holds a shared lock on a `pool_lease` row (an instance cut off between two
 * statements of a fenced write) is ended by the server, so another instance
 * can update the row; on a cluster connection a blocked lease update fails
 * within about a second instead of 50 s; a statement the server refuses is
 * skipped and logged once.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDbPool, MYSQL_ERRORS, mysqlErrno } from '#coordinator/store/db_pool.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import {
  applySessionSettings,
  CLUSTER_LOCK_WAIT_TIMEOUT_S,
  IDLE_TRANSACTION_TIMEOUT_S,
  SESSION_SETTINGS,
  type SessionSettingsLogger,
} from '#coordinator/store/session_settings.ts';
import { connectTestDb, createTestDatabase, type TestDatabase } from '#test/support/db.ts';

const quiet: SessionSettingsLogger = { warn: () => {} };

describe('database session settings', () => {
  let db: TestDatabase;
  const pools: Pool[] = [];

  function pool(statements: readonly string[], logger = quiet): Pool {
    const p = createDbPool(db.url, { connectionLimit: 2 });
    applySessionSettings(p, statements, logger);
    pools.push(p);
    return p;
  }

  beforeAll(async () => {
    db = await createTestDatabase('session settings');
    await runMigrations(db.url);
    const conn = await connectTestDb(db.url);
    await conn.query(
      `INSERT INTO pool_lease (pool_id, owner, epoch, lease_until) VALUES ('p1', 'i1', 1, NOW(3) + INTERVAL 1 SECOND)`,
    );
    await conn.end();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    await db?.drop();
  });

  it('ends a transaction left idle on an application connection, releasing its lease-row lock', async () => {
    const app = pool(SESSION_SETTINGS.app);
    const holder = await app.getConnection();
    const [[setting]] = await holder.query<RowDataPacket[]>('SELECT @@SESSION.idle_transaction_timeout AS t');
    expect(Number(setting!.t)).toBe(IDLE_TRANSACTION_TIMEOUT_S);
    await holder.beginTransaction();
    await holder.query("SELECT epoch FROM pool_lease WHERE pool_id = 'p1' LOCK IN SHARE MODE");
    // The holder never speaks again (as if cut off). Another instance takes the lease over.
    const other = await connectTestDb(db.url);
    try {
      await other.query('SET SESSION innodb_lock_wait_timeout = 20');
      const [res] = await other.query<RowDataPacket[] & { affectedRows: number }>(
        "UPDATE pool_lease SET owner = 'i2', epoch = epoch + 1 WHERE pool_id = 'p1'",
      );
      expect(res.affectedRows).toBe(1);
    } finally {
      await other.end();
    }
    // The server dropped the idle connection: its next statement fails.
    await expect(holder.query('SELECT 1')).rejects.toThrow();
    holder.release();
  });

  it('fails a blocked lease update on a cluster connection within the short lock wait', async () => {
    const cluster = pool(SESSION_SETTINGS.cluster);
    const [[setting]] = await cluster.query<RowDataPacket[]>(
      'SELECT @@SESSION.innodb_lock_wait_timeout AS t',
    );
    expect(Number(setting!.t)).toBe(CLUSTER_LOCK_WAIT_TIMEOUT_S);
    const holder = await connectTestDb(db.url);
    try {
      await holder.beginTransaction();
      await holder.query("SELECT epoch FROM pool_lease WHERE pool_id = 'p1' LOCK IN SHARE MODE");
      const err = await cluster.query("UPDATE pool_lease SET owner = 'i3' WHERE pool_id = 'p1'").then(
        () => null,
        (e: unknown) => e,
      );
      expect(mysqlErrno(err)).toBe(MYSQL_ERRORS.LOCK_WAIT_TIMEOUT);
      await holder.rollback();
    } finally {
      await holder.end();
    }
  });

  it('skips a statement the server refuses and logs it once per pool', async () => {
    const warnings: object[] = [];
    const p = pool(['SET SESSION no_such_variable_here = 1'], {
      warn: (o: object) => {
        warnings.push(o);
      },
    });
    const [a, b] = await Promise.all([p.getConnection(), p.getConnection()]);
    const [[row]] = await a.query<RowDataPacket[]>('SELECT 41 + 1 AS v');
    expect(Number(row!.v)).toBe(42);
    await b.query('SELECT 1');
    a.release();
    b.release();
    expect(warnings).toEqual([expect.objectContaining({ sql: 'SET SESSION no_such_variable_here = 1' })]);
  });
});
