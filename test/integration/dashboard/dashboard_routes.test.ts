/**
 * The dashboard routes on the real MariaDB: login required everywhere, wrong
 * passwords refused and throttled, the state JSON shows the instances, pool
 * owners and bans written by the cluster and store repositories, and unban
 * needs the session's CSRF token and really ends the ban.
 */
import type { Hono } from 'hono';
import { Hono as HonoApp } from 'hono';
import type { Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceRegistry } from '#coordinator/cluster/instance_registry.ts';
import { LeaseStore } from '#coordinator/cluster/lease_store.ts';
import { mountDashboard } from '#coordinator/dashboard/mount_dashboard.ts';
import { hashPassword } from '#coordinator/dashboard/password_hash.ts';
import { silentLogger } from '#coordinator/log.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
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
