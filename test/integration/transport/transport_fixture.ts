/**
 * Fixture for the transport integration tests: a trivial StompApplication
 * (answers a `/private/reply` subscription with a SubscribePoolResponse,
 * echoes every SEND back as an ErrorResponse whose message is the body,
 * records calls), a server on 127.0.0.1, and small raw clients.
 */
import { Client, type IFrame, type IMessage } from '@stomp/stompjs';
import { Hono } from 'hono';
import { WebSocket } from 'ws';
import { silentLogger } from '#coordinator/log.ts';
import {
  type HttpServerHandle,
  type HttpServerOptions,
  startHttpServer,
} from '#coordinator/transport/http_server.ts';
import type { ClientSession, StompApplication } from '#coordinator/transport/stomp_application.ts';
import { SockJsClientSocket, sockjsTransportUrl } from '#shared/sockjs/client_socket.ts';

/** A raw STOMP CONNECT frame (pool 0.01btc, no heart-beats), as a raw client sends it. */
export const CONNECT = 'CONNECT\naccept-version:1.1,1.2\nheart-beat:0,0\npoolId:0.01btc\n\n\0';
/** A raw STOMP SUBSCRIBE to `/private/reply` with the Whirlpool headers. */
export const SUBSCRIBE =
  'SUBSCRIBE\nid:0\ndestination:/private/reply\npoolId:0.01btc\nprotocolVersion:0.23\n\n\0';

export const POOL_RESPONSE = {
  networkId: 'test',
  denomination: 1000000,
  mustMixBalanceMin: 1000102,
  mustMixBalanceCap: 1009500,
  mustMixBalanceMax: 1010000,
};

/** A StompApplication recording everything. */
export class EchoApp implements StompApplication {
  subscribes: Array<{ session: ClientSession; destination: string; headers: ReadonlyMap<string, string> }> =
    [];
  sends: Array<{
    session: ClientSession;
    destination: string;
    headers: ReadonlyMap<string, string>;
    body: string;
  }> = [];
  disconnects: ClientSession[] = [];
  sessions = new Map<string, ClientSession>();

  onSubscribe(session: ClientSession, destination: string, headers: ReadonlyMap<string, string>): void {
    this.sessions.set(session.id, session);
    this.subscribes.push({ session, destination, headers });
    if (destination === '/private/reply') session.sendPrivate('SubscribePoolResponse', POOL_RESPONSE);
  }

  onSend(
    session: ClientSession,
    destination: string,
    headers: ReadonlyMap<string, string>,
    body: string,
  ): void {
    this.sends.push({ session, destination, headers, body });
    if (body.startsWith('burst:')) {
      const n = Number(body.slice(6));
      for (let i = 0; i < n; i++) session.sendPrivate('ErrorResponse', { mixId: null, message: `m${i}` });
      return;
    }
    if (body === 'close-me') {
      session.close('asked');
      return;
    }
    session.sendPrivate('ErrorResponse', { mixId: null, message: body });
  }

  onDisconnect(session: ClientSession): void {
    this.disconnects.push(session);
  }

  /** Resolves once the session `id` has been disconnected; fails if that happened more than once. */
  async waitDisconnectOf(id: string, timeoutMs = 5000): Promise<ClientSession> {
    await until(() => this.disconnects.some((s) => s.id === id), timeoutMs, `disconnect of ${id}`);
    const mine = this.disconnects.filter((s) => s.id === id);
    if (mine.length !== 1) throw new Error(`Session ${id} disconnected ${mine.length} times`);
    return mine[0]!;
  }
}

/** Starts a server on 127.0.0.1 with the echo app and a tiny REST app. */
export async function startTestServer(
  extra: Partial<HttpServerOptions> = {},
): Promise<{ app: EchoApp; server: HttpServerHandle; http: string; ws: string }> {
  const app = new EchoApp();
  const rest = new Hono();
  rest.get('/rest/system/health', (c) => c.json({ status: 'OK', error: null }));
  const server = await startHttpServer({
    port: 0,
    host: '127.0.0.1',
    app: rest,
    stomp: app,
    logger: silentLogger(),
    ...extra,
  });
  return { app, server, http: `http://127.0.0.1:${server.port}`, ws: `ws://127.0.0.1:${server.port}` };
}

/** A raw WebSocket client collecting text messages. */
export class RawClient {
  readonly ws: WebSocket;
  readonly messages: string[] = [];
  closeCode: number | null = null;
  #waiters: Array<() => void> = [];
  readonly opened: Promise<void>;
  readonly closedP: Promise<number>;

  constructor(url: string, protocols: string[] = ['v12.stomp', 'v11.stomp', 'v10.stomp']) {
    this.ws = new WebSocket(url, protocols);
    this.ws.on('message', (d, isBinary) => {
      this.messages.push(isBinary ? `<binary ${(d as Buffer).length}>` : String(d));
      for (const w of this.#waiters.splice(0)) w();
    });
    this.ws.on('error', () => {});
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
    this.closedP = new Promise((resolve) => {
      this.ws.once('close', (code) => {
        this.closeCode = code;
        for (const w of this.#waiters.splice(0)) w();
        resolve(code);
      });
    });
  }

  send(text: string): void {
    this.ws.send(text);
  }

  /** Waits until `pred` holds over the messages received so far. */
  async waitFor(pred: (msgs: string[]) => boolean, timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.messages)) {
      if (Date.now() > deadline)
        throw new Error(`Timed out; received ${JSON.stringify(this.messages).slice(0, 500)}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.messages;
  }
}

/** A stompjs client over a raw `ws` WebSocket or over SockJS, resolved once connected. */
export async function connectStomp(
  base: { http: string; ws: string },
  opts: {
    sockjs?: boolean;
    path?: string;
    heartbeat?: number;
    connectHeaders?: Record<string, string>;
  } = {},
): Promise<{ client: Client; connected: IFrame; messages: IMessage[]; errors: IFrame[] }> {
  const messages: IMessage[] = [];
  const errors: IFrame[] = [];
  const client = new Client({
    webSocketFactory: () =>
      opts.sockjs
        ? new SockJsClientSocket(new WebSocket(sockjsTransportUrl(base.http, opts.path ?? '/ws/connect')))
        : new WebSocket(`${base.ws}${opts.path ?? '/ws/connect'}`, ['v12.stomp', 'v11.stomp', 'v10.stomp']),
    connectHeaders: opts.connectHeaders ?? { poolId: '0.01btc' },
    heartbeatIncoming: opts.heartbeat ?? 0,
    heartbeatOutgoing: opts.heartbeat ?? 0,
    reconnectDelay: 0,
    debug: () => {},
  });
  const connected = await new Promise<IFrame>((resolve, reject) => {
    client.onConnect = resolve;
    client.onStompError = (f) => {
      errors.push(f);
      reject(new Error(`STOMP error ${f.headers.message}`));
    };
    client.onWebSocketError = (e) => reject(new Error(`WebSocket error ${String(e)}`));
    client.activate();
  });
  client.onStompError = (f) => errors.push(f);
  return { client, connected, messages, errors };
}

/** The session id (`user-name`) of a CONNECTED frame, also inside a SockJS `a[...]` frame. */
export function userName(text: string): string {
  const m = /user-name:([0-9a-f-]{36})/.exec(text);
  if (!m) throw new Error(`No user-name in ${JSON.stringify(text.slice(0, 200))}`);
  return m[1]!;
}

/** Polls `pred` until true. */
export async function until(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
