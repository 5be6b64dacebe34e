/**
 * `mysql://user:password@host:port/database` URLs → the connection fields
 * mysql2 takes (`host`, `port`, `user`, `password`, `database`), shared by
 * the coordinator's pool, the bootstrap node's reader, the demo and the test
 * databases. Each caller adds its own settings (timezone, big numbers,
 * `multipleStatements`, `disableEval` on Workers...) on top.
 *
 * Runtime-neutral (Node, Deno, Workers): no `node:*` import and no mysql2
 * import; the result is a plain object assignable to mysql2's
 * `ConnectionOptions`. Error messages never carry the password.
 *
 * @module
 */

/** The connection fields of a database URL (a subset of mysql2's `ConnectionOptions`). */
export interface MysqlUrlFields {
  /** Host name, IPv6 brackets stripped; `127.0.0.1` when the URL has none. */
  host: string;
  /** Port; 3306 when the URL has none. */
  port: number;
  /** URL-decoded user name; `defaultUser` when the URL has none. */
  user: string;
  /** URL-decoded password; `''` when the URL has none. */
  password: string;
  /** URL-decoded database name (path without its leading `/`); absent when the path is empty. */
  database?: string;
}

/** Options of {@link mysqlFieldsFromUrl}. */
export interface MysqlUrlParseOptions {
  /** What the URL is called in error messages (default `'Database URL'`). */
  label?: string;
  /** User when the URL names none (default `'root'`). */
  defaultUser?: string;
  /** Throw when the URL names no database (default false). */
  requireDatabase?: boolean;
}

/**
 * Parses a `mysql://` or `mariadb://` URL into mysql2 connection fields.
 * Throws an `Error` (the password never echoed) on an unparseable URL,
 * another protocol, or, with `requireDatabase`, an empty path.
 */
export function mysqlFieldsFromUrl(url: string, opts: MysqlUrlParseOptions = {}): MysqlUrlFields {
  const label = opts.label ?? 'Database URL';
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new Error(`${label} is not a valid URL`, { cause: err });
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    throw new Error(`${label} must start with mysql:// or mariadb://, got protocol '${u.protocol}'`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database && opts.requireDatabase) {
    throw new Error(`${label} '${redactUrl(url)}' names no database (path is empty)`);
  }
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username) || (opts.defaultUser ?? 'root'),
    password: decodeURIComponent(u.password),
    ...(database ? { database } : {}),
  };
}

/**
 * A URL with its password hidden, for logs and error messages:
 * `mysql://root:***@db:3306/whirlpool`. Unparseable input gives
 * `<invalid url>` rather than echoing it, as it may hold a secret.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
