/**
 * Runs real coordinator processes (`node coordinator/main.ts`) for cluster
 * tests and benchmarks: spawn with an environment, parse their JSON log
 * lines (and feed `pool-serve` / `pool-unserve` events to a recorder), wait
 * for a log line, and signal them (SIGTERM drain, SIGKILL, SIGSTOP/SIGCONT).
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** Wall-clock ms on the monotonic clock, comparable with the coordinators' event `atMs`. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One running coordinator process. */
export interface CoordinatorProcess {
  readonly instanceId: string;
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>>;
  output(): string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly exited: boolean;
  /** Resolves with the first log line (already seen or future) matching `pred`. */
  waitFor(
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  signal(sig: NodeJS.Signals): void;
}

/** Options of {@link spawnCoordinator}. */
export interface SpawnCoordinatorOptions {
  instanceId: string;
  env: Record<string, string>;
  /** Called with every parsed log line, in order. */
  onLine?: (line: Record<string, unknown>, raw: string) => void;
  /** Extra node flags (e.g. `--import ./test/support/skew_clock.ts`). */
  nodeArgs?: string[];
}

/** Spawns `node coordinator/main.ts` with `env` (plus PATH) and `WHIRLPOOL_INSTANCE_ID`. */
export function spawnCoordinator(opts: SpawnCoordinatorOptions): CoordinatorProcess {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), 'coordinator/main.ts'], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', ...opts.env, WHIRLPOOL_INSTANCE_ID: opts.instanceId },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let buf = '';
  let exited = false;
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout!.on('data', (d: Buffer) => {
    const text = d.toString();
    out += text;
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
    buf += text;
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const raw = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const line = JSON.parse(raw) as Record<string, unknown>;
        lines.push(line);
        opts.onLine?.(line, raw);
      } catch {
        // not a log line
      }
      i = buf.indexOf('\n');
    }
    wake();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      wake();
      resolve({ code, signal });
    }),
  );
  return {
    instanceId: opts.instanceId,
    child,
    lines,
    output: () => out,
    exit,
    get exited() {
      return exited;
    },
    async waitFor(pred, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let seen = 0;
      for (;;) {
        for (; seen < lines.length; seen++) if (pred(lines[seen]!)) return lines[seen]!;
        if (exited || Date.now() > deadline) {
          throw new Error(
            `Coordinator '${opts.instanceId}': log line not found (${exited ? 'exited' : 'timeout'}):\n${out.slice(-4000)}`,
          );
        }
        await new Promise<void>((r) => {
          const done = () => {
            waiters.delete(done);
            clearTimeout(t);
            r();
          };
          const t = setTimeout(done, 200);
          waiters.add(done);
        });
      }
    },
    signal(sig) {
      if (!exited) child.kill(sig);
    },
  };
}
