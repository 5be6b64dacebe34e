/**
 * MySQL / MariaDB / Galera error numbers the store and the cluster act on,
 * and the classification of a driver error: a conflict worth retrying
 * (deadlock, Galera certification failure) or a database that is unavailable
 * (connection lost or refused, a Galera node outside the primary component)
 * as opposed to an error of the statement itself.
 *
 * @module
 */

/** Error numbers (`err.errno` of mysql2 errors). */
export const MYSQL_ERRORS = {
  /** 1047 ER_UNKNOWN_COM_ERROR: on Galera, "WSREP has not yet prepared node for application use" (non-primary node). */
  WSREP_NOT_READY: 1047,
  /** 1062 ER_DUP_ENTRY */
  DUP_ENTRY: 1062,
  /** 1180 ER_ERROR_DURING_COMMIT: on Galera, a write while the node drops out of the primary component. */
  ERROR_DURING_COMMIT: 1180,
  /** 1205 ER_LOCK_WAIT_TIMEOUT (also what MariaDB returns for NOWAIT) */
  LOCK_WAIT_TIMEOUT: 1205,
  /** 1213 ER_LOCK_DEADLOCK (on Galera also a certification conflict / brute-force abort) */
  DEADLOCK: 1213,
  /** 3572 ER_LOCK_NOWAIT (MySQL 8) */
  LOCK_NOWAIT: 3572,
} as const;

/** The MySQL error number of a mysql2 error, or undefined. */
export function mysqlErrno(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'errno' in err && typeof err.errno === 'number') {
    return err.errno;
  }
  return undefined;
}

/** Driver error codes (`err.code`) meaning the connection itself failed. */
const CONNECTION_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
]);

/**
 * True when `err` says the database is unavailable rather than that the
 * statement is wrong: a lost, refused or timed-out connection, or a Galera
 * node outside the primary component (1047, 1180). Callers treat it like an
 * outage (retry later, report unhealthy), never as a decision.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const errno = mysqlErrno(err);
  if (errno === MYSQL_ERRORS.WSREP_NOT_READY || errno === MYSQL_ERRORS.ERROR_DURING_COMMIT) return true;
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return CONNECTION_CODES.has(err.code);
  }
  return false;
}
