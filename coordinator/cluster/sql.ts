/**
 * Re-export of the repositories' database style (coordinator/store/sql.ts)
 * for the cluster modules that import it from here.
 *
 * @module
 */
export {
  DEFAULT_QUERY_TIMEOUT_MS,
  execRead,
  execWrite,
  type Queryable,
  type TxQueryable,
} from '#coordinator/store/sql.ts';
