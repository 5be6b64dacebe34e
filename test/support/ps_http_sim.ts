/**
 * Starts ps-http-sim (PlanetScale's HTTP API in front of the local MariaDB)
 * for one database on a free port. Binary: `$PS_HTTP_SIM_BIN`, else
 * `.cache/go-bin/ps-http-sim` (installed by .ci/run). Without
 * `-mysql-no-pass` the simulator logs in to MariaDB with the user and
 * password the client sends, so tests use the real read-only account.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** Path of the ps-http-sim binary. */
export const PS_HTTP_SIM_BIN: string = process.env.PS_HTTP_SIM_BIN ?? '.cache/go-bin/ps-http-sim';

/** A running simulator. */
export interface PsHttpSim {
  port: number;
  /** `http://user:password@127.0.0.1:port` for @planetscale/database. */
  urlFor(user: string, password: string): string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPort(
  port: number,
  child: ChildProcess,
  log: () => string,
  timeoutMs: number,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ps-http-sim exited (${child.exitCode}):\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until)
      throw new Error(`ps-http-sim did not listen on ${port} within ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the simulator for `database`; throws with a clear message when the binary is missing. */
export async function startPsHttpSim(database: string): Promise<PsHttpSim> {
  if (!existsSync(PS_HTTP_SIM_BIN)) {
    throw new Error(`ps-http-sim not found at '${PS_HTTP_SIM_BIN}' (run .ci/run or set PS_HTTP_SIM_BIN)`);
  }
  const port = await freePort();
  const child = spawn(
    PS_HTTP_SIM_BIN,
    [
      '-listen-addr',
      '127.0.0.1',
      '-listen-port',
      String(port),
      '-mysql-dbname',
      database,
      '-log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await waitForPort(port, child, () => out, 15_000);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    port,
    urlFor(user, password) {
      return `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
