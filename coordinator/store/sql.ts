/**
 * The one database style of every repository (store, cluster, directory):
 * a repository holds a {@link Queryable} (a mysql2 promise `Pool` fits) and
 * runs each statement through {@link execRead} / {@link execWrite} with a
 * per-statement timeout, so a black-holed database fails calls instead of
 * hanging them. Transactions take a {@link TxQueryable} (one connection from
 * the pool, see `pool_lease.ts`'s `fencedWrite`).
 *
 * @module
 */
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';

/** What a repository needs from a database handle (a mysql2 `Pool` or `PoolConnection` fits). */
export type Queryable = Pick<Pool, 'query'>;

/** A handle that can also lend one connection for a transaction (a mysql2 `Pool` fits). */
export type TxQueryable = Pick<Pool, 'query' | 'getConnection'>;

/** One connection of a {@link TxQueryable}, as used inside a transaction. */
export type TxConnection = Pick<
  PoolConnection,
  'query' | 'beginTransaction' | 'commit' | 'rollback' | 'release'
>;

/** Default per-statement timeout of cluster queries, in ms. */
export const DEFAULT_QUERY_TIMEOUT_MS = 2_000;

/** Runs a write statement and returns its result header (`affectedRows`, `insertId`). */
export async function execWrite(
  db: Queryable,
  sql: string,
  params: readonly unknown[],
  timeoutMs: number = DEFAULT_QUERY_TIMEOUT_MS,
): Promise<ResultSetHeader> {
  const [res] = await db.query<ResultSetHeader>({ sql, timeout: timeoutMs }, params as unknown[]);
  return res;
}

/** Runs a SELECT and returns its rows. */
export async function execRead(
  db: Queryable,
  sql: string,
  params: readonly unknown[],
  timeoutMs: number = DEFAULT_QUERY_TIMEOUT_MS,
): Promise<RowDataPacket[]> {
  const [rows] = await db.query<RowDataPacket[]>({ sql, timeout: timeoutMs }, params as unknown[]);
  return rows;
}
