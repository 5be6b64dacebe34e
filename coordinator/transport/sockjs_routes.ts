/**
 * HTTP side of the SockJS endpoints (`/ws/connect` and the four other
 * `/ws/*` paths the reference registers): the greeting, `GET {ep}/info`,
 * CORS preflights (cacheable for a year, as Spring answers them), the XHR
 * transports, and Spring's 400/405 answers on the WebSocket URLs when no
 * handshake arrives. `cookie_needed: true` is kept (Spring's default, what
 * the reference announced) and honoured: the XHR transports set
 * `JSESSIONID` (`sessionCookie` in sockjs_xhr.ts). Served by a Hono app in front of
 * the caller's app. The WebSocket paths are handled on the HTTP server's
 * `upgrade` event (see `http_server.ts`).
 *
 * @module
 */
import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { WS_ENDPOINTS } from '#shared/protocol/constants.ts';
import { corsHeaders, responseHeaders, type XhrTransports } from './sockjs_xhr.ts';

/** A SockJS server or session id from a URL segment: non-empty, no dot (Spring's rule), short. */
export const SOCKJS_ID_RE = /^[^/.]{1,64}$/;

/** Parses `{ep}/{server}/{session}/{transport}` for one of the endpoints. */
export function parseSockjsPath(
  path: string,
): { endpoint: string; serverId: string; sessionId: string; transport: string } | null {
  for (const ep of WS_ENDPOINTS) {
    if (!path.startsWith(`${ep}/`)) continue;
    const parts = path.slice(ep.length + 1).split('/');
    if (parts.length !== 3) return null;
    const [serverId, sessionId, transport] = parts as [string, string, string];
    if (!SOCKJS_ID_RE.test(serverId) || !SOCKJS_ID_RE.test(sessionId)) return null;
    return { endpoint: ep, serverId, sessionId, transport };
  }
  return null;
}

/** The XHR transports served (with CORS); `websocket` is served on the upgrade event. */
const XHR_TRANSPORTS = new Set(['xhr', 'xhr_streaming', 'xhr_send']);

/** One year, the lifetime Spring gives cacheable SockJS answers (preflights). */
const ONE_YEAR_S = 31_536_000;

/** Session-registry key of a parsed path: the server-id segment is ignored (Spring keys by session id). */
export function sockjsSessionKey(p: { endpoint: string; sessionId: string }): string {
  return `${p.endpoint}/${p.sessionId}`;
}

/**
 * Spring's `addCacheHeaders`: `Cache-Control: public, max-age=31536000` and
 * an `Expires` one year after `nowMs`.
 */
export function cacheHeaders(h: Headers, nowMs: number): void {
  h.set('Cache-Control', `public, max-age=${ONE_YEAR_S}`);
  h.set('Expires', new Date(nowMs + ONE_YEAR_S * 1000).toUTCString());
}

/** A 405 with its `Allow` header and no body (Spring's `sendMethodNotAllowed`). */
export function methodNotAllowed(allow: string): Response {
  return new Response(null, { status: 405, headers: { Allow: allow } });
}

/**
 * The answer to a request on a WebSocket URL that did not reach the upgrade
 * handler (no `Upgrade: websocket` + `Connection: upgrade`): 400 with
 * Spring's handshake texts.
 */
export function websocketBadRequest(upgradeHeader: string | undefined): Response {
  const text =
    upgradeHeader?.toLowerCase() === 'websocket'
      ? '"Connection" must be "upgrade".'
      : 'Can "Upgrade" only to "WebSocket".';
  return new Response(text, { status: 400, headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
}

/** Random positive int32, like Spring's `entropy`. */
function entropy(): number {
  const b = new Uint32Array(1);
  crypto.getRandomValues(b);
  return (b[0] as number) & 0x7fffffff;
}

/**
 * The Hono app serving SockJS HTTP requests under every `/ws/*` endpoint;
 * request bodies above `maxBodyBytes` are refused with 413.
 */
export function sockjsRoutes(
  xhr: XhrTransports,
  clientIp: (env: HttpBindings) => string,
  maxBodyBytes: number,
): Hono<{ Bindings: HttpBindings }> {
  const app = new Hono<{ Bindings: HttpBindings }>();
  const limit = bodyLimit({ maxSize: maxBodyBytes, onError: (c) => c.text('Payload too large', 413) });
  for (const ep of WS_ENDPOINTS) {
    const welcome = (): Response =>
      new Response('Welcome to SockJS!\n', { headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
    app.get(ep, welcome);
    app.get(`${ep}/`, welcome);
    // WebSocket URLs reached without a WebSocket handshake: raw `{ep}/websocket` and SockJS `.../websocket`.
    const isWebsocketPath = (path: string): boolean =>
      path === `${ep}/websocket` || parseSockjsPath(path)?.transport === 'websocket';
    app.get(`${ep}/*`, (c, next) =>
      isWebsocketPath(c.req.path) ? websocketBadRequest(c.req.header('upgrade')) : next(),
    );
    app.on(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'], `${ep}/*`, (c, next) =>
      isWebsocketPath(c.req.path) ? methodNotAllowed('GET') : next(),
    );
    app.get(`${ep}/info`, (c) => {
      const body = JSON.stringify({
        entropy: entropy(),
        origins: ['*:*'],
        cookie_needed: true,
        websocket: true,
      });
      return new Response(body, { headers: responseHeaders(c, 'application/json;charset=UTF-8') });
    });
    app.on(['POST', 'PUT', 'DELETE', 'PATCH'], `${ep}/info`, () => methodNotAllowed('GET,OPTIONS'));
    app.options(`${ep}/*`, (c) => {
      const isInfo = c.req.path === `${ep}/info`;
      const parsed = isInfo ? null : parseSockjsPath(c.req.path);
      if (!isInfo && !(parsed && XHR_TRANSPORTS.has(parsed.transport))) return c.notFound();
      const h = new Headers({ 'Content-Type': 'text/plain;charset=UTF-8' });
      corsHeaders(h, c.req.header('origin'));
      cacheHeaders(h, Date.now());
      h.set('Access-Control-Allow-Methods', isInfo ? 'OPTIONS, GET' : 'OPTIONS, POST');
      const reqHeaders = c.req.header('access-control-request-headers');
      if (reqHeaders) h.set('Access-Control-Allow-Headers', reqHeaders);
      h.set('Access-Control-Max-Age', String(ONE_YEAR_S));
      return new Response(null, { status: 204, headers: h });
    });
    app.get(`${ep}/:server/:session/:transport`, (c) => {
      const parsed = parseSockjsPath(c.req.path);
      return parsed && XHR_TRANSPORTS.has(parsed.transport) ? methodNotAllowed('POST,OPTIONS') : c.notFound();
    });
    app.post(`${ep}/:server/:session/:transport`, limit, (c) => {
      const parsed = parseSockjsPath(c.req.path);
      if (!parsed) return c.notFound();
      const key = sockjsSessionKey(parsed);
      switch (parsed.transport) {
        case 'xhr':
          return xhr.receive(c, key, clientIp(c.env), false);
        case 'xhr_streaming':
          return xhr.receive(c, key, clientIp(c.env), true);
        case 'xhr_send':
          return xhr.send(c, key);
        default:
          return c.notFound();
      }
    });
  }
  return app;
}
