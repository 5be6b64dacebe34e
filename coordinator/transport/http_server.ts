/**
 * The coordinator's HTTP server: the caller's Hono app (REST, pages) on
 * @hono/node-server, the SockJS HTTP routes in front of it, and `ws`
 * WebSocket servers (`noServer`) on the `upgrade` event for every STOMP
 * endpoint the reference registers (`/ws/connect`, `/ws/registerInput`,
 * `/ws/confirmInput`, `/ws/revealOutput`, `/ws/signing`):
 *
 * - raw STOMP at `{ep}` and `{ep}/websocket` (Android, stompjs);
 * - SockJS websocket transport at `{ep}/{server}/{session}/websocket` (Java);
 * - SockJS `GET {ep}/info`, `xhr_streaming`, `xhr`, `xhr_send` (Java fallback).
 *
 * All transports share one {@link StompSession} implementation.
 *
 * Abuse bounds (issue 13): request body limits per route (413 with a JSON
 * message and `Connection: close`, chunked bodies stopped at the limit),
 * explicit headers/request/keep-alive timeouts, TCP connections and STOMP
 * sessions capped in total and per source address (addresses in
 * `addressLimitsExempt` count only toward the totals: Tor's onion service
 * address, where every client is 127.0.0.1).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createAdaptorServer, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import type { Hono } from 'hono';
import { type WebSocket, WebSocketServer } from 'ws';
import { AddressCounter } from '#coordinator/limits/address_counter.ts';
import {
  type BodyLimits,
  bodyLimitFor,
  checkDeclaredLength,
  payloadTooLarge,
  readBodyWithin,
} from '#coordinator/limits/body_limit.ts';
import { NO_REFUSALS, type Refusals } from '#coordinator/limits/refusals.ts';
import { STOMP_HEARTBEAT_MS, WS_ENDPOINTS } from '#shared/protocol/constants.ts';
import type { Logger } from '../log.ts';
import { parseSockjsPath, sockjsRoutes } from './sockjs_routes.ts';
import { DEFAULT_XHR_SETTINGS, XhrTransports } from './sockjs_xhr.ts';
import type { StompApplication } from './stomp_application.ts';
import {
  DEFAULT_SESSION_SETTINGS,
  type SessionSettings,
  type SessionWire,
  StompSession,
} from './stomp_session.ts';
import {
  bindRawWebSocket,
  bindSockjsWebSocket,
  rawWebSocketWire,
  sockjsWebSocketWire,
  upgradeRejection,
  upgradeRejectionResponse,
} from './websocket_wire.ts';

/** STOMP subprotocols offered by Spring/Jetty and stompjs clients, in our order of preference. */
export const STOMP_SUBPROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'];

/** Options of {@link startHttpServer}; the first six are the module-map contract, the rest are tuning knobs. */
export interface HttpServerOptions {
  port: number;
  host?: string;
  /** The caller's Hono app (REST, pages); requests outside the SockJS routes go to it. */
  app: Pick<Hono, 'fetch'> | { fetch: (request: Request, env: HttpBindings) => Response | Promise<Response> };
  stomp: StompApplication;
  /** Server STOMP heart-beat both ways (default 20000; 0 disables). */
  heartbeatMs?: number;
  /** Largest STOMP frame accepted (default 65536). */
  maxFrameBytes?: number;
  logger: Logger;
  /** Outbound bytes queued per session before it is terminated as a slow consumer (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Time allowed between connection and CONNECT (default 60 s). */
  connectTimeoutMs?: number;
  /** SockJS `h` interval (default 25 s, Spring's). */
  sockjsHeartbeatMs?: number;
  /** SockJS XHR session timeout without a receiving request (default 5 s, Spring's). */
  sockjsDisconnectDelayMs?: number;
  /** Maximum concurrent sessions of all transports (default 20000). */
  maxSessions?: number;
  /** Abuse limits (defaults: {@link DEFAULT_HTTP_LIMITS}). */
  limits?: Partial<HttpLimits>;
  /** Where refusals are counted (default: nowhere). */
  refusals?: Refusals;
}

/** The abuse limits of the listener (README configuration table, `WHIRLPOOL_LIMIT_*`). */
export interface HttpLimits {
  body: BodyLimits;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxSessionsPerAddress: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  addressLimitsExempt: readonly string[];
  /** Inbound silence of a session without heart-beats, ms. */
  idleTimeoutMs: number;
  maxSendsInFlight: number;
}

/** Defaults of {@link HttpLimits} (the same as the environment's). */
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  body: { output: 4096, tx0: 131_072, dashboard: 1024, default: 16_384 },
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5000,
  maxSessionsPerAddress: 64,
  maxConnections: 30_000,
  maxConnectionsPerAddress: 128,
  addressLimitsExempt: [],
  idleTimeoutMs: DEFAULT_SESSION_SETTINGS.idleTimeoutMs,
  maxSendsInFlight: DEFAULT_SESSION_SETTINGS.maxSendsInFlight,
};

