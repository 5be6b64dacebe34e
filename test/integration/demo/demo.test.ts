/**
 * `npm run demo` end to end, as a child process (`node client/demo/main.ts`)
 * on its own database: a shortened quick run must reach its summary with at
 * least one successful mix, a kill -9 of a pool owner and a takeover of
 * every pool that instance held by another instance; the dashboard URL it
 * printed at start (and repeats in its status lines) still answers the login
 * page after the kill, and the dashboard lists the killed instance as dead;
 * afterwards no process it
 * started (coordinators, bootstrap node, btcd) may be left and its database
 * is dropped. A second run is interrupted with SIGINT during start-up and
 * must stop everything as well.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { connectTestDb, TEST_DB_URL } from '#test/support/db.ts';

interface DemoRun {
  child: ChildProcess;
  output(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
}

const runs: DemoRun[] = [];
const runDirs: string[] = [];

function dbUrlFor(name: string): string {
  return `${TEST_DB_URL.replace(/\/+$/, '')}/${name}`;
}

function startDemo(args: string[]): DemoRun {
  const child = spawn(process.execPath, ['client/demo/main.ts', ...args], {
    cwd: process.cwd(),
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const run: DemoRun = {
    child,
    output: () => out,
    exit,
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline)
          throw new Error(`Demo output has no ${re}:\n${out.slice(-6000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
  runs.push(run);
  return run;
}

/** PIDs of live processes whose environment or command line contains `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    for (const file of ['environ', 'cmdline']) {
      try {
        if (readFileSync(`/proc/${entry}/${file}`).includes(marker)) {
          found.push(Number(entry));
          break;
        }
      } catch {
        // gone, or not ours
      }
    }
  }
  return found;
}

/** Logs in to the dashboard and returns the session cookie. */
async function loginCookie(dashboardUrl: string, password: string): Promise<string> {
  const r = await fetch(`${dashboardUrl}/login`, {
    method: 'POST',
    body: new URLSearchParams({ user: 'demo', password }),
    redirect: 'manual',
  });
  const cookie = r.headers.get('set-cookie');
  if (!cookie) throw new Error(`dashboard login failed: ${r.status} ${await r.text()}`);
  return cookie.split(';')[0]!;
}

/** Calls `check` until it returns true (every 500 ms, up to `timeoutMs`). */
async function pollUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const conn = await connectTestDb(TEST_DB_URL);
  try {
    const [rows] = await conn.query<RowDataPacket[]>('SHOW DATABASES LIKE ?', [name]);
    return rows.length > 0;
  } finally {
    await conn.end();
  }
}

/** Markers of what a run started: its run directory (children's env) and btcd's data directory. */
function markersOf(output: string): string[] {
  const runDir = /run directory (\/\S+)/.exec(output)?.[1];
  const btcdDir = /btcd: RPC \S+, data dir (\/\S+)/.exec(output)?.[1];
  if (runDir) runDirs.push(runDir);
  return [runDir, btcdDir].filter((x): x is string => x !== undefined);
}

afterAll(async () => {
  for (const r of runs) {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGINT');
      const t = setTimeout(() => r.child.kill('SIGKILL'), 30_000);
      await r.exit;
      clearTimeout(t);
    }
  }
  await Promise.all(runDirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('npm run demo', () => {
  it('runs a cluster, mixes, survives a kill -9 with a takeover, and leaves nothing behind', {
    timeout: 300_000,
  }, async () => {
    const dbName = `wpt_demo_${process.pid}_${randomBytes(3).toString('hex')}`;
    const run = startDemo(['--duration', '80', '--wallets', '6', '--quick', '--db-url', dbUrlFor(dbName)]);
    const started = await run.waitFor(
      /coordinators started; dashboard (http:\/\/127\.0\.0\.1:\d+\/dashboard) \(user demo, password (\S+)\) on (demo-[a-c]),/,
      150_000,
    );
    const [, dashboardUrl, password, dashboardInstance] = started as unknown as [
      string,
      string,
      string,
      string,
    ];
    const kill = await run.waitFor(/\*\*\* kill -9 (demo-[a-c]) \(pid \d+\)/, 200_000);
    expect(kill[1]).not.toBe(dashboardInstance);
    const login = await fetch(`${dashboardUrl}/login`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('id="login-form"');
    // the killed instance shows as dead once its heartbeat is older than the lease TTL
    const cookie = await loginCookie(dashboardUrl, password);
    await pollUntil(async () => {
      const r = await fetch(`${dashboardUrl}/api/state`, { headers: { cookie, accept: 'application/json' } });
      const v = (await r.json()) as { instances: Array<{ id: string; status: string }> };
      return v.instances.find((i) => i.id === kill[1])?.status === 'dead (heartbeat expired)';
    }, 30_000);
    const exit = await Promise.race([
      run.exit,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`demo did not end:\n${run.output().slice(-6000)}`)), 270_000),
      ),
    ]);
    const out = run.output();
    expect(exit, out.slice(-6000)).toEqual({ code: 0, signal: null });
    const json = /DEMO_SUMMARY (\{.*\})/.exec(out)?.[1];
    expect(json, out.slice(-6000)).toBeDefined();
    const summary = JSON.parse(json!) as {
      mixes: number;
      killed: { id: string; pools: string[] } | null;
      takeovers: Array<{
        poolId: string;
        fromInstance: string;
        toInstance: string;
        acquiredAfterKillMs: number;
      }>;
      missingTakeovers: string[];
    };
    expect(summary.mixes, out.slice(-6000)).toBeGreaterThanOrEqual(1);
    expect(out).toMatch(/\*\*\* kill -9 demo-[a-c] \(pid \d+\)/);
    expect(summary.killed).not.toBeNull();
    expect(summary.killed!.pools.length).toBeGreaterThanOrEqual(1);
    expect(summary.missingTakeovers).toEqual([]);
    expect(summary.takeovers.map((t) => t.poolId).sort()).toEqual([...summary.killed!.pools].sort());
    for (const t of summary.takeovers) {
      expect(t.fromInstance).toBe(summary.killed!.id);
      expect(t.toInstance).not.toBe(summary.killed!.id);
      // lease TTL 4 s + poll 1 s, with slack for a loaded machine
      expect(t.acquiredAfterKillMs).toBeLessThan(15_000);
    }
    expect(out).toContain(`dashboard: ${dashboardUrl} (user demo, password ${password};`);
    expect(out).toMatch(/\| dashboard http:\/\/127\.0\.0\.1:\d+\/dashboard \(user demo, password \S+\)\n/);

    const markers = markersOf(out);
    expect(markers).toHaveLength(2);
    for (const m of markers) expect(processesWith(m), `processes left with ${m}`).toEqual([]);
    expect(await databaseExists(dbName)).toBe(false);
  });

  it('stops everything it started on SIGINT', { timeout: 180_000 }, async () => {
    const dbName = `wpt_demo_${process.pid}_${randomBytes(3).toString('hex')}`;
    const run = startDemo(['--duration', '600', '--wallets', '3', '--quick', '--db-url', dbUrlFor(dbName)]);
    await run.waitFor(/coordinator demo-c: /, 120_000);
    const markers = markersOf(run.output());
    expect(markers).toHaveLength(2);
    run.child.kill('SIGINT');
    const exit = await Promise.race([
      run.exit,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`demo ignored SIGINT:\n${run.output().slice(-4000)}`)), 60_000),
      ),
    ]);
    expect(exit.code, run.output().slice(-4000)).toBe(130);
    for (const m of markers) expect(processesWith(m), `processes left with ${m}`).toEqual([]);
    expect(await databaseExists(dbName)).toBe(false);
  });
});
