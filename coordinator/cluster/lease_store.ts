/**
 * Pool leases in the `pool_lease` table: one row per pool with its owner, a
 * fencing epoch and a renewal counter `renew_seq` (migration 070). Every
 * operation is one conditional `UPDATE` whose `affectedRows` decides the
 * outcome, so two instances can never both believe they acquired the same
 * pool (no read-then-write under REPEATABLE READ, no locks held across round
 * trips). No condition compares a database timestamp: with one clock per
 * Galera node (or a server clock step) that comparison breaks the lease
 * (notes-galera §3.5). Expiry is judged by clocks that never leave a process:
 * the owner's monotonic step-down (lease_keeper.ts) and the taker's
 * monotonic observation of an unchanged row (lease_observer.ts).
 *
 * - acquire: takes the row only in the exact state the taker watched
 *   (`owner <=> seen.owner AND epoch AND renew_seq`), or a free row / one
 *   naming the taker when nothing was watched; bumps `epoch` (a new fencing
 *   token, read back atomically with `LAST_INSERT_ID(expr)`) and `renew_seq`.
 * - renew: succeeds only for the same (owner, epoch); bumps `renew_seq`,
 *   never the epoch.
 * - release: same condition; the row becomes free at once.
 *
 * `lease_until` (NOW(3) + TTL on the owner's node) is still written: the
 * fence check of coordinator/store/pool_lease.ts compares it on the owner's
 * side, and the dashboard shows it. The `held` / `remainingMs` / `freeForMs`
 * fields of {@link LeaseRow} come from it and are for display only.
 *
 * @module
 */
import type { LeaseFence } from '#coordinator/mix/types.ts';
import { isLeaseCurrent } from '#coordinator/store/pool_lease.ts';
import { DEFAULT_QUERY_TIMEOUT_MS, execRead, execWrite, type Queryable } from '#coordinator/store/sql.ts';

/** One `pool_lease` row as read (the clock-derived fields are for display only, see module doc). */
export interface LeaseRow {
  poolId: string;
  /** Owner instance id, null when released. */
  owner: string | null;
  epoch: number;
  /** Renewal counter: +1 on every acquisition, renewal and release. */
  renewSeq: number;
  /** Display: an owner is set and `lease_until > NOW(3)` on the reading node. */
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
   * Tries to take `poolId` for `instanceId`, writing `lease_until` = NOW(3) +
   * `ttlMs`. With `seen`, only when the row is still exactly that
   * `(owner, epoch, renewSeq)` (the caller decided it is takeable, see
   * lease_observer.ts); without, only when it is free or names `instanceId`.
   * Returns the new fence (epoch + 1) or null (row changed, held, or missing).
   */
  async acquire(
    poolId: string,
    instanceId: string,
    ttlMs: number,
    seen?: Pick<LeaseRow, 'owner' | 'epoch' | 'renewSeq'>,
  ): Promise<LeaseFence | null> {
    const set = `UPDATE pool_lease
       SET owner = ?, epoch = LAST_INSERT_ID(epoch + 1), renew_seq = renew_seq + 1,
           lease_until = NOW(3) + INTERVAL ? MICROSECOND, acquired_at = NOW(3), renewed_at = NOW(3)`;
    const res = seen
      ? await this.#leaseWrite(
          'acquire',
          poolId,
          `${set} WHERE pool_id = ? AND owner <=> ? AND epoch = ? AND renew_seq = ?`,
          [instanceId, Math.round(ttlMs * 1000), poolId, seen.owner, seen.epoch, seen.renewSeq],
        )
      : await this.#leaseWrite(
          'acquire',
          poolId,
          `${set} WHERE pool_id = ? AND (owner IS NULL OR owner = ?)`,
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

  /**
   * Renews: bumps `renew_seq` and sets `lease_until` = NOW(3) + ttlMs when
   * (owner, epoch) still match. Whether the owner may still trust the lease
   * is its own monotonic deadline's business (lease_keeper.ts), never the
   * database clock's.
   */
  async renew(fence: LeaseFence, ttlMs: number): Promise<boolean> {
    const res = await this.#leaseWrite(
      'renew',
      fence.poolId,
      `UPDATE pool_lease SET renew_seq = renew_seq + 1, lease_until = NOW(3) + INTERVAL ? MICROSECOND,
         renewed_at = NOW(3)
       WHERE pool_id = ? AND owner = ? AND epoch = ?`,
      [Math.round(ttlMs * 1000), fence.poolId, fence.instanceId, fence.epoch],
    );
    return res.affectedRows === 1;
  }

  /** Frees the lease (owner NULL, free since NOW(3)) when (owner, epoch) still match. */
  async release(fence: LeaseFence): Promise<boolean> {
    const res = await this.#leaseWrite(
      'release',
      fence.poolId,
      `UPDATE pool_lease SET owner = NULL, renew_seq = renew_seq + 1, lease_until = NOW(3)
       WHERE pool_id = ? AND owner = ? AND epoch = ?`,
      [fence.poolId, fence.instanceId, fence.epoch],
    );
    return res.affectedRows === 1;
  }

  /** Every lease row, ordered by pool id (display fields computed on the reading node's clock). */
  async list(): Promise<LeaseRow[]> {
    const rows = await execRead(
      this.#db,
      `SELECT pool_id, owner, epoch, renew_seq,
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
        renewSeq: Number(r.renew_seq),
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
