/**
 * The demo's MySQL side: creates the run's database fresh (dropping a
 * previous one of the same name), creates the bootstrap node's read-only
 * account (SELECT on `directory_view` only, docs/directory.md), reads what
 * the summary reports (mixes per pool, pool leases with their acquisition
 * times on the database clock), and drops everything at the end unless
 * `--keep-db`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import { mysqlFieldsFromUrl } from '#shared/db/mysql_url.ts';

/** Default database URL of the demo (local MariaDB, root without password). */
export const DEFAULT_DEMO_DB_URL = 'mysql://root@127.0.0.1:3306/whirlpool_demo';

/** A database URL split into server options and database name. */
interface ParsedDbUrl {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Parses `mysql://user:pass@host:port/db` (throws naming the problem, never the password). */
export function parseDemoDbUrl(url: string): ParsedDbUrl {
  const fields = mysqlFieldsFromUrl(url, { label: '--db-url' });
  const database = fields.database ?? '';
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database)) {
    throw new Error(`--db-url must name a database of letters, digits and _ (got '${database}')`);
  }
  return { ...fields, database };
}

async function serverConnection(p: ParsedDbUrl, database?: string): Promise<Connection> {
  return createConnection({
    host: p.host,
    port: p.port,
    user: p.user,
    password: p.password,
    database,
    timezone: 'Z',
    supportBigNumbers: true,
  });
}

/** Drops (if present) and creates the run's database. */
export async function createFreshDatabase(url: string): Promise<void> {
  const p = parseDemoDbUrl(url);
  const conn = await serverConnection(p).catch((err: unknown) => {
    throw new Error(`Cannot connect to MySQL at ${p.host}:${p.port} as '${p.user}'`, { cause: err });
  });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${p.database}\``);
    await conn.query(`CREATE DATABASE \`${p.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
}

/** Drops the run's database. */
export async function dropDatabase(url: string): Promise<void> {
  const p = parseDemoDbUrl(url);
  const conn = await serverConnection(p);
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${p.database}\``);
  } finally {
    await conn.end();
  }
}

/**
 * Creates the bootstrap node's account: SELECT on `<db>.directory_view` and
 * nothing else (the view exists once a coordinator ran the migrations).
 * Returns its URL and a function dropping it; null when the admin account
 * cannot create users (the bootstrap node then uses the admin URL).
 */
export async function createDirectoryAccount(
  url: string,
): Promise<{ url: string; user: string; drop(): Promise<void> } | null> {
  const p = parseDemoDbUrl(url);
  const user = `wpdemo_dir_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(16).toString('hex');
  const conn = await serverConnection(p);
  try {
    await conn.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await conn.query(`CREATE USER '${user}'@'localhost' IDENTIFIED BY '${password}'`);
    for (const host of ['%', 'localhost']) {
      await conn.query(`GRANT SELECT ON \`${p.database}\`.\`directory_view\` TO '${user}'@'${host}'`);
    }
  } catch {
    await conn.query(`DROP USER IF EXISTS '${user}'@'%', '${user}'@'localhost'`).catch(() => undefined);
    return null;
  } finally {
    await conn.end();
  }
  const readerUrl = `mysql://${user}:${password}@${p.host}:${p.port}/${p.database}`;
  return {
    url: readerUrl,
    user,
    async drop() {
      const c = await serverConnection(p);
      try {
        await c.query(`DROP USER IF EXISTS '${user}'@'%', '${user}'@'localhost'`);
      } finally {
        await c.end();
      }
    },
  };
}

/** One `pool_lease` row with its times in ms (database clock, UTC). */
export interface LeaseSnapshot {
  poolId: string;
  owner: string | null;
  epoch: number;
  acquiredAtMs: number | null;
  leaseUntilMs: number | null;
}

/** Read-side queries of the summary, on one small connection. */
export class DemoDb {
  readonly #conn: Connection;

  private constructor(conn: Connection) {
    this.#conn = conn;
  }

  /** Opens a connection to the run's database. */
  static async open(url: string): Promise<DemoDb> {
    const p = parseDemoDbUrl(url);
    return new DemoDb(await serverConnection(p, p.database));
  }

  /** Successful mixes per pool (`mix` table). */
  async successfulMixes(): Promise<Map<string, number>> {
    const [rows] = await this.#conn.query<RowDataPacket[]>(
      "SELECT pool_id, COUNT(*) AS n FROM mix WHERE mix_status = 'SUCCESS' GROUP BY pool_id",
    );
    return new Map(rows.map((r) => [String(r.pool_id), Number(r.n)]));
  }

  /** Failed mixes (any reason). */
  async failedMixes(): Promise<number> {
    const [rows] = await this.#conn.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM mix WHERE mix_status = 'FAIL'",
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Every lease row. */
  async leases(): Promise<LeaseSnapshot[]> {
    const [rows] = await this.#conn.query<RowDataPacket[]>(
      `SELECT pool_id, owner, epoch,
              UNIX_TIMESTAMP(acquired_at) * 1000 AS acquired_ms, UNIX_TIMESTAMP(lease_until) * 1000 AS until_ms
       FROM pool_lease ORDER BY pool_id`,
    );
    return rows.map((r) => ({
      poolId: String(r.pool_id),
      owner: r.owner == null ? null : String(r.owner),
      epoch: Number(r.epoch),
      acquiredAtMs: r.acquired_ms == null ? null : Math.round(Number(r.acquired_ms)),
      leaseUntilMs: r.until_ms == null ? null : Math.round(Number(r.until_ms)),
    }));
  }

  /** The database clock, ms. */
  async nowMs(): Promise<number> {
    const [rows] = await this.#conn.query<RowDataPacket[]>('SELECT UNIX_TIMESTAMP(NOW(3)) * 1000 AS now_ms');
    return Math.round(Number(rows[0]?.now_ms));
  }

  async close(): Promise<void> {
    await this.#conn.end().catch(() => undefined);
  }
}
