/**
 * A private MariaDB Galera cluster on 127.0.0.1 for one test file or a
 * benchmark (a TypeScript port of ../shared/galera/galera-cluster.sh, in the
 * style of mariadb_server.ts): N nodes (default 3), each with its own data
 * directory under one temporary folder (deleted by `destroy()`), its own
 * `my.cnf`, free ports for SQL, group communication, IST and rsync SST. Node 1
 * bootstraps the cluster (`--wsrep-new-cluster`), the others join by SST;
 * start resolves once every node reports `Synced`.
 *
 * Fault handles: `kill` (kill -9), `pause` / `resume` (SIGSTOP / SIGCONT),
 * `isolate` / `rejoin` (`gmcast.isolate`, the node turns non-Primary and
 * refuses reads and writes with 1047), `restart` (optionally under
 * libfaketime with a clock offset: the node's `NOW()` is skewed, its
 * monotonic clock untouched). Every wait is bounded.
 *
 * Needs the Debian packages mariadb-server (mariadbd, mariadb-install-db,
 * wsrep_sst_rsync), galera-4 and rsync; `faketime` only for a clock offset
 * ({@link requireFaketime} installs it when it can).
 *
 * @module
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectTestDb } from './db.ts';
import { freePorts } from './ports.ts';

const run = promisify(execFile);
const MARIADBD = process.env.MARIADBD_BIN ?? '/usr/sbin/mariadbd';
const INSTALL_DB = process.env.MARIADB_INSTALL_DB_BIN ?? 'mariadb-install-db';
const PROVIDER = process.env.GALERA_PROVIDER ?? '/usr/lib/galera/libgalera_smm.so';
/** libfaketime's multi-threaded preload library (Debian package `libfaketime`). */
export const FAKETIME_LIB =
  process.env.FAKETIME_LIB ?? '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

/** Options of {@link startGaleraCluster}. */
export interface GaleraClusterOptions {
  /** Number of nodes (default 3). */
  nodes?: number;
  /** Appended to `wsrep_provider_options` (e.g. `evs.suspect_timeout=PT3S`). */
  extraProviderOptions?: string;
}

/** A running cluster. Node indexes are 0-based. */
export interface GaleraCluster {
  /** `mysql://root@127.0.0.1:<port>` of each node (no database). */
  readonly urls: readonly string[];
  /** pid of node `i`'s `mariadbd`, or null when down. */
  pid(i: number): number | null;
  /** kill -9 of node `i`; resolves when it exited. */
  kill(i: number): Promise<void>;
  /** SIGSTOP of node `i`. */
  pause(i: number): void;
  /** SIGCONT of node `i`. */
  resume(i: number): void;
  /** Cuts node `i` off the group until it reports non-Primary (re-issued while it does not take). */
  isolate(i: number): Promise<void>;
  /** Undoes {@link isolate} and waits until node `i` is Synced again. */
  rejoin(i: number): Promise<void>;
  /** (Re)starts node `i` (stopping it first if needed), optionally with a clock offset like `+2s`; waits until Synced. */
  restart(i: number, opts?: { faketime?: string }): Promise<void>;
  /** One SQL query on node `i` (a fresh connection), rows as objects. */
  query(i: number, sql: string): Promise<Record<string, unknown>[]>;
  /** Kills every node and deletes the folder. */
  destroy(): Promise<void>;
}

/** Throws one sentence naming what is missing when Galera cannot run here. */
export function requireGalera(): void {
  for (const [what, path] of [
    ['mariadbd (Debian mariadb-server)', MARIADBD],
    ['the Galera provider (Debian galera-4)', PROVIDER],
  ] as const) {
    if (!existsSync(path))
      throw new Error(
        `Galera tests need ${what} at ${path}: apt-get install -y galera-4 mariadb-server rsync.`,
      );
  }
}

/**
 * Makes sure libfaketime is there, installing the Debian packages
 * `faketime libfaketime` when running as root with apt-get; otherwise throws
 * one sentence saying how to install it.
 */
