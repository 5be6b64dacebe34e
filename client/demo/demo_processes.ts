/**
 * Child processes of a demo run: coordinator instances (`node
 * coordinator/main.ts`), the bootstrap node (`node bootstrap/node.ts`) and the
 * dashboard password hasher. Each long-running child writes its output to its
 * own log file in the run directory; the demo only scans the lines it needs
 * (the coordinator's `coordinator started`, the bootstrap's `listening on`).
 * Every child is registered in a {@link ProcessGroup} so that Ctrl-C, an
 * error or the end of the run stops all of them (SIGTERM, SIGKILL after a
 * grace period), and a last-resort `exit` hook SIGKILLs any survivor.
 *
 * The demo never imports coordinator code: the coordinators are real
 * processes, exactly as an operator runs them.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (the demo runs the entry points found there). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A long-running child of the demo. */
export interface DemoChild {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves when the process exited (code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the process exited. */
  isRunning(): boolean;
  /** Resolves with the first output line matching `re` (already seen or future); rejects on exit or timeout. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Last lines of output (for error messages). */
  tail(lines?: number): string;
}

/** Every child of the run; stops them all once. */
export class ProcessGroup {
  readonly #children: DemoChild[] = [];
  readonly #runDir: string;

  constructor(runDir: string) {
    this.#runDir = runDir;
    process.once('exit', () => {
      for (const c of this.#children) if (c.isRunning()) c.child.kill('SIGKILL');
    });
  }

  /** The children started so far. */
  get children(): readonly DemoChild[] {
    return this.#children;
  }

  /**
   * Starts `node <script>` from the repository root with `env` (plus PATH and
   * `WHIRLPOOL_DEMO_RUN=<runDir>`, a marker to find leftovers), output to
   * `<runDir>/<name>.log`.
   */
  spawnNode(name: string, script: string, env: Record<string, string>): DemoChild {
    const logPath = join(this.#runDir, `${name}.log`);
    const log = createWriteStream(logPath, { flags: 'a' });
    const child = spawn(process.execPath, [script], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env, WHIRLPOOL_DEMO_RUN: this.#runDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const demoChild = wrapChild(name, child, logPath, log);
    this.#children.push(demoChild);
    return demoChild;
  }

  /**
   * Stops every running child: SIGTERM (a coordinator drains: finishes or
   * fails its mix, releases its leases), then SIGKILL after `graceMs`.
   */
  async stopAll(graceMs: number): Promise<void> {
    const running = this.#children.filter((c) => c.isRunning());
    for (const c of running) c.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const c of running) if (c.isRunning()) c.child.kill('SIGKILL');
    }, graceMs);
    await Promise.all(running.map((c) => c.exited));
    clearTimeout(timer);
  }

  /** SIGKILLs every running child at once (second Ctrl-C) and waits for them. */
  async killAll(): Promise<void> {
    const running = this.#children.filter((c) => c.isRunning());
    for (const c of running) c.child.kill('SIGKILL');
    await Promise.all(running.map((c) => c.exited));
  }
}

function wrapChild(name: string, child: ChildProcess, logPath: string, log: WriteStream): DemoChild {
  if (child.pid === undefined) throw new Error(`Could not start the '${name}' process`);
  let running = true;
  let recent: string[] = [];
  let partial = '';
  const waiters = new Set<(line: string | null) => void>();
  const onChunk = (chunk: Buffer) => {
    log.write(chunk);
    partial += chunk.toString('utf8');
    let i = partial.indexOf('\n');
    while (i >= 0) {
      const line = partial.slice(0, i);
      partial = partial.slice(i + 1);
      recent.push(line);
      if (recent.length > 400) recent = recent.slice(-200);
      for (const w of [...waiters]) w(line);
      i = partial.indexOf('\n');
    }
  };
  child.stdout?.on('data', onChunk);
  child.stderr?.on('data', onChunk);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      for (const w of [...waiters]) w(null);
      log.end();
      resolve({ code, signal });
    });
  });
  const tail = (lines = 15) => recent.slice(-lines).join('\n');
  return {
    name,
    child,
    pid: child.pid,
    logPath,
    exited,
    isRunning: () => running,
    tail,
    waitForLine(re, timeoutMs) {
      for (const l of recent) {
        const m = re.exec(l);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`'${name}' printed no line matching ${re} within ${timeoutMs} ms:\n${tail()}`));
        }, timeoutMs);
        function check(line: string | null): void {
          if (line === null) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`'${name}' exited before printing a line matching ${re}:\n${tail()}`));
            return;
          }
          const m = re.exec(line);
          if (m) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(m);
          }
        }
        if (!running) check(null);
        else waiters.add(check);
      });
    },
  };
}

/** Hashes the dashboard password with the coordinator's own tool (`node coordinator/dashboard/hash_password_cli.ts`, password on stdin). */
export function hashDashboardPassword(password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['coordinator/dashboard/hash_password_cli.ts'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const hash = out.trim();
      if (code === 0 && hash) resolve(hash);
      else reject(new Error(`Dashboard password hashing failed (exit ${code}): ${err.trim()}`));
    });
    child.stdin.end(`${password}\n`);
  });
}
