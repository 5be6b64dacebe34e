/**
 * Pool leases in the `pool_lease` table: one row per pool with its owner, a
 * fencing epoch and an expiry on the database clock. Every operation is one
 * conditional `UPDATE` whose `affectedRows` decides the outcome, so two
 * instances can never both believe they acquired the same pool (no
 * read-then-write under REPEATABLE READ, no locks held across round trips).
 *
 * - acquire: succeeds when the lease is free, expired or already ours; bumps
 *   `epoch` (a new fencing token, read back atomically with
 *   `LAST_INSERT_ID(expr)`).
 * - renew: succeeds only for the same (owner, epoch) on a lease not yet
 *   expired; never changes the epoch.
 * - release: same condition; the row becomes free at once.
 *
 * @module
 */
import type { LeaseFence } from '#coordinator/mix/types.ts';
import { isLeaseCurrent } from '#coordinator/store/pool_lease.ts';
import { DEFAULT_QUERY_TIMEOUT_MS, execRead, execWrite, type Queryable } from '#coordinator/store/sql.ts';

/** One `pool_lease` row as seen at one moment of the database clock. */
export interface LeaseRow {
  poolId: string;
  /** Owner instance id, null when released. */
  owner: string | null;
  epoch: number;
  /** True when an owner is set and `lease_until > NOW(3)`. */
  held: boolean;
  /** When not held: ms since the lease became free (expiry or release); 0 when held. */
  freeForMs: number;
  /** When held: ms left before expiry; 0 otherwise. */
  remainingMs: number;
}

/** A lease statement of this store. */
export type LeaseOperation = 'acquire' | 'renew' | 'release';

/**
 * What the lease code reports to its listeners (metrics): each acquire /
 * renew / release with its result (`refused` = the conditional write matched
 * no row), and each takeover (an acquisition of an epoch another instance
 * held or released) with how long the pool was unowned as seen by the taker.
 */
export type LeaseEvent =
  | { type: 'operation'; poolId: string; operation: LeaseOperation; result: 'ok' | 'refused' | 'error' }
  | { type: 'takeover'; poolId: string; previous: 'expired' | 'released'; latencyMs: number | null };

/** Options of {@link LeaseStore}. */
export interface LeaseStoreOptions {
  queryTimeoutMs?: number;
  /** Told the result of every acquire / renew / release (explicit events, no interception). */
  onEvent?: (e: LeaseEvent) => void;
}

/** Repository of the `pool_lease` table. */
export class LeaseStore {
  readonly #db: Queryable;
  readonly #timeoutMs: number;
  readonly #onEvent: (e: LeaseEvent) => void;

  constructor(db: Queryable, opts: LeaseStoreOptions = {}) {
    this.#db = db;
    this.#timeoutMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    this.#onEvent = opts.onEvent ?? (() => undefined);
  }

  /** Runs one lease statement and reports its result. */
  async #leaseWrite(operation: LeaseOperation, poolId: string, sql: string, params: readonly unknown[]) {
    try {
      const res = await execWrite(this.#db, sql, params, this.#timeoutMs);
      this.#onEvent({
        type: 'operation',
        poolId,
        operation,
        result: res.affectedRows === 1 ? 'ok' : 'refused',
      });
      return res;
    } catch (err) {
      this.#onEvent({ type: 'operation', poolId, operation, result: 'error' });
      throw err;
    }
  }

  /** Creates the missing rows of `poolIds` (free, expired now) with `INSERT IGNORE`; existing rows are untouched. */
  async ensurePools(poolIds: readonly string[]): Promise<void> {
    for (const poolId of poolIds) {
      await execWrite(
        this.#db,
        'INSERT IGNORE INTO pool_lease (pool_id, owner, epoch, lease_until) VALUES (?, NULL, 0, NOW(3))',
        [poolId],
        this.#timeoutMs,
      );
    }
  }

  /**
   * Tries to take `poolId` for `instanceId` for `ttlMs` (DB clock). Returns
   * the new fence (epoch + 1) or null when another instance holds a valid
   * lease (or the row does not exist).
   */
  async acquire(poolId: string, instanceId: string, ttlMs: number): Promise<LeaseFence | null> {
    const res = await this.#leaseWrite(
      'acquire',
      poolId,
      `UPDATE pool_lease
       SET owner = ?, epoch = LAST_INSERT_ID(epoch + 1),
           lease_until = NOW(3) + INTERVAL ? MICROSECOND, acquired_at = NOW(3), renewed_at = NOW(3)
       WHERE pool_id = ? AND (owner IS NULL OR owner = ? OR lease_until IS NULL OR lease_until <= NOW(3))`,
      [instanceId, Math.round(ttlMs * 1000), poolId, instanceId],
    );
    if (res.affectedRows !== 1) return null;
    const epoch = Number(res.insertId);
    if (!Number.isSafeInteger(epoch) || epoch <= 0) {
      throw new Error(
        `Lease acquisition of pool '${poolId}' returned no epoch (insertId '${String(res.insertId)}')`,
      );
    }
    return { poolId, instanceId, epoch };
  }

  /** Extends the lease to NOW(3) + ttlMs when (owner, epoch) still match and it has not expired. */
  async renew(fence: LeaseFence, ttlMs: number): Promise<boolean> {
    const res = await this.#leaseWrite(
      'renew',
      fence.poolId,
      `UPDATE pool_lease SET lease_until = NOW(3) + INTERVAL ? MICROSECOND, renewed_at = NOW(3)
       WHERE pool_id = ? AND owner = ? AND epoch = ? AND lease_until > NOW(3)`,
      [Math.round(ttlMs * 1000), fence.poolId, fence.instanceId, fence.epoch],
    );
    return res.affectedRows === 1;
  }

  /** Frees the lease (owner NULL, free since NOW(3)) when (owner, epoch) still match. */
  async release(fence: LeaseFence): Promise<boolean> {
    const res = await this.#leaseWrite(
      'release',
      fence.poolId,
      `UPDATE pool_lease SET owner = NULL, lease_until = NOW(3)
       WHERE pool_id = ? AND owner = ? AND epoch = ?`,
      [fence.poolId, fence.instanceId, fence.epoch],
    );
    return res.affectedRows === 1;
  }

  /** Every lease row, ordered by pool id, with held / free durations computed on the DB clock. */
  async list(): Promise<LeaseRow[]> {
    const rows = await execRead(
      this.#db,
      `SELECT pool_id, owner, epoch,
              (owner IS NOT NULL AND lease_until > NOW(3)) AS held,
              COALESCE(TIMESTAMPDIFF(MICROSECOND, lease_until, NOW(3)), 0) AS past_us
       FROM pool_lease ORDER BY pool_id`,
      [],
      this.#timeoutMs,
    );
    return rows.map((r) => {
      const held = Number(r.held) === 1;
      const pastMs = Number(r.past_us) / 1000;
      return {
        poolId: String(r.pool_id),
        owner: r.owner == null ? null : String(r.owner),
        epoch: Number(r.epoch),
        held,
        freeForMs: held ? 0 : Math.max(0, pastMs),
        remainingMs: held ? Math.max(0, -pastMs) : 0,
      };
    });
  }

  /** One row, or null when the pool has no lease row. */
  async get(poolId: string): Promise<LeaseRow | null> {
    const rows = await this.list();
    return rows.find((r) => r.poolId === poolId) ?? null;
  }

  /** True when `fence` is current (the rule of coordinator/store/pool_lease.ts). */
  isCurrent(fence: LeaseFence): Promise<boolean> {
    return isLeaseCurrent(this.#db, fence, this.#timeoutMs);
  }
}
