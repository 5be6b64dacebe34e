/**
 * The cluster-wide migration lock: one lease-style row `schema_lock('migrate')`
 * (owner, renew_seq) instead of `GET_LOCK`, which is per node on Galera (two
 * nodes granted it at once, notes-galera §3.1). Taking it is one conditional
 * `UPDATE` on the row state just read, so exactly one instance wins even
 * when they write through different nodes (certification lets one commit;
 * the others match no row or get 1213, and try again). The holder bumps
 * `renew_seq` every {@link LOCK_RENEW_MS} on a second connection; a waiter
 * takes the lock from a holder only after it saw the same `(owner,
 * renew_seq)` for `staleMs` on its own monotonic clock (the holder died), so
 * no database clock is compared with another. The table is created by the
 * runner itself (it cannot be a migration).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { MYSQL_ERRORS, mysqlErrno } from './db_errors.ts';
import { MigrationError } from './errors.ts';

/** How often the holder proves it is alive. */
export const LOCK_RENEW_MS = 1000;
/** Default silence after which a waiter takes the lock from a holder that stopped renewing. */
export const DEFAULT_LOCK_STALE_MS = 15_000;

const CREATE = `CREATE TABLE IF NOT EXISTS schema_lock (
  id VARCHAR(32) NOT NULL PRIMARY KEY,
  owner VARCHAR(64) NULL,
  renew_seq BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`;

/** A held lock: `release()` frees it (idempotent). */
export interface HeldMigrationLock {
  readonly owner: string;
  release(): Promise<void>;
}

/** Options of {@link acquireMigrationLock}. */
export interface MigrationLockOptions {
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** Take the lock from a holder silent this long (ms, default {@link DEFAULT_LOCK_STALE_MS}). */
  staleMs?: number;
  /** Name of the lock row (default `migrate`). */
  name?: string;
}

/**
 * Takes the lock on `conn`, renewing it through `renewConn` until released.
 * Throws {@link MigrationError} after `timeoutMs`.
 */
export async function acquireMigrationLock(
  conn: Connection,
  renewConn: Connection,
  opts: MigrationLockOptions,
): Promise<HeldMigrationLock> {
  const name = opts.name ?? 'migrate';
  const staleMs = opts.staleMs ?? DEFAULT_LOCK_STALE_MS;
  const owner = `mig-${process.pid}-${randomBytes(4).toString('hex')}`;
  await conn.query(CREATE);
  await conn.query('INSERT IGNORE INTO schema_lock (id, owner, renew_seq) VALUES (?, NULL, 0)', [name]);
  const deadline = performance.now() + opts.timeoutMs;
  let seen: { owner: string | null; seq: number; since: number } | null = null;
  for (;;) {
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT owner, renew_seq FROM schema_lock WHERE id = ?',
      [name],
    );
    const now = performance.now();
    const r = rows[0];
    if (!r) throw new MigrationError(`Migration lock row '${name}' vanished`);
    const cur = { owner: r.owner == null ? null : String(r.owner), seq: Number(r.renew_seq) };
    if (!seen || seen.owner !== cur.owner || seen.seq !== cur.seq) seen = { ...cur, since: now };
    if (cur.owner === null || now - seen.since >= staleMs) {
      try {
        const [res] = await conn.query<ResultSetHeader>(
          'UPDATE schema_lock SET owner = ?, renew_seq = renew_seq + 1 WHERE id = ? AND owner <=> ? AND renew_seq = ?',
          [owner, name, cur.owner, cur.seq],
        );
        if (res.affectedRows === 1) return holdLock(renewConn, name, owner);
      } catch (err) {
        if (mysqlErrno(err) !== MYSQL_ERRORS.DEADLOCK) throw err; // Galera: another node won the row
      }
    }
    if (now > deadline) {
      throw new MigrationError(
        `Timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for the migration lock (held by '${cur.owner}', another instance is migrating)`,
      );
    }
    await new Promise((res) => setTimeout(res, 50 + Math.random() * 100));
  }
}

function holdLock(renewConn: Connection, name: string, owner: string): HeldMigrationLock {
  let released = false;
  const timer = setInterval(() => {
    void renewConn
      .query('UPDATE schema_lock SET renew_seq = renew_seq + 1 WHERE id = ? AND owner = ?', [name, owner])
      .catch(() => undefined);
  }, LOCK_RENEW_MS);
  timer.unref();
  return {
    owner,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewConn
        .query('UPDATE schema_lock SET owner = NULL, renew_seq = renew_seq + 1 WHERE id = ? AND owner = ?', [
          name,
          owner,
        ])
        .catch(() => undefined);
    },
  };
}
