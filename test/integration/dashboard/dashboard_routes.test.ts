/**
 * The dashboard routes on the real MariaDB: login required everywhere, wrong
 * passwords refused and throttled, the state JSON shows the instances, pool
 * owners and bans written by the cluster and store repositories, each pool's
 * must-mix and liquidity queue sizes as its owner published them (JSON, and
 * the table the page script renders from it, run here against a minimal
 * DOM), and unban needs the session's CSRF token and really ends the ban.
 */
import { runInNewContext } from 'node:vm';
import type { Hono } from 'hono';
import { Hono as HonoApp } from 'hono';
import type { Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceRegistry } from '#coordinator/cluster/instance_registry.ts';
import { LeaseStore } from '#coordinator/cluster/lease_store.ts';
import { DASHBOARD_JS } from '#coordinator/dashboard/dashboard_page.ts';
import { mountDashboard } from '#coordinator/dashboard/mount_dashboard.ts';
import { hashPassword } from '#coordinator/dashboard/password_hash.ts';
import { silentLogger } from '#coordinator/log.ts';
import type { PoolSnapshot } from '#coordinator/mix/mix_engine.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { PoolStatusStore } from '#coordinator/store/pool_status_store.ts';
import { testPool } from '#test/integration/mix/mix_harness.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';

const PASSWORD = 'dashboard-test-password';
const TXID = 'ab'.repeat(32);

let tdb: TestDatabase;
let db: Pool;
let app: Hono;

/** A fresh app with the dashboard mounted on the suite's database (pools pool-a and pool-b, instance inst-1). */
async function dashboardApp(): Promise<Hono> {
  const a = new HonoApp();
  mountDashboard(a, {
    db,
    pools: [testPool({ id: 'pool-a' }), testPool({ id: 'pool-b' })],
    instanceId: 'inst-1',
    logger: silentLogger(),
    env: {
      WHIRLPOOL_DASHBOARD_USER: 'operator',
      WHIRLPOOL_DASHBOARD_PASSWORD_HASH: await hashPassword(PASSWORD, { n: 1024 }),
    },
  });
  return a;
}

function cookieOf(res: Response): string {
  const set = res.headers.get('set-cookie') ?? '';
  return set.split(';')[0] ?? '';
}

async function login(password = PASSWORD): Promise<Response> {
  return app.request('/dashboard/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ user: 'operator', password }).toString(),
  });
}

/** The smallest DOM the page script uses: elements with children, dataset and textContent. */
class FakeElement {
  children: FakeElement[] = [];
  dataset: Record<string, string> = {};
  textContent = '';
  disabled = false;
  type = '';
  className = '';
  readonly tagName: string;
  constructor(tagName: string) {
    this.tagName = tagName;
  }
  append(...nodes: FakeElement[]): void {
    this.children.push(...nodes);
  }
  replaceChildren(...nodes: FakeElement[]): void {
    this.children = nodes;
  }
  addEventListener(): void {}
}

/**
 * Runs the page script (`/dashboard/assets/app.js` as served) against a fake
 * DOM whose `fetch` goes to the app with the session cookie, and returns the
 * pools table: header texts (parsed from the page HTML) and one row per pool
 * (cell texts by header).
 */
