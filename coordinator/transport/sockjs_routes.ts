/**
 * HTTP side of the SockJS endpoints (`/ws/connect` and the four other
 * `/ws/*` paths the reference registers): the greeting, `GET {ep}/info`,
 * CORS preflights and the XHR transports. Served by a Hono app in front of
 * the caller's app. The WebSocket paths are handled on the HTTP server's
 * `upgrade` event (see `http_server.ts`).
 *
 * @module
 */
import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { WS_ENDPOINTS } from '#shared/protocol/constants.ts';
import { responseHeaders, type XhrTransports } from './sockjs_xhr.ts';

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
    app.get(`${ep}/info`, (c) => {
      const body = JSON.stringify({
        entropy: entropy(),
        origins: ['*:*'],
        cookie_needed: true,
        websocket: true,
      });
      return new Response(body, { headers: responseHeaders(c, 'application/json;charset=UTF-8') });
    });
    app.options(`${ep}/*`, (c) => {
      const h = responseHeaders(c, 'text/plain;charset=UTF-8');
      h.set('Access-Control-Allow-Methods', c.req.path.endsWith('/info') ? 'OPTIONS, GET' : 'OPTIONS, POST');
      const reqHeaders = c.req.header('access-control-request-headers');
      if (reqHeaders) h.set('Access-Control-Allow-Headers', reqHeaders);
      h.set('Access-Control-Max-Age', '31536000');
      return new Response(null, { status: 204, headers: h });
    });
    app.post(`${ep}/:server/:session/:transport`, limit, (c) => {
      const parsed = parseSockjsPath(c.req.path);
      if (!parsed) return c.notFound();
      const key = `${parsed.endpoint}/${parsed.serverId}/${parsed.sessionId}`;
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
