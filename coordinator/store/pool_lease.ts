/**
 * The one owner of the "lease is current" rule of `pool_lease` (migration
 * 010) and of the fenced write that every store uses.
 *
 * A fence `(pool, owner, epoch)` is **current** while the pool's row still
 * names that owner and epoch and the owner's last renewal has not run out on
 * the clock of the database node that wrote it (`lease_until > NOW(3)`):
 * {@link LEASE_CURRENT_SQL}. A takeover always changes `(owner, epoch)`, so
 * no write checked under this rule can be ordered after a takeover.
 *
 * {@link fencedWrite} runs a write as one transaction that first reads the
 * fence's row under a shared lock (`LOCK IN SHARE MODE`) and refuses with
 * {@link FencedOutError}, writing nothing, when it is not current. On a single
 * server the shared lock holds a takeover off until the transaction ends; on
 * Galera a takeover committed on another node aborts the transaction instead
 * (errno 1213), which is retried here and then refused by the check. Either
 * way a write is applied while the lease is current or not at all.
 *
 * Nothing else in the code base writes SQL about `pool_lease` currency: the
 * mix store, the pool status store, the inputsHash store and the directory
 * publisher all come through this module (the lease store itself owns the
 * acquire / renew / release statements).
 *
 * @module
 */
import type { LeaseFence } from '#coordinator/mix/types.ts';
import { MYSQL_ERRORS, mysqlErrno } from './db_errors.ts';
import { FencedOutError } from './errors.ts';
import { DEFAULT_QUERY_TIMEOUT_MS, execRead, type Queryable, type TxQueryable } from './sql.ts';

/**
 * The predicate over one `pool_lease` row, with three parameters
 * `(pool_id, owner, epoch)` in that order ({@link leaseParams}).
 */
export const LEASE_CURRENT_SQL = 'pool_id = ? AND owner = ? AND epoch = ? AND lease_until > NOW(3)';

/** A row still owned by one instance (its epoch whatever it is), one parameter `owner`. */
export const LEASE_HELD_BY_SQL = 'owner = ? AND lease_until > NOW(3)';

/** The parameters of {@link LEASE_CURRENT_SQL} for `fence`. */
export function leaseParams(fence: LeaseFence): [string, string, number] {
  return [fence.poolId, fence.instanceId, fence.epoch];
}

/** True when `fence` is current (see module doc). */
export async function isLeaseCurrent(
  db: Queryable,
  fence: LeaseFence,
  timeoutMs: number = DEFAULT_QUERY_TIMEOUT_MS,
): Promise<boolean> {
  const rows = await execRead(
    db,
    `SELECT 1 AS ok FROM pool_lease WHERE ${LEASE_CURRENT_SQL}`,
    leaseParams(fence),
    timeoutMs,
  );
  return rows.length === 1;
}

/** The current fences of `instanceId`, ordered by pool id (directory records). */
export async function currentFencesOf(
  db: Queryable,
  instanceId: string,
  timeoutMs: number = DEFAULT_QUERY_TIMEOUT_MS,
): Promise<LeaseFence[]> {
  const rows = await execRead(
    db,
    `SELECT pool_id, epoch FROM pool_lease WHERE ${LEASE_HELD_BY_SQL} ORDER BY pool_id`,
    [instanceId],
    timeoutMs,
  );
  return rows.map((r) => ({ poolId: String(r.pool_id), instanceId, epoch: Number(r.epoch) }));
}

/** A write run by {@link fencedWrite}: its name (errors, metrics) and its statements on the transaction's connection. */
export interface FencedOperation<T> {
  /** What is written, e.g. `saveOutput` (named in {@link FencedOutError}). */
  name: string;
  run(conn: Queryable): Promise<T>;
}

/** Options of {@link fencedWrite}. */
export interface FencedWriteOptions {
  /** Per-statement timeout (default {@link DEFAULT_QUERY_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Attempts on deadlock / certification conflict (errno 1213), default 5. */
  attempts?: number;
}

/**
 * Runs `op` in one transaction on a connection of `db`, after checking
 * `fence` under a shared lock on its `pool_lease` row; `fence` null (no
 * cluster) runs it unfenced. Throws {@link FencedOutError} when the fence is
 * not current (nothing written). Retries the whole transaction on errno 1213
 * after a short random pause (a concurrent blame, or a takeover on another
 * Galera node: the retry then meets the check).
 */
export async function fencedWrite<T>(
  db: TxQueryable,
  fence: LeaseFence | null,
  op: FencedOperation<T>,
  opts: FencedWriteOptions = {},
): Promise<T> {
  const timeout = opts.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const attempts = opts.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const conn = await db.getConnection();
    try {
      await conn.beginTransaction();
      if (fence) {
        const rows = await execRead(
          conn,
          `SELECT 1 AS ok FROM pool_lease WHERE ${LEASE_CURRENT_SQL} LOCK IN SHARE MODE`,
          leaseParams(fence),
          timeout,
        );
        if (rows.length === 0) throw new FencedOutError(op.name, fence);
      }
      const out = await op.run(conn);
      await conn.commit();
      return out;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      if (mysqlErrno(err) === MYSQL_ERRORS.DEADLOCK && attempt < attempts) {
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
        continue;
      }
      throw err;
    } finally {
      conn.release();
    }
  }
}
