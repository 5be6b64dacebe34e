/**
 * The dashboard in a real headless Chromium (Debian `chromium` driven by
 * playwright-core) against two real coordinator processes sharing one
 * MariaDB database and one btcd: log in, see both instances and the pool
 * owners, watch a pool's owner change after a kill -9 of its owner — in the
 * pools table and in the history pictures (the ownership lane changes colour
 * at a higher epoch with a takeover mark, the killed instance's heartbeat
 * lane is marked dead) — and unban an input, without one script error.
 * Screenshots are saved under test-artifacts/.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '#coordinator/dashboard/password_hash.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { writePoolsFile } from '#devnet/pools_file.ts';
import { freePort } from '#devnet/ports.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';

const PASSWORD = 'browser-test-password';
const POOLS = ['0.01btc', '0.05btc'];
const BANNED = `${'cd'.repeat(32)}:3`;

let db: TestDatabase;
let btcd: BtcdNode;
let dir: string;
let browser: Browser;
const procs = new Map<string, { proc: CoordinatorProcess; port: number }>();

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Pool id → owner as the page shows it. */
async function ownersOnPage(page: Page): Promise<Record<string, string>> {
  return page.$$eval('#pools tbody tr', (rows) =>
    Object.fromEntries(rows.map((r) => [(r as HTMLElement).dataset.pool, (r as HTMLElement).dataset.owner])),
  );
}

