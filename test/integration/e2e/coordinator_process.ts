/**
 * Test helper: runs the real coordinator (`node coordinator/main.ts`) as a
 * child process with the given environment and waits until it serves.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** A running coordinator process. */
export interface Coordinator {
  child: ChildProcess;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** Spawns `node coordinator/main.ts` and waits for "coordinator started". */
export async function startCoordinator(env: Record<string, string>): Promise<Coordinator> {
  const child = spawn(process.execPath, ['coordinator/main.ts'], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let port: number | null = null;
  let started = false;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coordinator did not start:\n${out}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of d.toString().split('\n')) {
        try {
          const l = JSON.parse(line) as { msg?: string; port?: number };
          if (l.msg === 'HTTP server listening' && typeof l.port === 'number') port = l.port;
          if (l.msg === 'coordinator started') started = true;
        } catch {
          // partial or non-JSON line
        }
      }
      if (started && port !== null) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`coordinator exited with ${code}:\n${out}`));
    });
  });
  await ready;
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
