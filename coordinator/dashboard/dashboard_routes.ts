/**
 * The dashboard's HTTP routes, mounted on every coordinator under
 * `/dashboard`: a login form (credentials from the configuration, scrypt
 * hash; failed logins throttled per client address), a page whose script
 * polls `/dashboard/api/state` every 2 s (live updates without reloading),
 * and `POST /dashboard/api/unban`. Sessions are signed cookies (HttpOnly,
 * SameSite=Strict, Secure unless the instance's clear URL is http); every
 * state-changing request must also carry the session's CSRF token. Pages
 * carry a strict Content-Security-Policy (no inline script) and never any
 * secret.
 *
 * @module
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { Logger } from '#coordinator/log.ts';
import { CHARTS_CSS, CHARTS_JS } from './dashboard_charts.ts';
import type { DashboardConfig } from './dashboard_config.ts';
import { DASHBOARD_CSS, DASHBOARD_JS, dashboardPage, loginPage } from './dashboard_page.ts';
import { verifyPassword } from './password_hash.ts';
import { type DashboardSession, SessionSigner } from './session_token.ts';

/** What the routes need. */
export interface DashboardRoutesOptions {
  config: DashboardConfig;
  /** The cluster view as JSON-serialisable data (see cluster_view.ts). */
  readView(): Promise<unknown>;
  /** The pictures' data for the last `hours` (see history_view.ts). */
  readHistory?(hours: number): Promise<unknown>;
  /** Ends the active bans of an identifier; returns how many were active. */
  unban(identifier: string): Promise<number>;
  logger: Logger;
  /** Title shown on the pages (e.g. the instance id). */
  title?: string;
}

const COOKIE = 'wp_dashboard';
const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 10 * 60_000;

const LoginSchema = z.object({
  user: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});
const HistoryQuerySchema = z.object({ hours: z.coerce.number().int().min(1).max(72).default(6) });
const UnbanSchema = z.object({
  identifier: z.string().regex(/^[0-9a-f]{64}(:\d{1,6})?$/, 'a txid or txid:index'),
});

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Builds the `/dashboard` sub-app (mount it with `app.route('/dashboard', ...)`). */
export function createDashboardRoutes(opts: DashboardRoutesOptions): Hono {
  const app = new Hono();
  const signer = new SessionSigner(opts.config.sessionSecret ?? undefined);
  const failures = new Map<string, number[]>();
  const title = opts.title ?? 'Whirlpool cluster';

  app.use('*', async (c, next) => {
    if (!opts.config.enabled) {
      return c.text(
        'Dashboard disabled: set WHIRLPOOL_DASHBOARD_PASSWORD_HASH (npm run dashboard:hash-password)',
        404,
      );
    }
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  });

  function session(c: Context): DashboardSession | null {
    return signer.verify(getCookie(c, COOKIE));
  }

  function recentFailures(ip: string, now: number): number[] {
    const list = (failures.get(ip) ?? []).filter((t) => now - t < FAILURE_WINDOW_MS);
    if (list.length === 0) failures.delete(ip);
    else failures.set(ip, list);
    return list;
  }

  app.get('/assets/app.js', (c) =>
    c.body(DASHBOARD_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }),
  );
  app.get('/assets/app.css', (c) =>
    c.body(DASHBOARD_CSS + CHARTS_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' }),
  );
  app.get('/assets/charts.js', (c) =>
    c.body(CHARTS_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }),
  );

  app.get('/login', (c) => c.html(loginPage(title, null)));

  app.post('/login', async (c) => {
    const ip = clientAddress(c);
    const now = Date.now();
    if (recentFailures(ip, now).length >= MAX_FAILURES) {
      return c.html(loginPage(title, 'Too many failed attempts; try again later.'), 429);
    }
    const form = LoginSchema.safeParse(await c.req.parseBody().catch(() => ({})));
    const ok =
      form.success &&
      form.data.user === opts.config.user &&
      (await verifyPassword(form.data.password, opts.config.passwordHash ?? ''));
    if (!ok) {
      failures.set(ip, [...recentFailures(ip, now), now]);
      opts.logger.warn({ ip }, 'dashboard login refused');
      return c.html(loginPage(title, 'Wrong user name or password.'), 401);
    }
    failures.delete(ip);
    const { token } = signer.issue(opts.config.user, opts.config.sessionTtlMs);
    setCookie(c, COOKIE, token, {
      path: '/dashboard',
      httpOnly: true,
      sameSite: 'Strict',
      secure: opts.config.secureCookie,
      maxAge: Math.floor(opts.config.sessionTtlMs / 1000),
    });
    opts.logger.info({ ip, user: opts.config.user }, 'dashboard login');
    return c.redirect('/dashboard', 303);
  });

  app.post('/logout', async (c) => {
    const s = session(c);
    if (s && c.req.header('x-csrf-token') === s.csrf) deleteCookie(c, COOKIE, { path: '/dashboard' });
    return c.redirect('/dashboard/login', 303);
  });

  app.get('/', (c) => {
    const s = session(c);
    if (!s) return c.redirect('/dashboard/login', 303);
    return c.html(dashboardPage(title, s.csrf));
  });

  app.get('/api/state', async (c) => {
    if (!session(c)) return c.json({ error: 'login required' }, 401);
    try {
      return c.json(await opts.readView());
    } catch (err) {
      opts.logger.warn({ err: (err as Error).message }, 'dashboard view unavailable');
      return c.json({ error: 'database unavailable' }, 503);
    }
  });

  app.get('/api/history', async (c) => {
    if (!session(c)) return c.json({ error: 'login required' }, 401);
    const q = HistoryQuerySchema.safeParse({ hours: c.req.query('hours') ?? undefined });
    if (!q.success) return c.json({ error: 'hours must be an integer from 1 to 72' }, 400);
    if (!opts.readHistory) return c.json({ error: 'no history on this instance' }, 404);
    try {
      return c.json(await opts.readHistory(q.data.hours));
    } catch (err) {
      opts.logger.warn({ err: (err as Error).message }, 'dashboard history unavailable');
      return c.json({ error: 'database unavailable' }, 503);
    }
  });

  app.post('/api/unban', async (c) => {
    const s = session(c);
    if (!s) return c.json({ error: 'login required' }, 401);
    if (c.req.header('x-csrf-token') !== s.csrf) return c.json({ error: 'bad CSRF token' }, 403);
    const body = UnbanSchema.safeParse(await c.req.json().catch(() => null));
    if (!body.success) return c.json({ error: 'identifier must be a txid or txid:index' }, 400);
    const ended = await opts.unban(body.data.identifier);
    opts.logger.info({ identifier: body.data.identifier, ended, user: s.user }, 'dashboard unban');
    return c.json({ identifier: body.data.identifier, ended });
  });

  return app;
}