/** A running server. */
export interface HttpServerHandle {
  server: Server;
  port: number;
  /** Number of STOMP sessions that completed CONNECT and are still open. */
  sessions(): number;
  /** Closes every session (clients see a normal close), stops listening, resolves when done. */
  close(): Promise<void>;
}

type UpgradeRoute = { kind: 'websocket' } | { kind: 'sockjs-websocket' };

/** Which WebSocket transport a path asks for, or null (404). */
export function routeUpgrade(path: string): UpgradeRoute | null {
  for (const ep of WS_ENDPOINTS) {
    if (path === ep || path === `${ep}/websocket`) return { kind: 'websocket' };
  }
  const s = parseSockjsPath(path);
  if (s && s.transport === 'websocket') return { kind: 'sockjs-websocket' };
  return null;
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n`,
  );
  socket.destroy();
}

function selectSubprotocol(offered: Set<string>): string | false {
  for (const p of offered) if (STOMP_SUBPROTOCOLS.includes(p)) return p;
  return false;
}

/** Starts the HTTP + STOMP server on `host:port` (port 0 = any free port). */
/** Longest a refused upload is drained before its connection is closed, ms. */
const LINGER_MS = 500;
/** Most bytes of a refused upload read and discarded before its connection is closed. */
const LINGER_BYTES = 1024 * 1024;

/**
 * Closes the connection of a refused upload (413) without losing the answer:
 * closing a socket while the client's unread body sits in the kernel buffer
 * sends a TCP reset, which can reach the client before it has read the 413
 * (it then sees ECONNRESET). So once the answer is written the rest of the
 * body is read and discarded for at most {@link LINGER_MS} or
 * {@link LINGER_BYTES} (HTTP's "lingering close"), then the socket is closed.
 */
function lingerThenClose(bindings: HttpBindings): void {
  const { incoming, outgoing } = bindings;
  const socket = incoming?.socket;
  if (!socket || !outgoing) return;
  outgoing.once('finish', () => {
    let discarded = 0;
    const close = () => socket.destroy();
    const timer = setTimeout(close, LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    incoming.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER_BYTES) close();
    });
    incoming.resume();
    socket.end();
  });
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const log = opts.logger;
  const heartbeatMs = opts.heartbeatMs ?? STOMP_HEARTBEAT_MS;
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_SESSION_SETTINGS.maxFrameBytes;
  const maxSessions = opts.maxSessions ?? 20_000;
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
  const refusals = opts.refusals ?? NO_REFUSALS;
  const sessionCount = new AddressCounter({
    max: maxSessions,
    maxPerAddress: limits.maxSessionsPerAddress,
    exempt: limits.addressLimitsExempt,
  });
  const connectionCount = new AddressCounter({
    max: limits.maxConnections,
    maxPerAddress: limits.maxConnectionsPerAddress,
    exempt: limits.addressLimitsExempt,
  });
  const settings: SessionSettings = {
    ...DEFAULT_SESSION_SETTINGS,
    idleTimeoutMs: limits.idleTimeoutMs,
    maxSendsInFlight: limits.maxSendsInFlight,
    heartbeat: [heartbeatMs, heartbeatMs],
    maxFrameBytes,
    maxBufferedBytes: opts.maxBufferedBytes ?? DEFAULT_SESSION_SETTINGS.maxBufferedBytes,
    connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_SESSION_SETTINGS.connectTimeoutMs,
  };
  const sockjsHeartbeatMs = opts.sockjsHeartbeatMs ?? DEFAULT_XHR_SETTINGS.heartbeatMs;
  const live = new Set<StompSession>();
  let closing = false;

  /** Whether one more session for `ip` would be refused (and by which limit). */
  function sessionRefusal(ip: string): 'sessions' | 'sessions_per_address' | null {
    if (sessionCount.total >= maxSessions) return 'sessions';
    const probe = sessionCount.open(ip);
    if (typeof probe === 'string') return 'sessions_per_address';
    probe();
    return null;
  }

  function createSession(wire: SessionWire, ip: string): StompSession | null {
    if (closing) return null;
    const release = sessionCount.open(ip);
    if (typeof release === 'string') {
      refusals.refused(release === 'total' ? 'sessions' : 'sessions_per_address', { ip });
      return null;
    }
    const session = new StompSession({
      id: randomUUID(),
      ip,
      wire,
      app: opts.stomp,
      logger: log,
      settings,
      onEnded: (s) => {
        live.delete(s);
        release();
      },
    });
    live.add(session);
    return session;
  }

  const xhr = new XhrTransports({
    settings: {
      ...DEFAULT_XHR_SETTINGS,
      heartbeatMs: sockjsHeartbeatMs,
      disconnectDelayMs: opts.sockjsDisconnectDelayMs ?? DEFAULT_XHR_SETTINGS.disconnectDelayMs,
      maxSessions,
    },
    createStomp: createSession,
    logger: log,
  });
  const clientIp = (env: HttpBindings): string => env.incoming.socket.remoteAddress ?? '';
  const sockjsApp = sockjsRoutes(xhr, clientIp, 2 * maxFrameBytes + 16 * 1024);
  const fetch = async (req: Request, env: HttpBindings | Http2Bindings): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path.startsWith('/ws/')) return sockjsApp.fetch(req, env as HttpBindings);
    let request = req;
    if (req.body) {
      const max = bodyLimitFor(path, limits.body);
      const declared = checkDeclaredLength(req.headers, max);
      const within = declared === 'unknown' ? await readBodyWithin(req, max) : req;
      if (declared === 'too-large' || within === null) {
        refusals.refused('body_size', { path, ip: clientIp(env as HttpBindings) });
        lingerThenClose(env as HttpBindings);
        return payloadTooLarge(max);
      }
      request = within;
    }
    return opts.app.fetch(request, env as HttpBindings);
  };

  const server = createAdaptorServer({
    fetch,
    hostname: opts.host,
    serverOptions: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // how often Node checks the two timeouts above (default 30 s would let a slow client live that long)
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
  }) as Server;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.on('connection', (socket) => {
    const ip = socket.remoteAddress ?? '';
    const release = connectionCount.open(ip);
    if (typeof release === 'string') {
      refusals.refused(release === 'total' ? 'connections' : 'connections_per_address', { ip });
      socket.destroy();
      return;
    }
    socket.once('close', release);
  });
  // closeTimeout: how long a server-initiated close waits for the peer's close frame before dropping the socket.
  const wsOptions = {
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: selectSubprotocol,
    closeTimeout: 5000,
  } as const;
  // Raw STOMP: one frame per message. SockJS: JSON-quoted, so allow for escaping (a NUL becomes \u0000).
  const rawWss = new WebSocketServer({ ...wsOptions, maxPayload: maxFrameBytes + 16 * 1024 });
  const sockjsWss = new WebSocketServer({ ...wsOptions, maxPayload: 2 * maxFrameBytes + 16 * 1024 });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => log.debug({ err: err.message }, 'upgrade socket error'));
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      rejectUpgrade(socket, 400, 'Bad Request');
      return;
    }
    const route = routeUpgrade(path);
    if (!route) {
      rejectUpgrade(socket, 404, 'Not Found');
      return;
    }
    const refused = upgradeRejection(req.method, req.headers.upgrade);
    if (refused) {
      socket.end(upgradeRejectionResponse(refused));
      socket.destroy();
      return;
    }
    const ip = req.socket.remoteAddress ?? '';
    const refusal = closing ? 'sessions' : sessionRefusal(ip);
    if (refusal !== null) {
      if (!closing) refusals.refused(refusal, { ip });
      if (refusal === 'sessions_per_address') rejectUpgrade(socket, 429, 'Too Many Requests');
      else rejectUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    if (route.kind === 'websocket') {
      rawWss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        const session = createSession(rawWebSocketWire(ws), ip);
        if (!session) return void ws.terminate();
        bindRawWebSocket(ws, session, log);
      });
    } else {
      sockjsWss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        const wire = sockjsWebSocketWire(ws, sockjsHeartbeatMs);
        const session = createSession(wire, ip);
        if (!session) {
          wire.stop();
          return void ws.terminate();
        }
        bindSockjsWebSocket(ws, wire, session, log);
      });
    }
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    log.debug({ err: err.message }, 'HTTP client error');
    // headersTimeout / requestTimeout: 408, as Node itself answers; anything else is a bad request
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, host: opts.host ?? '::', heartbeatMs, maxFrameBytes }, 'HTTP/STOMP server listening');

  let closed: Promise<void> | null = null;
  return {
    server,
    port,
    sessions() {
      let n = 0;
      for (const s of live) if (s.connected) n++;
      return n;
    },
    close() {
      closed ??= (async () => {
        closing = true;
        for (const s of [...live]) s.close('Server shutting down');
        xhr.closeAll();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        // Give clients a moment to answer the close handshake, then drop the rest.
        await new Promise((r) => setTimeout(r, 200));
        for (const wss of [rawWss, sockjsWss]) {
          for (const ws of wss.clients) ws.terminate();
          wss.close();
        }
        await done;
        log.info({ port }, 'HTTP/STOMP server closed');
      })();
      return closed;
    },
  };
}