beforeAll(async () => {
  [db, btcd] = await Promise.all([createTestDatabase('dashboard browser'), startBtcd({ matureBlocks: 1 })]);
  dir = await mkdtemp(join(tmpdir(), 'wp-browser-'));
  const poolsFile = await writePoolsFile(dir, POOLS);
  const hash = await hashPassword(PASSWORD, { n: 4096 });
  for (const id of ['dash-a', 'dash-b']) {
    const port = await freePort();
    const proc = spawnCoordinator({
      instanceId: id,
      env: {
        ...baseCoordinatorEnv({ dbUrl: db.url, rpcUrl: btcd.rpcUrl, poolsFile }),
        WHIRLPOOL_PORT: String(port),
        WHIRLPOOL_URL_CLEAR: `http://127.0.0.1:${port}`,
        WHIRLPOOL_LOG_LEVEL: 'info',
        WHIRLPOOL_DASHBOARD_USER: 'operator',
        WHIRLPOOL_DASHBOARD_PASSWORD_HASH: hash,
        WHIRLPOOL_HISTORY_SAMPLE_MS: '1000',
      },
    });
    procs.set(id, { proc, port });
    await proc.waitFor((l) => l.msg === 'coordinator started', 60_000);
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  await mkdir('test-artifacts', { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  for (const { proc } of procs.values()) proc.signal('SIGKILL');
  await Promise.all([...procs.values()].map(({ proc }) => proc.exit));
  await btcd?.stop();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('dashboard in Chromium', () => {
  it('logs in, shows the cluster, follows a failover and unbans an input', async () => {
    const a = procs.get('dash-a')!;
    const page = await browser.newPage();
    const scriptErrors: string[] = [];
    page.on('pageerror', (err) => scriptErrors.push(err.message));
    page.on('console', (msg) => {
      // HTTP errors the test provokes (the wrong password's 401, no favicon) are not script errors
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource'))
        scriptErrors.push(msg.text());
    });
    const base = `http://127.0.0.1:${a.port}`;

    // login required
    await page.goto(`${base}/dashboard`);
    expect(new URL(page.url()).pathname).toBe('/dashboard/login');
    await page.fill('#user', 'operator');
    await page.fill('#password', 'not-the-password');
    await page.click('#login-submit');
    expect(await page.textContent('#login-error')).toContain('Wrong user name or password');
    await page.fill('#user', 'operator');
    await page.fill('#password', PASSWORD);
    await page.click('#login-submit');
    await page.waitForURL(`${base}/dashboard`);

    // both instances, every pool owned by one of them
    await page.waitForSelector('#instances tbody tr[data-instance="dash-a"]');
    await page.waitForSelector('#instances tbody tr[data-instance="dash-b"]');
    // the first instance up holds both pools until the cluster rebalances one to
    // the second (after a few polls): wait until the page shows one pool each
    const before = await waitFor(
      'the pools spread over both instances on the page',
      async () => {
        const o = await ownersOnPage(page);
        const owners = POOLS.map((p) => o[p]);
        return owners.includes('dash-a') && owners.includes('dash-b') ? o : null;
      },
      45_000,
    );
    await page.screenshot({ path: 'test-artifacts/dashboard-before-failover.png', fullPage: true });

    // kill -9 dash-b, owner of one pool: the page served by dash-a shows dash-a taking it over
    procs.get('dash-b')!.proc.signal('SIGKILL');
    const after = await waitFor(
      'dash-a shown as owner of every pool after the kill',
      async () => {
        const o = await ownersOnPage(page);
        return POOLS.every((p) => o[p] === 'dash-a') ? o : null;
      },
      45_000,
    );
    const moved = POOLS.filter((p) => before[p] === 'dash-b');
    expect(moved.length).toBeGreaterThan(0);
    for (const p of moved) expect(after[p]).toBe('dash-a');

    // the pictures: each moved pool's lane shows dash-b, then dash-a at a higher epoch with a
    // takeover mark from dash-b; the heartbeat lane of dash-b is marked dead once its record expired
    for (const p of moved) {
      const lane = await waitFor(
        `the takeover of ${p} in the ownership chart`,
        async () => {
          const l = await page.$eval(`#chart-ownership g[data-pool="${p}"]`, (g) => ({
            segments: [...g.querySelectorAll('rect.segment')].map((r) => ({
              instance: r.getAttribute('data-instance'),
              epoch: Number(r.getAttribute('data-epoch')),
            })),
            takeovers: [...g.querySelectorAll('path.takeover')].map((t) => ({
              from: t.getAttribute('data-from'),
              to: t.getAttribute('data-to'),
              epoch: Number(t.getAttribute('data-epoch')),
            })),
          }));
          return l.takeovers.some((t) => t.from === 'dash-b' && t.to === 'dash-a') ? l : null;
        },
        30_000,
      );
      const bEpoch = Math.max(...lane.segments.filter((s) => s.instance === 'dash-b').map((s) => s.epoch));
      const taken = lane.takeovers.find((t) => t.from === 'dash-b' && t.to === 'dash-a')!;
      expect(taken.epoch).toBeGreaterThan(bEpoch);
      const last = lane.segments[lane.segments.length - 1]!;
      expect(last).toEqual({ instance: 'dash-a', epoch: taken.epoch });
    }
    await page.waitForSelector('#chart-heartbeats g[data-instance="dash-b"][data-liveness="dead"]', {
      timeout: 30_000,
    });
    expect(await page.getAttribute('#chart-heartbeats g[data-instance="dash-a"]', 'data-liveness')).toBe(
      'live',
    );
    expect(await page.textContent('#chart-heartbeats g[data-instance="dash-b"] .label')).toContain('dead');
    await page.screenshot({ path: 'test-artifacts/dashboard-history.png', fullPage: true });

    // unban: a ban written by the store appears, the button ends it in the database
    const pool = createDbPool(db.url);
    try {
      const store = new MySqlMixStore(pool);
      await store.addBan(BANNED, { expirationSeconds: 3600, notes: 'browser test ban' });
      const row = `#bans tbody tr[data-identifier="${BANNED}"]`;
      await page.waitForSelector(row, { timeout: 15_000 });
      await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true });
      await page.click(`${row} button.unban`);
      await page.waitForSelector(row, { state: 'detached', timeout: 15_000 });
      expect(await store.isBanned([BANNED])).toBeNull();
    } finally {
      await pool.end();
    }
    expect(scriptErrors).toEqual([]);
    await page.close();
  });
});
