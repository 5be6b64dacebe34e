/**
 * coordinator/store/pool_lease.ts on the real MariaDB: the one "lease is
 * current" rule (owner, epoch, unexpired), `currentFencesOf`, and
 * `fencedWrite` applying a write under a current fence and refusing one
 * under a stale, foreign or expired fence without writing anything.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedOutError } from '#coordinator/store/errors.ts';
import { currentFencesOf, fencedWrite, isLeaseCurrent } from '#coordinator/store/pool_lease.ts';
import { execWrite } from '#coordinator/store/sql.ts';
import { createTestDatabase, createTestPool, runSqlFiles, type TestDatabase } from '#test/support/db.ts';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('store_pool_lease');
  await runSqlFiles(db.url, ['coordinator/store/migrations/010_cluster.sql']);
  pool = createTestPool(db.url);
  await pool.query('CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(16))');
  await pool.query(
    `INSERT INTO pool_lease (pool_id, owner, epoch, lease_until) VALUES
     ('p1', 'a', 3, NOW(3) + INTERVAL 60 SECOND), ('p2', 'a', 1, NOW(3) - INTERVAL 1 SECOND),
     ('p3', 'b', 7, NOW(3) + INTERVAL 60 SECOND), ('p4', NULL, 2, NOW(3))`,
  );
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const insert = (v: string) => ({
  name: 'insertT',
  run: (conn: Pick<Pool, 'query'>) => execWrite(conn, 'INSERT INTO t (v) VALUES (?)', [v]),
});

async function values(): Promise<string[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT v FROM t ORDER BY id');
  return rows.map((r) => String(r.v));
}

describe('the lease-is-current rule', () => {
  it('holds for the owner at its epoch while unexpired, and for nothing else', async () => {
    expect(await isLeaseCurrent(pool, { poolId: 'p1', instanceId: 'a', epoch: 3 })).toBe(true);
    expect(await isLeaseCurrent(pool, { poolId: 'p1', instanceId: 'a', epoch: 2 })).toBe(false);
    expect(await isLeaseCurrent(pool, { poolId: 'p1', instanceId: 'b', epoch: 3 })).toBe(false);
    expect(await isLeaseCurrent(pool, { poolId: 'p2', instanceId: 'a', epoch: 1 })).toBe(false);
    expect(await isLeaseCurrent(pool, { poolId: 'p4', instanceId: 'a', epoch: 2 })).toBe(false);
    expect(await currentFencesOf(pool, 'a')).toEqual([{ poolId: 'p1', instanceId: 'a', epoch: 3 }]);
    expect(await currentFencesOf(pool, 'b')).toEqual([{ poolId: 'p3', instanceId: 'b', epoch: 7 }]);
  });
});

describe('fencedWrite', () => {
  it('writes under a current fence or without a fence, refuses every other fence and writes nothing', async () => {
    await fencedWrite(pool, { poolId: 'p1', instanceId: 'a', epoch: 3 }, insert('current'));
    await fencedWrite(pool, null, insert('unfenced'));
    for (const fence of [
      { poolId: 'p1', instanceId: 'a', epoch: 2 },
      { poolId: 'p1', instanceId: 'b', epoch: 3 },
      { poolId: 'p2', instanceId: 'a', epoch: 1 },
      { poolId: 'p9', instanceId: 'a', epoch: 1 },
    ]) {
      const err = await fencedWrite(pool, fence, insert('stale')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FencedOutError);
      expect((err as FencedOutError).operation).toBe('insertT');
    }
    expect(await values()).toEqual(['current', 'unfenced']);
  });

  it('rolls the whole transaction back when a statement fails', async () => {
    const before = await values();
    const err = await fencedWrite(
      pool,
      { poolId: 'p1', instanceId: 'a', epoch: 3 },
      {
        name: 'twoInserts',
        run: async (conn) => {
          await execWrite(conn, 'INSERT INTO t (v) VALUES (?)', ['first']);
          await execWrite(conn, 'INSERT INTO t (id, v) VALUES (1, ?)', ['dup']);
        },
      },
    ).catch((e: unknown) => e);
    expect((err as { errno?: number }).errno).toBe(1062);
    expect(await values()).toEqual(before);
  });
});
