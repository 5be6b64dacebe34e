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
import { DEFAULT_QUERY_TIMEOUT_MS, execRead, execWrite, type Queryable } from './sql.ts';

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

/** Repository of the `pool_lease` table. */
export class LeaseStore {
  readonly #db: Queryable;
  readonly #timeoutMs: number;

  constructor(db: Queryable, opts: { queryTimeoutMs?: number } = {}) {
    this.#db = db;
    this.#timeoutMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
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
    const res = await execWrite(
      this.#db,
      `UPDATE pool_lease
       SET owner = ?, epoch = LAST_INSERT_ID(epoch + 1),
           lease_until = NOW(3) + INTERVAL ? MICROSECOND, acquired_at = NOW(3), renewed_at = NOW(3)
       WHERE pool_id = ? AND (owner IS NULL OR owner = ? OR lease_until IS NULL OR lease_until <= NOW(3))`,
      [instanceId, Math.round(ttlMs * 1000), poolId, instanceId],
      this.#timeoutMs,
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
    const res = await execWrite(
      this.#db,
      `UPDATE pool_lease SET lease_until = NOW(3) + INTERVAL ? MICROSECOND, renewed_at = NOW(3)
       WHERE pool_id = ? AND owner = ? AND epoch = ? AND lease_until > NOW(3)`,
      [Math.round(ttlMs * 1000), fence.poolId, fence.instanceId, fence.epoch],
      this.#timeoutMs,
    );
    return res.affectedRows === 1;
  }

  /** Frees the lease (owner NULL, free since NOW(3)) when (owner, epoch) still match. */
  async release(fence: LeaseFence): Promise<boolean> {
    const res = await execWrite(
      this.#db,
      `UPDATE pool_lease SET owner = NULL, lease_until = NOW(3)
       WHERE pool_id = ? AND owner = ? AND epoch = ?`,
      [fence.poolId, fence.instanceId, fence.epoch],
      this.#timeoutMs,
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

  /** True when `fence` is the current, unexpired lease of its pool (DB clock). */
  async isCurrent(fence: LeaseFence): Promise<boolean> {
    const rows = await execRead(
      this.#db,
      'SELECT 1 AS ok FROM pool_lease WHERE pool_id = ? AND owner = ? AND epoch = ? AND lease_until > NOW(3)',
      [fence.poolId, fence.instanceId, fence.epoch],
      this.#timeoutMs,
    );
    return rows.length === 1;
  }
}
