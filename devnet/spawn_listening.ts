/**
 * Spawns a server process and waits for the line announcing its URL
 * (`... listening on http://host:port`); used to run the bootstrap entry
 * points under their real runtimes (Node, Deno) from tests and benchmarks.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** A running child with the URL it announced. */
export interface ListeningProcess {
  url: string;
  child: ChildProcess;
  /** Everything the child wrote so far (stdout + stderr), for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after 3 s; resolves when the child exited. */
  stop(): Promise<void>;
}

/** Starts `command args` with `env` added to the current environment and waits (up to `timeoutMs`) for its URL. */
export function spawnListening(
  command: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<ListeningProcess> {
  const child = spawn(command, args, {
    cwd: opts.cwd ?? process.cwd(),
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `'${command} ${args.join(' ')}' did not announce a URL within ${opts.timeoutMs ?? 30_000} ms:\n${out}`,
        ),
      );
    }, opts.timeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          child,
          output: () => out,
          async stop() {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.kill('SIGTERM');
            const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
            await exited;
            clearTimeout(kill);
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`'${command} ${args.join(' ')}' exited (${code ?? signal}) before listening:\n${out}`),
      );
    });
  });
}
