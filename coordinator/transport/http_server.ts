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
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createAdaptorServer, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import type { Hono } from 'hono';
import { type WebSocket, WebSocketServer } from 'ws';
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
  /** Maximum concurrent sessions of all transports (default 100000). */
  maxSessions?: number;
}

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
export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const log = opts.logger;
  const heartbeatMs = opts.heartbeatMs ?? STOMP_HEARTBEAT_MS;
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_SESSION_SETTINGS.maxFrameBytes;
  const maxSessions = opts.maxSessions ?? 100_000;
  const settings: SessionSettings = {
    ...DEFAULT_SESSION_SETTINGS,
    heartbeat: [heartbeatMs, heartbeatMs],
    maxFrameBytes,
    maxBufferedBytes: opts.maxBufferedBytes ?? DEFAULT_SESSION_SETTINGS.maxBufferedBytes,
    connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_SESSION_SETTINGS.connectTimeoutMs,
  };
  const sockjsHeartbeatMs = opts.sockjsHeartbeatMs ?? DEFAULT_XHR_SETTINGS.heartbeatMs;
  const live = new Set<StompSession>();
  let closing = false;

  function createSession(wire: SessionWire, ip: string): StompSession | null {
    if (closing || live.size >= maxSessions) return null;
    const session = new StompSession({
      id: randomUUID(),
      ip,
      wire,
      app: opts.stomp,
      logger: log,
      settings,
      onEnded: (s) => live.delete(s),
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
  const fetch = (req: Request, env: HttpBindings | Http2Bindings): Response | Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path.startsWith('/ws/')) return sockjsApp.fetch(req, env as HttpBindings);
    return opts.app.fetch(req, env as HttpBindings);
  };

  const server = createAdaptorServer({ fetch, hostname: opts.host }) as Server;
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
    if (closing || live.size >= maxSessions) {
      rejectUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    const ip = req.socket.remoteAddress ?? '';
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
  server.on('clientError', (err, socket) => {
    log.debug({ err: err.message }, 'HTTP client error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
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
