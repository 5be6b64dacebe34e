/**
 * The slice of a mysql2 promise pool the cluster code uses, plus two helpers
 * that run one statement with a per-query timeout (a renewal must never hang
 * on a black-holed connection) and read `affectedRows` / rows back.
 *
 * @module
 */
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';

/** What the cluster repositories need from a database handle (a mysql2 `Pool` fits). */
export type Queryable = Pick<Pool, 'query'>;

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
