/**
 * Test-only: creates the bootstrap nodes' read-only database account on a
 * test database, exactly as docs/directory.md tells operators to (SELECT on
 * `directory_view` and nothing else), with a unique name and a random
 * password, and drops it afterwards. Accounts are server-wide in MariaDB, so
 * every suite gets its own.
 *
 * @module
 */
import { connectTestDb, TEST_DB_URL } from './db.ts';

/** A read-only directory account on the test server. */
export interface DirectoryReaderAccount {
  user: string;
  password: string;
  /** `mysql://user:password@host:port/<database>` for that account. */
  url: string;
  drop(): Promise<void>;
}

/**
 * Creates `user@'%'` with SELECT on `<database>.directory_view` only.
 * `password` defaults to a random one; pass `''` for an account without
 * password (ps-http-sim `-mysql-no-pass` connects without one).
 */
export async function createDirectoryReaderAccount(
  database: string,
  opts: { password?: string } = {},
): Promise<DirectoryReaderAccount> {
  const user = `wpt_dir_${Math.random().toString(36).slice(2, 10)}`;
  const password = opts.password ?? `pw_${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const conn = await connectTestDb(TEST_DB_URL);
  try {
    await conn.query('CREATE USER ??@? IDENTIFIED BY ?', [user, '%', password]);
    await conn.query(`GRANT SELECT ON \`${database}\`.\`directory_view\` TO ??@?`, [user, '%']);
  } finally {
    await conn.end();
  }
  const u = new URL(TEST_DB_URL);
  u.username = user;
  u.password = password;
  u.pathname = `/${database}`;
  let dropped = false;
  return {
    user,
    password,
    url: u.toString(),
    async drop() {
      if (dropped) return;
      const c = await connectTestDb(TEST_DB_URL);
      try {
        await c.query('DROP USER IF EXISTS ??@?', [user, '%']);
        dropped = true;
      } finally {
        await c.end();
      }
    },
  };
}
