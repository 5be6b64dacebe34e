/**
 * Liveness on real sockets: STOMP heart-beats both ways (raw and SockJS),
 * dead-client detection after 3× the client's interval, the CONNECT timeout,
 * slow consumers, SockJS `h` frames, and server shutdown.
 */
import { Client } from '@stomp/stompjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { HttpServerHandle } from '#coordinator/transport/http_server.ts';
import { SockJsClientSocket, sockjsTransportUrl } from '#shared/sockjs/client_socket.ts';
import { sockjsClientMessage } from '#shared/sockjs/framing.ts';
import {
  connectStomp,
  type EchoApp,
  RawClient,
  startTestServer,
  until,
  userName,
} from './transport_fixture.ts';

let app: EchoApp;
let server: HttpServerHandle;
let base: { http: string; ws: string };

beforeAll(async () => {
  const t = await startTestServer({
    heartbeatMs: 100,
    connectTimeoutMs: 300,
    maxBufferedBytes: 256 * 1024,
    sockjsHeartbeatMs: 150,
  });
  app = t.app;
  server = t.server;
  base = t;
});
afterAll(async () => {
  await server.close();
});

describe('STOMP heart-beats', () => {
  it('server sends EOLs at the negotiated interval and keeps a beating client', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    c.send('CONNECT\naccept-version:1.2\nheart-beat:100,100\n\n\0');
    await c.waitFor((m) => m.length === 1);
    expect(c.messages[0]).toContain('heart-beat:100,100\n');
    const beat = setInterval(() => c.send('\n'), 50);
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(beat);
    const eols = c.messages.filter((m) => m === '\n').length;
    expect(eols).toBeGreaterThanOrEqual(4); // ~10 expected; a loaded machine delays timers
    expect(eols).toBeLessThanOrEqual(12);
    expect(c.closeCode).toBeNull();
    c.ws.close();
  });

  it('uses the larger interval: client asks 300 ms, server offers 100 → every 300 ms', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    c.send('CONNECT\naccept-version:1.2\nheart-beat:0,300\n\n\0');
    await new Promise((r) => setTimeout(r, 1000));
    const eols = c.messages.filter((m) => m === '\n').length;
    expect(eols).toBeGreaterThanOrEqual(1); // ~3 expected; 100 ms would give ~10
    expect(eols).toBeLessThanOrEqual(4);
    c.ws.close();
  });

  it('drops a client silent for 3× its interval and calls onDisconnect', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    const t0 = Date.now();
    c.send('CONNECT\naccept-version:1.2\nheart-beat:100,0\n\n\0');
    const code = await c.closedP;
    const elapsed = Date.now() - t0;
    expect(code).toBe(1006); // terminated, no closing handshake
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(2000);
    await app.waitDisconnectOf(userName(c.messages[0]!));
  });

  it('never drops a client that asked for no heart-beats', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    c.send('CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\0');
    await new Promise((r) => setTimeout(r, 700));
    expect(c.closeCode).toBeNull();
    expect(c.messages.filter((m) => m === '\n')).toHaveLength(0);
    c.ws.close();
  });

  it('stompjs with 100 ms heart-beats both ways stays connected, raw and over SockJS', async () => {
    for (const sockjs of [false, true]) {
      const { client } = await connectStomp(base, { heartbeat: 100, sockjs });
      let beats = 0;
      client.onHeartbeatReceived = () => beats++;
      let closed = false;
      client.onWebSocketClose = () => {
        closed = true;
      };
      await new Promise((r) => setTimeout(r, 800));
      expect(closed).toBe(false);
      expect(client.connected).toBe(true);
      expect(beats).toBeGreaterThanOrEqual(3);
      await client.deactivate();
    }
  });

  it('SockJS: STOMP heart-beats ride in a["\\n"], and the server drops a silent SockJS client too', async () => {
    const c = new RawClient(sockjsTransportUrl(base.http, '/ws/connect'), []);
    await c.opened;
    c.send(sockjsClientMessage(['CONNECT\naccept-version:1.2\nheart-beat:100,100\n\n\0']));
    await c.waitFor((m) => m.filter((x) => x === 'a["\\n"]').length >= 2);
    expect(await c.closedP).toBe(1006);
    await app.waitDisconnectOf(userName(c.messages[1]!));
  });

  it('SockJS: sends h frames while STOMP is silent', async () => {
    const c = new RawClient(sockjsTransportUrl(base.http, '/ws/connect'), []);
    await c.opened;
    c.send(sockjsClientMessage(['CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\0']));
    await c.waitFor((m) => m.filter((x) => x === 'h').length >= 3, 2000);
    expect(c.messages[0]).toBe('o');
    expect(c.messages[1]).toMatch(/^a\["CONNECTED/);
    c.ws.close();
  });
});

describe('limits', () => {
  it('closes a connection that never sends CONNECT', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    await c.waitFor((m) => m.length === 1, 2000);
    expect(c.messages[0]).toMatch(/^ERROR\nmessage:No CONNECT frame received in time/);
    expect(await c.closedP).toBe(1002);
  });

  it('terminates a slow consumer instead of buffering without bound', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    c.send('CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\0');
    c.send('SUBSCRIBE\nid:0\ndestination:/private/reply\n\n\0');
    await c.waitFor((m) => m.length === 2);
    const id = userName(c.messages[0]!);
    // Stop reading: the kernel buffers fill, then ws.bufferedAmount grows past the cap.
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    c.send('SEND\ndestination:/ws/signing\n\nburst:20000\0');
    const gone = await app.waitDisconnectOf(id, 10000);
    expect(gone.closed).toBe(true);
    c.ws.terminate();
  });

  it('counts sessions and closes them all on shutdown, calling onDisconnect for each', async () => {
    const t = await startTestServer({ heartbeatMs: 0 });
    const clients = await Promise.all([0, 1, 2].map(() => connectStomp(t)));
    const sock = await connectStomp(t, { sockjs: true });
    expect(t.server.sessions()).toBe(4);
    const closes: number[] = [];
    for (const c of [...clients, sock])
      c.client.onWebSocketClose = (e: { code: number }) => closes.push(e.code);
    await t.server.close();
    await until(() => closes.length === 4);
    expect(closes.sort()).toEqual([1000, 1000, 1000, 3000]);
    expect(t.app.disconnects).toHaveLength(4);
    expect(t.server.sessions()).toBe(0);
    for (const c of [...clients, sock]) await c.client.deactivate();
    // A stopped server refuses new connections.
    const ws = new WebSocket(`${t.ws}/ws/connect`);
    await new Promise((r) => ws.once('error', r));
  });

  it('a client without STOMP heart-beats still notices a dead server through SockJS close', async () => {
    const t = await startTestServer({ heartbeatMs: 0 });
    const client = new Client({
      webSocketFactory: () =>
        new SockJsClientSocket(new WebSocket(sockjsTransportUrl(t.http, '/ws/connect'))),
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      reconnectDelay: 0,
      debug: () => {},
    });
    const connected = new Promise<void>((r) => {
      client.onConnect = () => r();
    });
    const closed = new Promise<number>((r) => {
      client.onWebSocketClose = (e: { code: number }) => r(e.code);
    });
    client.activate();
    await connected;
    await t.server.close();
    expect(await closed).toBe(3000);
    await client.deactivate();
  });
});
