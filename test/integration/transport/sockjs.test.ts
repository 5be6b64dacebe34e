/**
 * SockJS on a real socket, the way Java's `SockJsClient` uses it: `GET
 * /ws/connect/info`, then the websocket transport at
 * `/ws/connect/{server}/{session}/websocket`; then the XHR fallbacks
 * (`xhr_streaming`, `xhr`, `xhr_send`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpServerHandle } from '#coordinator/transport/http_server.ts';
import { MESSAGE_TYPES } from '#shared/protocol/constants.ts';
import { fetchSockjsInfo, sockjsTransportUrl } from '#shared/sockjs/client_socket.ts';
import { decodeSockjsServerFrame, sockjsClientMessage } from '#shared/sockjs/framing.ts';
import {
  CONNECT,
  connectStomp,
  type EchoApp,
  POOL_RESPONSE,
  RawClient,
  SUBSCRIBE,
  startTestServer,
  until,
} from './transport_fixture.ts';

let app: EchoApp;
let server: HttpServerHandle;
let base: { http: string; ws: string };

beforeAll(async () => {
  const t = await startTestServer({ heartbeatMs: 20000, sockjsDisconnectDelayMs: 1500 });
  app = t.app;
  server = t.server;
  base = t;
});
afterAll(async () => {
  await server.close();
});

describe('SockJS info and greeting', () => {
  it('GET /ws/connect/info answers like Spring', async () => {
    const res = await fetch(`${base.http}/ws/connect/info`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    expect(res.headers.get('cache-control')).toContain('no-cache');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ websocket: true, origins: ['*:*'], cookie_needed: true });
    expect(Number.isInteger(body.entropy)).toBe(true);
    expect(await fetchSockjsInfo(base.http, '/ws/connect')).toMatchObject({ websocket: true });
    expect(await fetchSockjsInfo(base.http, '/ws/registerInput')).toMatchObject({ websocket: true });
  });

  it('greets on GET /ws/connect and answers CORS preflights', async () => {
    const res = await fetch(`${base.http}/ws/connect`);
    expect(await res.text()).toBe('Welcome to SockJS!\n');
    const pre = await fetch(`${base.http}/ws/connect/info`, {
      method: 'OPTIONS',
      headers: { origin: 'http://x' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://x');
    expect(pre.headers.get('access-control-allow-methods')).toBe('OPTIONS, GET');
  });
});

describe('SockJS websocket transport', () => {
  it('stompjs over SockJsClientSocket: the Java client flow', async () => {
    await fetchSockjsInfo(base.http, '/ws/connect');
    const { client, connected } = await connectStomp(base, { sockjs: true });
    expect(connected.headers.version).toBe('1.2');
    const sessionId = connected.headers['user-name']!;
    const got: Array<{ headers: Record<string, string>; body: string }> = [];
    client.subscribe('/private/reply', (m) => got.push({ headers: m.headers, body: m.body }), {
      poolId: '0.01btc',
      protocolVersion: '0.23',
    });
    await until(() => got.length === 1);
    expect(got[0]!.headers).toMatchObject({
      destination: '/private/reply',
      subscription: 'sub-0',
      messageType: MESSAGE_TYPES.SubscribePoolResponse,
      protocolVersion: '0.23',
      'content-type': 'application/json;charset=UTF-8',
      'content-length': '127',
    });
    expect(JSON.parse(got[0]!.body)).toEqual(POOL_RESPONSE);
    const receipt = new Promise<void>((r) => client.watchForReceipt('x', () => r()));
    client.publish({
      destination: '/ws/confirmInput',
      body: 'with "quotes" and \u2028 and é',
      headers: { receipt: 'x' },
    });
    await receipt;
    await until(() => got.length === 2);
    expect(JSON.parse(got[1]!.body).message).toBe('with "quotes" and \u2028 and é');
    const s = app.sends.find((x) => x.session.id === sessionId)!;
    expect(s.session.transport).toBe('sockjs-websocket');
    await client.deactivate();
    await app.waitDisconnectOf(sessionId);
  });

  it('speaks o / a[...] / c[...] on the wire and accepts a bare JSON string', async () => {
    const url = sockjsTransportUrl(base.http, '/ws/connect');
    const c = new RawClient(url, []);
    await c.opened;
    await c.waitFor((m) => m[0] === 'o');
    c.send(JSON.stringify(CONNECT)); // single string form
    await c.waitFor((m) => m.length === 2);
    const connected = decodeSockjsServerFrame(c.messages[1]!);
    expect(connected.type).toBe('messages');
    const frame = (connected as { messages: string[] }).messages[0]!;
    expect(frame).toMatch(/^CONNECTED\nversion:1\.2\nheart-beat:20000,20000\nuser-name:[0-9a-f-]{36}\n\n\0$/);
    expect(c.messages[1]).toMatch(/^a\["CONNECTED\\nversion:1\.2\\n.*\\u0000"\]$/);
    c.send(sockjsClientMessage([SUBSCRIBE, 'SEND\ndestination:/ws/signing\n\nclose-me\0']));
    await c.waitFor((m) => m.some((x) => x.startsWith('c[')));
    expect(c.messages.at(-1)).toBe('c[3000,"Go away!"]');
    expect(await c.closedP).toBe(1000);
  });

  it('closes with c[1002] after a STOMP ERROR and with 1007 on non-JSON data', async () => {
    const a = new RawClient(sockjsTransportUrl(base.http, '/ws/connect'), []);
    await a.opened;
    a.send(sockjsClientMessage(['BAD\n\n\0']));
    await a.waitFor((m) => m.some((x) => x.startsWith('c[')));
    expect(a.messages[1]).toMatch(/^a\["ERROR\\nmessage:Frame \\"BAD\\" before CONNECT/);
    expect(a.messages.at(-1)).toBe('c[1002,"Protocol error"]');
    expect(await a.closedP).toBe(1002);

    const b = new RawClient(sockjsTransportUrl(base.http, '/ws/connect'), []);
    await b.opened;
    b.send('CONNECT not json');
    await b.waitFor((m) => m.some((x) => x.startsWith('c[')));
    expect(b.messages.at(-1)).toBe('c[1007,"Bad data"]');
    expect(await b.closedP).toBe(1007);
  });

  it('serves the other endpoints too', async () => {
    const { client } = await connectStomp(base, { sockjs: true, path: '/ws/revealOutput' });
    await client.deactivate();
  });
});

/** Reads a streaming body incrementally. */
class StreamReader {
  text = '';
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #dec = new TextDecoder();
  done = false;
  constructor(res: Response) {
    this.#reader = res.body!.getReader();
    void this.#pump();
  }
  async #pump(): Promise<void> {
    for (;;) {
      const { value, done } = await this.#reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) {
        this.done = true;
        return;
      }
      this.text += this.#dec.decode(value, { stream: true });
    }
  }
  /** Lines after the 2048-byte prelude. */
  lines(): string[] {
    return this.text.split('\n').filter((l) => l !== '' && !/^h{2048}$/.test(l));
  }
  cancel(): void {
    void this.#reader.cancel().catch(() => {});
  }
}