async function renderPools(cookie: string): Promise<Map<string, Record<string, string>>> {
  const html = await (await app.request('/dashboard', { headers: { cookie } })).text();
  const thead = /<table id="pools"><thead><tr>(.*?)<\/tr><\/thead>/.exec(html)?.[1] ?? '';
  const headers = [...thead.matchAll(/<th>(.*?)<\/th>/g)].map((m) => m[1]!);
  const script = await (await app.request('/dashboard/assets/app.js')).text();
  expect(script).toBe(DASHBOARD_JS);
  const tbodies = new Map<string, FakeElement>();
  const byId = new Map<string, FakeElement>();
  const document = {
    querySelector(sel: string) {
      if (sel === 'meta[name="csrf-token"]') return { content: 'csrf' };
      const m = /^#(\w[\w-]*) tbody$/.exec(sel);
      if (!m) throw new Error(`unexpected selector ${sel}`);
      if (!tbodies.has(m[1]!)) tbodies.set(m[1]!, new FakeElement('tbody'));
      return tbodies.get(m[1]!);
    },
    getElementById(id: string) {
      if (!byId.has(id)) byId.set(id, new FakeElement('span'));
      return byId.get(id);
    },
    createElement: (tag: string) => new FakeElement(tag),
  };
  const fetchFromApp = (url: string, init?: RequestInit) =>
    app.request(url, { ...init, headers: { ...(init?.headers as Record<string, string>), cookie } });
  runInNewContext(script, {
    document,
    Node: FakeElement,
    fetch: fetchFromApp,
    location: { href: '' },
    alert: () => undefined,
    setInterval: () => 0,
  });
  const deadline = Date.now() + 5000;
  while (!tbodies.get('pools')?.children.length) {
    if (Date.now() > deadline)
      throw new Error(`pools table not rendered: ${byId.get('updated')?.textContent}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const rows = new Map<string, Record<string, string>>();
  for (const tr of tbodies.get('pools')!.children) {
    expect(tr.children.length).toBe(headers.length);
    rows.set(tr.dataset.pool!, Object.fromEntries(headers.map((h, i) => [h, tr.children[i]!.textContent])));
  }
  return rows;
}

/** A served pool's engine snapshot with the given counts. */
function snapshot(poolId: string, over: Partial<PoolSnapshot>): PoolSnapshot {
  return {
    poolId,
    denomination: 1_000_000,
    feeValue: 50_000,
    mustMixBalanceMin: 1_000_102,
    mustMixBalanceCap: 1_009_500,
    mustMixBalanceMax: 1_010_000,
    minAnonymitySet: 3,
    minMustMix: 1,
    mixAnonymitySet: 3,
    mixId: 'f'.repeat(32),
    mixStatus: 'CONFIRM_INPUT',
    elapsedTime: 3000,
    nbConfirmed: 1,
    nbRegistered: 0,
    nbMustMixQueued: 0,
    nbLiquidityQueued: 0,
    nbConfirming: 0,
    nbConfirmedMustMix: 1,
    nbConfirmedLiquidity: 0,
    minerFeeAccumulated: 0,
    served: true,
    ...over,
  };
}

beforeAll(async () => {
  tdb = await createTestDatabase('dashboard');
  await runMigrations(tdb.url, { logger: silentLogger() });
  db = createDbPool(tdb.url);
  app = await dashboardApp();
  const registry = new InstanceRegistry(db);
  await registry.register(
    { id: 'inst-1', urlClear: 'http://127.0.0.1:1', urlOnion: 'http://abc.onion', version: '0.1.0' },
    'active',
  );
  await registry.register({ id: 'inst-2', urlClear: null, urlOnion: null, version: '0.1.0' }, 'active');
  const leases = new LeaseStore(db);
  await leases.ensurePools(['pool-a', 'pool-b']);
  expect(await leases.acquire('pool-a', 'inst-2', 60_000)).not.toBeNull();
  await new MySqlMixStore(db).addBan(TXID, { expirationSeconds: 3600, notes: 'test ban' });
});

afterAll(async () => {
  await db?.end();
  await tdb?.drop();
});

describe('dashboard routes', () => {
  it('requires a login for the page and the API', async () => {
    const page = await app.request('/dashboard');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/dashboard/login');
    expect((await app.request('/dashboard/api/state')).status).toBe(401);
    const unban = await app.request('/dashboard/api/unban', {
      method: 'POST',
      body: JSON.stringify({ identifier: TXID }),
    });
    expect(unban.status).toBe(401);
  });

  it('refuses a wrong password, then throttles the address after 5 failures', async () => {
    for (let i = 0; i < 5; i++) expect((await login('wrong-password')).status).toBe(401);
    // the test app has no socket: every request shares the 'unknown' address, so throttling applies here too
    expect((await login(PASSWORD)).status).toBe(429);
  });
});

describe('dashboard after login', () => {
  let cookie = '';
  let csrf = '';
  beforeAll(async () => {
    // fresh app: the throttling test above exhausted the shared address
    app = await dashboardApp();
    const res = await login();
    expect(res.status).toBe(303);
    cookie = cookieOf(res);
    expect(res.headers.get('set-cookie')).toMatch(/HttpOnly/i);
    expect(res.headers.get('set-cookie')).toMatch(/SameSite=Strict/i);
    const page = await app.request('/dashboard', { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    csrf = /name="csrf-token" content="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(csrf).not.toBe('');
    expect(html).not.toContain(PASSWORD);
  });

  it('shows instances, pool owners and bans from the database', async () => {
    const res = await app.request('/dashboard/api/state', { headers: { cookie } });
    expect(res.status).toBe(200);
    const view = (await res.json()) as {
      instances: Array<{ id: string; state: string; pools: string[] }>;
      pools: Array<{ poolId: string; owner: string | null; epoch: number }>;
      bans: Array<{ identifier: string }>;
    };
    expect(view.instances.map((i) => i.id).sort()).toEqual(['inst-1', 'inst-2']);
    expect(view.instances.find((i) => i.id === 'inst-2')?.pools).toEqual(['pool-a']);
    expect(view.pools).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ poolId: 'pool-a', owner: 'inst-2', epoch: 1 }),
        expect.objectContaining({ poolId: 'pool-b', owner: null }),
      ]),
    );
    expect(view.bans.map((b) => b.identifier)).toContain(TXID);
  });

  it("shows each pool's must-mix and liquidity queue sizes as its owner published them (JSON and page)", async () => {
    // inst-2 holds pool-a: its publication lands; pool-b has no owner and no status
    const written = await new PoolStatusStore(db).publish('inst-2', [
      snapshot('pool-a', { nbConfirming: 1, nbMustMixQueued: 4, nbLiquidityQueued: 2, nbRegistered: 7 }),
    ]);
    expect(written).toEqual(['pool-a']);
    const res = await app.request('/dashboard/api/state', { headers: { cookie } });
    expect(res.status).toBe(200);
    const view = (await res.json()) as {
      pools: Array<{ poolId: string; status: Record<string, unknown> | null }>;
    };
    expect(view.pools.find((p) => p.poolId === 'pool-a')?.status).toMatchObject({
      instanceId: 'inst-2',
      mixStatus: 'CONFIRM_INPUT',
      nbConfirmed: 1,
      nbRegistered: 7,
      nbMustMixQueued: 4,
      nbLiquidityQueued: 2,
    });
    expect(view.pools.find((p) => p.poolId === 'pool-b')?.status).toBeNull();

    const rows = await renderPools(cookie);
    expect(rows.get('pool-a')).toMatchObject({
      Owner: 'inst-2',
      'Mix phase': 'CONFIRM_INPUT',
      Confirmed: '1/3',
      'Must-mix queued': '4',
      'Liquidity queued': '2',
      'Registered (invited + queued)': '7',
    });
    expect(rows.get('pool-b')).toMatchObject({
      Owner: '(none)',
      'Must-mix queued': '',
      'Liquidity queued': '',
    });

    // a row published by a release before migration 003 (no queue sizes): total shown, split unknown
    await db.query(
      `INSERT INTO pool_status (pool_id, instance_id, mix_id, mix_status, elapsed_ms, nb_confirmed, nb_registered, updated_at)
       VALUES ('pool-b', 'inst-old', ?, 'CONFIRM_INPUT', 0, 0, 5, NOW(3))`,
      ['e'.repeat(32)],
    );
    try {
      expect((await renderPools(cookie)).get('pool-b')).toMatchObject({
        'Must-mix queued': 'n/a',
        'Liquidity queued': 'n/a',
        'Registered (invited + queued)': '5',
      });
    } finally {
      await db.query("DELETE FROM pool_status WHERE pool_id = 'pool-b'");
    }
  });

  it('refuses an unban without the CSRF token or with a bad identifier, and ends the ban with it', async () => {
    const noCsrf = await app.request('/dashboard/api/unban', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ identifier: TXID }),
    });
    expect(noCsrf.status).toBe(403);
    const bad = await app.request('/dashboard/api/unban', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ identifier: "x'; DROP TABLE ban; --" }),
    });
    expect(bad.status).toBe(400);
    const store = new MySqlMixStore(db);
    expect(await store.isBanned([TXID])).not.toBeNull();
    const ok = await app.request('/dashboard/api/unban', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ identifier: TXID }),
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ identifier: TXID, ended: 1 });
    expect(await store.isBanned([TXID])).toBeNull();
  });

  it('is a 404 with an explanation when no password hash is configured', async () => {
    const off = new HonoApp();
    mountDashboard(off, { db, pools: [], instanceId: null, logger: silentLogger(), env: {} });
    const res = await off.request('/dashboard');
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('WHIRLPOOL_DASHBOARD_PASSWORD_HASH');
  });
});