export async function requireFaketime(): Promise<void> {
  if (existsSync(FAKETIME_LIB)) return;
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    await run('apt-get', ['install', '-y', 'faketime', 'libfaketime'], { timeout: 180_000 }).catch(
      () => undefined,
    );
  }
  if (!existsSync(FAKETIME_LIB))
    throw new Error(
      `Clock-offset tests need libfaketime (${FAKETIME_LIB}): apt-get install -y faketime libfaketime.`,
    );
}

interface NodeState {
  dir: string;
  sqlPort: number;
  gcommPort: number;
  istPort: number;
  sstPort: number;
  child: ChildProcess | null;
  exited: Promise<void>;
  log: string;
}

/** Starts an N-node cluster (about 10–15 s for 3 nodes on a 2-core machine). */
export async function startGaleraCluster(opts: GaleraClusterOptions = {}): Promise<GaleraCluster> {
  requireGalera();
  const n = opts.nodes ?? 3;
  const base = await mkdtemp(join(tmpdir(), 'wp-galera-'));
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? await mysqlIds() : null;
  // the nodes run as `mysql`: the folder must let it through (mkdtemp makes 0700 folders)
  await chmod(base, 0o755);
  if (ids) await chown(base, ...ids);
  const ports = await freePorts(4 * n);
  const nodes: NodeState[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push({
      dir: join(base, `node${i + 1}`),
      sqlPort: ports[4 * i]!,
      gcommPort: ports[4 * i + 1]!,
      istPort: ports[4 * i + 2]!,
      sstPort: ports[4 * i + 3]!,
      child: null,
      exited: Promise.resolve(),
      log: '',
    });
  }
  const gcomm = nodes.map((x) => `127.0.0.1:${x.gcommPort}`).join(',');
  const user = asRoot ? ['--user=mysql'] : [];
  const cnf = (x: NodeState, i: number) => `[mysqld]
datadir=${x.dir}/data
port=${x.sqlPort}
bind-address=127.0.0.1
socket=${x.dir}/mysqld.sock
pid-file=${x.dir}/mysqld.pid
log-error=${x.dir}/error.log
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
max_connections=300
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_flush_log_at_trx_commit=2
skip-log-bin
wsrep_on=ON
wsrep_provider=${PROVIDER}
wsrep_cluster_name=wp_${nodes[0]!.sqlPort}
wsrep_cluster_address=gcomm://${gcomm}
wsrep_node_name=node${i + 1}
wsrep_node_address=127.0.0.1:${x.gcommPort}
wsrep_node_incoming_address=127.0.0.1:${x.sqlPort}
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:${x.sstPort}
wsrep_provider_options="base_host=127.0.0.1;base_port=${x.gcommPort};ist.recv_addr=127.0.0.1:${x.istPort};gcache.size=32M${opts.extraProviderOptions ? `;${opts.extraProviderOptions}` : ''}"
wsrep_slave_threads=2
[sst]
sst-syslog=-1
`;
  await Promise.all(
    nodes.map(async (x, i) => {
      await mkdir(x.dir, { recursive: true });
      try {
        await run(INSTALL_DB, [
          '--no-defaults',
          ...user,
          `--datadir=${x.dir}/data`,
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
        ]);
      } catch (err) {
        throw new Error(`mariadb-install-db failed for Galera node ${i + 1} in ${x.dir}`, { cause: err });
      }
      await writeFile(join(x.dir, 'my.cnf'), cnf(x, i));
      if (ids) await run('chown', ['-R', `${ids[0]}:${ids[1]}`, x.dir]);
    }),
  );

  const urlOf = (i: number) => `mysql://root@127.0.0.1:${nodes[i]!.sqlPort}`;

  async function query(i: number, sql: string): Promise<Record<string, unknown>[]> {
    const conn = await connectTestDb(urlOf(i));
    try {
      const [rows] = await conn.query({ sql, timeout: 5000 });
      return rows as Record<string, unknown>[];
    } finally {
      await conn.end().catch(() => undefined);
    }
  }

  async function status(i: number, name: string): Promise<string | null> {
    const rows = await query(i, `SHOW STATUS LIKE '${name}'`).catch(() => null);
    return rows?.[0] ? String(rows[0].Value) : null;
  }

  async function waitFor(what: string, i: number, cond: () => Promise<boolean>, timeoutMs: number) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (await cond()) return;
      const x = nodes[i]!;
      if (Date.now() > until)
        throw new Error(`Galera node ${i + 1}: ${what} not reached after ${timeoutMs} ms:\n${errorLog(x)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function startNode(i: number, extra: string[], faketime?: string): Promise<void> {
    const x = nodes[i]!;
    if (x.child) throw new Error(`Galera node ${i + 1} is already running`);
    const env = { ...process.env };
    if (faketime) {
      await requireFaketime();
      Object.assign(env, {
        LD_PRELOAD: FAKETIME_LIB,
        FAKETIME: faketime,
        FAKETIME_DONT_FAKE_MONOTONIC: '1',
        FAKETIME_NO_CACHE: '1',
      });
    }
    const c = spawn(MARIADBD, [`--defaults-file=${x.dir}/my.cnf`, ...user, ...extra], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
    });
    x.child = c;
    x.log = '';
    c.stderr!.on('data', (d: Buffer) => {
      x.log = (x.log + d.toString()).slice(-8000);
    });
    x.exited = new Promise((resolve) =>
      c.once('exit', () => {
        if (x.child === c) x.child = null;
        resolve();
      }),
    );
    await waitFor(
      'Synced',
      i,
      async () => {
        if (x.child !== c) throw new Error(`Galera node ${i + 1} exited during start:\n${errorLog(x)}`);
        return (await status(i, 'wsrep_local_state_comment')) === 'Synced';
      },
      90_000,
    );
  }

  async function signal(i: number, sig: NodeJS.Signals): Promise<void> {
    const x = nodes[i]!;
    const c = x.child;
    if (!c) return;
    c.kill('SIGCONT');
    c.kill(sig);
    await x.exited;
    // a killed joiner can leave its rsync daemon behind; it exits once its parent is gone
  }

  const cluster: GaleraCluster = {
    urls: nodes.map((_, i) => urlOf(i)),
    pid: (i) => nodes[i]!.child?.pid ?? null,
    kill: (i) => signal(i, 'SIGKILL'),
    pause(i) {
      nodes[i]!.child?.kill('SIGSTOP');
    },
    resume(i) {
      nodes[i]!.child?.kill('SIGCONT');
    },
    async isolate(i) {
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        await query(i, "SET GLOBAL wsrep_provider_options='gmcast.isolate=1'");
        for (let k = 0; k < 10; k++) {
          if ((await status(i, 'wsrep_cluster_status')) === 'non-Primary') return;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      throw new Error(`Galera node ${i + 1} still in the primary component after 30 s of isolate`);
    },
    async rejoin(i) {
      await query(i, "SET GLOBAL wsrep_provider_options='gmcast.isolate=0'");
      await waitFor(
        'Synced after rejoin',
        i,
        async () => (await status(i, 'wsrep_local_state_comment')) === 'Synced',
        60_000,
      );
    },
    async restart(i, o = {}) {
      await signal(i, 'SIGTERM');
      await startNode(i, [], o.faketime);
    },
    query,
    async destroy() {
      for (let i = 0; i < n; i++) await signal(i, 'SIGKILL');
      await rm(base, { recursive: true, force: true });
    },
  };

  try {
    await startNode(0, ['--wsrep-new-cluster']);
    for (let i = 1; i < n; i++) await startNode(i, []);
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return cluster;
}

/** The tail of a node's error log (and stderr), for failure messages. */
function errorLog(x: NodeState): string {
  let file = '';
  try {
    file = readFileSync(join(x.dir, 'error.log'), 'utf8').slice(-3000);
  } catch {
    // no log yet
  }
  return `${file}${x.log.slice(-1000)}`;
}

/** uid and gid of the `mysql` user (the server refuses to run as root). */
async function mysqlIds(): Promise<[number, number]> {
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    run('id', ['-u', 'mysql']),
    run('id', ['-g', 'mysql']),
  ]);
  return [Number(uid.trim()), Number(gid.trim())];
}
