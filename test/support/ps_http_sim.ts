/**
 * Starts ps-http-sim (PlanetScale's HTTP API in front of the local MariaDB)
 * for one database on a free port. Binary: `$PS_HTTP_SIM_BIN`, else the
 * tool cache's, built with Go on first use (`#devnet/go_tools.ts`). Without
 * `-mysql-no-pass` the simulator logs in to MariaDB with the user and
 * password the client sends, so tests use the real read-only account.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { ensureGoTool, PS_HTTP_SIM_TOOL } from '#devnet/go_tools.ts';
import { freePort } from '#devnet/ports.ts';

/** A running simulator. */
export interface PsHttpSim {
  port: number;
  /** `http://user:password@127.0.0.1:port` for @planetscale/database. */
  urlFor(user: string, password: string): string;
  stop(): Promise<void>;
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

/** Starts the simulator for `database`, building it first when missing (one-sentence error when it cannot be). */
export async function startPsHttpSim(database: string): Promise<PsHttpSim> {
  const bin = await ensureGoTool(PS_HTTP_SIM_TOOL, { log: (line) => process.stderr.write(`${line}\n`) });
  const port = await freePort();
  const child = spawn(
    bin,
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