describe('SockJS XHR transports', () => {
  const sid = () => crypto.randomUUID().replaceAll('-', '');

  it('xhr_streaming + xhr_send carry a whole STOMP session', async () => {
    const path = `${base.http}/ws/connect/42/${sid()}`;
    const res = await fetch(`${path}/xhr_streaming`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/javascript;charset=UTF-8');
    const r = new StreamReader(res);
    await until(() => r.lines().includes('o'));
    expect(r.text.startsWith(`${'h'.repeat(2048)}\n`)).toBe(true);
    const send = (msgs: string[]) =>
      fetch(`${path}/xhr_send`, { method: 'POST', body: sockjsClientMessage(msgs) });
    expect((await send([CONNECT])).status).toBe(204);
    await until(() => r.lines().some((l) => l.includes('CONNECTED')));
    const sessionId = /user-name:([0-9a-f-]{36})/.exec(r.text)![1]!;
    await send([SUBSCRIBE, 'SEND\ndestination:/ws/signing\n\nhello\0']);
    await until(() => r.lines().some((l) => l.includes('hello')));
    const frames = r
      .lines()
      .map(decodeSockjsServerFrame)
      .flatMap((f) => (f.type === 'messages' ? f.messages : []));
    expect(frames.some((f) => f.startsWith('MESSAGE\ndestination:/private/reply\n'))).toBe(true);
    expect(app.sends.find((s) => s.session.id === sessionId)!.session.transport).toBe('sockjs-xhr');
    // A second receiver while the stream is open is refused.
    const second = await fetch(`${path}/xhr`, { method: 'POST' });
    expect(await second.text()).toBe('c[2010,"Another connection still open"]\n');
    await send(['DISCONNECT\nreceipt:z\n\n\0']);
    await until(() => r.lines().includes('c[3000,"Go away!"]'));
    await app.waitDisconnectOf(sessionId);
    r.cancel();
  });

  it('xhr_streaming: a response ends after 128 KiB and the next one continues the session in order', async () => {
    const path = `${base.http}/ws/connect/42/${sid()}`;
    const frames: string[] = [];
    let responses = 0;
    let opens = 0;
    const readOne = async (): Promise<void> => {
      const res = await fetch(`${path}/xhr_streaming`, { method: 'POST' });
      responses++;
      const text = await res.text(); // ends when the server closes this response
      for (const line of text.split('\n')) {
        if (line === '' || /^h+$/.test(line)) continue;
        const f = decodeSockjsServerFrame(line);
        if (f.type === 'open') opens++;
        if (f.type === 'messages') frames.push(...f.messages);
        if (f.type === 'close') throw new Error(`Session closed: ${line}`);
      }
    };
    const first = readOne();
    await until(() => responses === 1);
    const send = (msgs: string[]) =>
      fetch(`${path}/xhr_send`, { method: 'POST', body: sockjsClientMessage(msgs) });
    await send([CONNECT, SUBSCRIBE, 'SEND\ndestination:/ws/signing\n\nburst:1500\0']);
    await first;
    while (frames.filter((f) => f.includes('"message":"m')).length < 1500) await readOne();
    expect(responses).toBeGreaterThanOrEqual(2);
    expect(opens).toBe(1);
    const order = frames.flatMap((f) => {
      const m = /"message":"m(\d+)"/.exec(f);
      return m ? [Number(m[1])] : [];
    });
    expect(order).toEqual(Array.from({ length: 1500 }, (_, i) => i));
    const id = /user-name:([0-9a-f-]{36})/.exec(frames[0]!)![1]!;
    await until(() => app.disconnects.some((s) => s.id === id), 10000, 'session timeout'); // no receiver for 1.5 s
  });

  it('xhr polling: o, then a[...] per poll; session ends when polling stops', async () => {
    const path = `${base.http}/ws/connect/7/${sid()}`;
    const poll = async () => (await fetch(`${path}/xhr`, { method: 'POST' })).text();
    expect(await poll()).toBe('o\n');
    const pending = poll();
    await fetch(`${path}/xhr_send`, { method: 'POST', body: sockjsClientMessage([CONNECT]) });
    const first = await pending;
    expect(first).toMatch(/^a\["CONNECTED\\n/);
    const id = /user-name:([0-9a-f-]{36})/.exec(first)![1]!;
    await fetch(`${path}/xhr_send`, { method: 'POST', body: sockjsClientMessage([SUBSCRIBE]) });
    expect(await poll()).toMatch(/^a\["MESSAGE\\ndestination:\/private\/reply\\n/);
    // The disconnect delay is 1.5 s in this suite.
    await until(() => app.disconnects.some((s) => s.id === id), 10000, 'session timeout');
    expect(await poll()).toBe('c[3000,"Go away!"]\n');
  });

  it('xhr_send errors: unknown session 404, empty 500, broken JSON 500', async () => {
    const path = `${base.http}/ws/connect/7/${sid()}`;
    expect((await fetch(`${path}/xhr_send`, { method: 'POST', body: '["x"]' })).status).toBe(404);
    expect(await (await fetch(`${path}/xhr`, { method: 'POST' })).text()).toBe('o\n');
    const empty = await fetch(`${path}/xhr_send`, { method: 'POST', body: '' });
    expect([empty.status, await empty.text()]).toEqual([500, 'Payload expected.']);
    const broken = await fetch(`${path}/xhr_send`, { method: 'POST', body: '[1,' });
    expect([broken.status, await broken.text()]).toEqual([500, 'Broken JSON encoding.']);
    const huge = await fetch(`${path}/xhr_send`, {
      method: 'POST',
      body: JSON.stringify(['x'.repeat(200_000)]),
    });
    expect(huge.status).toBe(413);
    expect((await fetch(`${base.http}/ws/connect/7/a.b/xhr`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${base.http}/ws/connect/7/ab/eventsource`, { method: 'POST' })).status).toBe(404);
  });
});
