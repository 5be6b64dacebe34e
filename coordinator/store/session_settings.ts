/**
 * Session settings applied to every connection a mysql2 pool opens, so that
 * one partitioned instance cannot freeze the cluster through row locks:
 *
 * - **Application pool**: `idle_transaction_timeout` (MariaDB ≥ 10.3). A
 *   fenced write holds a shared lock on its `pool_lease` row until COMMIT; if
 *   the instance is cut off between two statements, the server never hears
 *   from it again and would keep that transaction (and the lock, which blocks
 *   the takeover of the pool) open for `wait_timeout` (8 h by default). With
 *   this setting the server rolls it back and drops the connection after
 *   {@link IDLE_TRANSACTION_TIMEOUT_S} seconds, before the lease expires, so
 *   the pool is taken over within TTL + one poll. MySQL has no such variable:
 *   the statement fails there and is skipped (logged once); see
 *   docs/operations.md.
 * - **Cluster pool**: `innodb_lock_wait_timeout` of
 *   {@link CLUSTER_LOCK_WAIT_TIMEOUT_S} second (MySQL and MariaDB), so a
 *   lease acquisition blocked by such a lock fails fast and is retried at the
 *   next poll instead of holding a cluster connection for 50 s while the
 *   renewals of every other lease wait for one.
 *
 * @module
 */
import type { Pool } from 'mysql2/promise';

/** Seconds a transaction may stay idle on an application connection before the server ends it. */
export const IDLE_TRANSACTION_TIMEOUT_S = 2;
/** Seconds a cluster statement waits for a row lock before it fails. */
export const CLUSTER_LOCK_WAIT_TIMEOUT_S = 1;

/** The logger calls used here (pino-compatible). */
export interface SessionSettingsLogger {
  warn(obj: object, msg: string): void;
}

/** The statements for each kind of pool. */
export const SESSION_SETTINGS = {
  app: [`SET SESSION idle_transaction_timeout = ${IDLE_TRANSACTION_TIMEOUT_S}`],
  cluster: [
    `SET SESSION innodb_lock_wait_timeout = ${CLUSTER_LOCK_WAIT_TIMEOUT_S}`,
    `SET SESSION idle_transaction_timeout = ${IDLE_TRANSACTION_TIMEOUT_S}`,
  ],
} as const;

/**
 * Runs `statements` on every new connection of `pool`, before any query of
 * the application (mysql2 runs a connection's queries in order). A statement
 * the server refuses (e.g. an unknown variable on MySQL) is logged once per
 * pool and skipped.
 */
export function applySessionSettings(
  pool: Pool,
  statements: readonly string[],
  logger: SessionSettingsLogger,
): void {
  const refused = new Set<string>();
  pool.pool.on('connection', (conn) => {
    for (const sql of statements) {
      conn.query(sql, (err: Error | null) => {
        if (err && !refused.has(sql)) {
          refused.add(sql);
          logger.warn({ sql, err: err.message }, 'database session setting refused (skipped)');
        }
      });
    }
  });
}
