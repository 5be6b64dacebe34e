/**
 * The MySQL server check of the local cluster: before the demo or the
 * integration tests create their databases, one connection proves the
 * server answers and accepts the account; otherwise a
 * {@link MissingPrerequisiteError} says what to start or change.
 *
 * @module
 */
import { createConnection } from 'mysql2/promise';
import { mysqlFieldsFromUrl } from '#shared/db/mysql_url.ts';
import { MissingPrerequisiteError } from './prerequisite.ts';

/**
 * Connects once to the server of `url` (3 s timeout) and closes. `setting`
 * names where the URL comes from (e.g. `WHIRLPOOL_TEST_DB_URL`, `--db-url`)
 * for the message.
 */
export async function checkMysqlServer(url: string, setting: string): Promise<void> {
  const f = mysqlFieldsFromUrl(url, { label: setting });
  const where = `${f.host}:${f.port}`;
  try {
    const conn = await createConnection({
      host: f.host,
      port: f.port,
      user: f.user,
      password: f.password,
      connectTimeout: 3000,
    });
    await conn.end();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'ER_ACCESS_DENIED_ERROR' || e.code === 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR') {
      throw new MissingPrerequisiteError(
        `MariaDB on ${where} refuses user '${f.user}' (${e.code}): set ${setting} to 'mysql://USER:PASSWORD@${where}' of an account that may create databases.`,
      );
    }
    throw new MissingPrerequisiteError(
      `MariaDB does not answer on ${where} (${e.code ?? e.message ?? 'no answer'}): start it with 'sudo service mariadb start' (install it first with 'sudo apt-get install -y mariadb-server'), or set ${setting} to a running server.`,
    );
  }
}
