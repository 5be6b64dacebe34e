/**
 * A private MariaDB server for one test suite, so the suite can really stop,
 * kill -9 and restart the database without touching the shared server on
 * 127.0.0.1:3306 that other suites use at the same time. Same MariaDB
 * binaries as the shared server (`mariadb-install-db`, `mariadbd`), its own
 * data directory (deleted by `destroy()`), a free port on 127.0.0.1, root
 * without password, small buffers. A restart keeps the data directory, so
 * InnoDB recovers what was committed, as a production restart does.
 *
 * @module
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '#devnet/ports.ts';
import { connectTestDb } from './db.ts';

const run = promisify(execFile);

/** `mariadbd` binary (Debian: /usr/sbin/mariadbd). */
const MARIADBD = process.env.MARIADBD_BIN ?? '/usr/sbin/mariadbd';
/** `mariadb-install-db` binary. */
const INSTALL_DB = process.env.MARIADB_INSTALL_DB_BIN ?? 'mariadb-install-db';

/** One running (or stopped) private server. */
export interface MariaDbServer {
  /** `mysql://root@127.0.0.1:<port>` (no database). */
  readonly serverUrl: string;
  readonly port: number;
  /** pid of the running `mariadbd`, or null when stopped. */
  readonly pid: number | null;
  /** Starts `mariadbd` on the same data directory and port; resolves once it answers a query. */
  start(): Promise<void>;
  /** Graceful shutdown (SIGTERM); resolves when the process exited. */
  stop(): Promise<void>;
  /** kill -9; resolves when the process exited. */
  kill(): Promise<void>;
  /** Kills the server and deletes its data directory. */
  destroy(): Promise<void>;
}

/** Creates a data directory (about 2 s) and starts a server on a free port. */
export async function startMariaDbServer(): Promise<MariaDbServer> {
  const dir = await mkdtemp(join(tmpdir(), 'wp-mariadb-'));
  const datadir = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await chown(dir, ...(await mysqlIds()));
  const user = asRoot ? ['--user=mysql'] : [];
  try {
    await run(INSTALL_DB, [
      '--no-defaults',
      ...user,
      `--datadir=${datadir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ]);
  } catch (err) {
    throw new Error(`mariadb-install-db failed for ${datadir}`, { cause: err });
  }
  const port = await freePort();
  const serverUrl = `mysql://root@127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let log = '';

  async function start(): Promise<void> {
    if (child) throw new Error(`MariaDB on port ${port} is already running`);
    const c = spawn(
      MARIADBD,
      [
        '--no-defaults',
        ...user,
        `--datadir=${datadir}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'mysqld.sock')}`,
        `--pid-file=${join(dir, 'mysqld.pid')}`,
        '--skip-log-bin',
        '--innodb-buffer-pool-size=32M',
        '--max-connections=300',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = c;
    c.stderr!.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-8000);
    });
    exited = new Promise((resolve) =>
      c.once('exit', () => {
        if (child === c) child = null;
        resolve();
      }),
    );
    const until = Date.now() + 30_000;
    for (;;) {
      try {
        const conn = await connectTestDb(serverUrl);
        await conn.query('SELECT 1');
        await conn.end();
        return;
      } catch (err) {
        if (child !== c || Date.now() > until)
          throw new Error(`Private MariaDB on port ${port} did not start:\n${log}`, { cause: err });
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async function signal(sig: NodeJS.Signals): Promise<void> {
    const c = child;
    if (!c) return;
    c.kill(sig);
    await exited;
  }

  await start();
  return {
    serverUrl,
    port,
    get pid() {
      return child?.pid ?? null;
    },
    start,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async destroy() {
      await signal('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** uid and gid of the `mysql` user (the server refuses to run as root). */
async function mysqlIds(): Promise<[number, number]> {
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    run('id', ['-u', 'mysql']),
    run('id', ['-g', 'mysql']),
  ]);
  return [Number(uid.trim()), Number(gid.trim())];
}
