/**
 * Raw STOMP over WebSocket on a real socket: @stomp/stompjs 7.5 over `ws`
 * (what Android-style and stompjs clients do) and byte-level checks of the
 * frames the server writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpServerHandle } from '#coordinator/transport/http_server.ts';
import { MESSAGE_TYPES } from '#shared/protocol/constants.ts';
import {
  CONNECT,
  connectStomp,
  type EchoApp,
  POOL_RESPONSE,
  RawClient,
  SUBSCRIBE,
  startTestServer,
  until,
  userName,
} from './transport_fixture.ts';

let app: EchoApp;
let server: HttpServerHandle;
let base: { http: string; ws: string };

beforeAll(async () => {
  const t = await startTestServer({ heartbeatMs: 20000 });
  app = t.app;
  server = t.server;
  base = t;
});
afterAll(async () => {
  await server.close();
});

describe('stompjs over raw WebSocket', () => {
  it('connects, subscribes, receives private messages with the Whirlpool headers, sends, gets receipts', async () => {
    const { client, connected } = await connectStomp(base);
    expect(connected.headers.version).toBe('1.2');
    expect(connected.headers['heart-beat']).toBe('20000,20000');
    const sessionId = connected.headers['user-name']!;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(server.sessions()).toBeGreaterThanOrEqual(1);

    const received: Array<{ headers: Record<string, string>; body: string }> = [];
    client.subscribe('/private/reply', (m) => received.push({ headers: m.headers, body: m.body }), {
      poolId: '0.01btc',
      protocolVersion: '0.23',
    });
    await until(() => received.length === 1, 5000, 'SubscribePoolResponse');
    const first = received[0]!;
    expect(first.headers.destination).toBe('/private/reply');
    expect(first.headers.subscription).toBe('sub-0');
    expect(first.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(first.headers.messageType).toBe(MESSAGE_TYPES.SubscribePoolResponse);
    expect(first.headers.protocolVersion).toBe('0.23');
    expect(first.headers['content-length']).toBe(String(Buffer.byteLength(first.body)));
    expect(first.headers['message-id']).toMatch(new RegExp(`^${sessionId}-\\d+$`));
    expect(JSON.parse(first.body)).toEqual(POOL_RESPONSE);

    const sub = app.subscribes.find((s) => s.session.id === sessionId)!;
    expect(sub.destination).toBe('/private/reply');
    expect(sub.headers.get('poolId')).toBe('0.01btc');
    expect(Object.fromEntries(sub.session.connectHeaders)).toEqual({
      poolId: '0.01btc',
      'accept-version': '1.2,1.1,1.0',
      'heart-beat': '0,0',
    });
    expect(Object.fromEntries(sub.headers)).toEqual({
      id: 'sub-0',
      destination: '/private/reply',
      poolId: '0.01btc',
      protocolVersion: '0.23',
    });
    expect(sub.session.transport).toBe('websocket');
    expect(sub.session.ip).toBe('127.0.0.1');

    const receipt = new Promise<void>((resolve) => client.watchForReceipt('r-1', () => resolve()));
    client.publish({
      destination: '/ws/registerInput',
      body: '{"poolId":"0.01btc","x":"é<>&"}',
      headers: { protocolVersion: '0.23', receipt: 'r-1' },
    });
    await receipt;
    await until(() => received.length === 2, 5000, 'echo');
    const send = app.sends.find((s) => s.session.id === sessionId)!;
    expect(send.destination).toBe('/ws/registerInput');
    expect(send.body).toBe('{"poolId":"0.01btc","x":"é<>&"}');
    expect(Object.fromEntries(send.headers)).toEqual({
      destination: '/ws/registerInput',
      protocolVersion: '0.23',
      receipt: 'r-1',
      'content-length': String(Buffer.byteLength(send.body)),
    });
    expect(received[1]!.headers.messageType).toBe(MESSAGE_TYPES.ErrorResponse);
    expect(JSON.parse(received[1]!.body)).toEqual({
      mixId: null,
      message: '{"poolId":"0.01btc","x":"é<>&"}',
    });

    await client.deactivate();
    await app.waitDisconnectOf(sessionId);
  });

  it('preserves per-session order of private messages', async () => {
    const { client } = await connectStomp(base);
    const got: string[] = [];
    client.subscribe('/private/reply', (m) => {
      if (m.headers.messageType === MESSAGE_TYPES.ErrorResponse) got.push(JSON.parse(m.body).message);
    });
    client.publish({ destination: '/ws/signing', body: 'burst:500' });
    await until(() => got.length === 500, 10000, '500 messages');
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => `m${i}`));
    await client.deactivate();
  });

  for (const path of ['/ws/connect/websocket', '/ws/registerInput', '/ws/signing/websocket']) {
    it(`also serves raw STOMP at ${path}`, async () => {
      const { client, connected } = await connectStomp(base, { path });
      expect(connected.headers.version).toBe('1.2');
      await client.deactivate();
    });
  }
});

describe('raw frames on the wire', () => {
  it('writes CONNECTED and MESSAGE exactly like Spring', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    expect(c.ws.protocol).toBe('v12.stomp');
    c.send(CONNECT);
    const [connected] = await c.waitFor((m) => m.length >= 1);
    const id = /user-name:(.*)\n/.exec(connected!)![1]!;
    expect(connected).toBe(`CONNECTED\nversion:1.2\nheart-beat:20000,20000\nuser-name:${id}\n\n\0`);
    c.send(SUBSCRIBE);
    const msgs = await c.waitFor((m) => m.length >= 2);
    const body = JSON.stringify(POOL_RESPONSE);
    expect(msgs[1]).toBe(
      'MESSAGE\ndestination:/private/reply\ncontent-type:application/json;charset=UTF-8\nsubscription:0\n' +
        `message-id:${id}-0\nmessageType:com.samourai.whirlpool.protocol.websocket.messages.SubscribePoolResponse\n` +
        `protocolVersion:0.23\ncontent-length:127\n\n${body}\0`,
    );
    c.send('SEND\ndestination:/ws/confirmInput\nreceipt:77\n\nhello\0');
    await c.waitFor((m) => m.some((x) => x === 'RECEIPT\nreceipt-id:77\n\n\0'));
    // Receipt after processing: the echo MESSAGE precedes it.
    const iEcho = c.messages.findIndex((x) => x.includes('"message":"hello"'));
    const iReceipt = c.messages.indexOf('RECEIPT\nreceipt-id:77\n\n\0');
    expect(iEcho).toBeGreaterThan(0);
    expect(iEcho).toBeLessThan(iReceipt);
    c.send('DISCONNECT\nreceipt:bye\n\n\0');
    await c.waitFor((m) => m.includes('RECEIPT\nreceipt-id:bye\n\n\0'));
    expect(await c.closedP).toBe(1000);
  });

  it('accepts frames split across and batched within WebSocket messages, binary too', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    const all = `${CONNECT}\n${SUBSCRIBE}SEND\ndestination:/ws/signing\ncontent-length:3\n\nabc\0\r\n`;
    for (let i = 0; i < all.length; i += 7) {
      const part = all.slice(i, i + 7);
      if (i % 2) c.ws.send(Buffer.from(part));
      else c.send(part);
    }
    await c.waitFor((m) => m.some((x) => x.includes('"message":"abc"')));
    c.ws.close();
  });

  it('selects the subprotocol in the client order and accepts none', async () => {
    const a = new RawClient(`${base.ws}/ws/connect`, ['v10.stomp', 'v12.stomp']);
    await a.opened;
    expect(a.ws.protocol).toBe('v10.stomp');
    a.ws.close();
    const b = new RawClient(`${base.ws}/ws/connect`, []);
    await b.opened;
    expect(b.ws.protocol).toBe('');
    b.send(CONNECT);
    await b.waitFor((m) => m.length === 1);
    b.ws.close();
  });

  it('answers an unknown path with 404', async () => {
    const c = new RawClient(`${base.ws}/ws/nope`);
    await expect(c.opened).rejects.toThrow(/404/);
    const d = new RawClient(`${base.ws}/ws/connect/1/a.b/websocket`);
    await expect(d.opened).rejects.toThrow(/404/);
  });

  it('negotiates versions: 1.1, absent means 1.0, unsupported is an ERROR', async () => {
    const a = new RawClient(`${base.ws}/ws/connect`);
    await a.opened;
    a.send('CONNECT\naccept-version:1.1\n\n\0');
    expect((await a.waitFor((m) => m.length === 1))[0]).toMatch(/^CONNECTED\nversion:1\.1\n/);
    a.ws.close();
    const b = new RawClient(`${base.ws}/ws/connect`);
    await b.opened;
    b.send('CONNECT\n\n\0');
    expect((await b.waitFor((m) => m.length === 1))[0]).toMatch(
      /^CONNECTED\nversion:1\.0\nheart-beat:20000,20000\n/,
    );
    b.ws.close();
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    c.send('CONNECT\naccept-version:2.0\n\n\0');
    expect((await c.waitFor((m) => m.length === 1))[0]).toMatch(/^ERROR\nmessage:Unsupported STOMP version/);
    expect(await c.closedP).toBe(1002);
  });

  const bad: Array<[string, string, RegExp]> = [
    [
      'SEND to a non-/ws destination',
      'SEND\ndestination:/reply-user123\n\n{}\0',
      /^ERROR\nmessage:Access is denied/,
    ],
    ['SEND without destination', 'SEND\n\n{}\0', /^ERROR\nmessage:Access is denied/],
    ['an unknown command', 'FOO\n\n\0', /^ERROR\nmessage:Unsupported command "FOO"/],
    ['a malformed frame', 'SEND\nno-colon\n\n\0', /^ERROR\nmessage:Illegal header/],
    ['an undefined escape', 'SEND\ndestination:/ws/signing\nx:\\t\n\n\0', /^ERROR\nmessage:Undefined escape/],
    ['a second CONNECT', CONNECT, /^ERROR\nmessage:Already connected/],
    [
      'SUBSCRIBE without id',
      'SUBSCRIBE\ndestination:/private/reply\nreceipt:9\n\n\0',
      /^ERROR\nmessage:SUBSCRIBE needs id.*\nreceipt-id:9\n/,
    ],
    ['a bad heart-beat', null as unknown as string, /^ERROR\nmessage:Invalid heart-beat/],
  ];
  for (const [what, frame, re] of bad) {
    it(`sends ERROR and closes on ${what}`, async () => {
      const c = new RawClient(`${base.ws}/ws/connect`);
      await c.opened;
      if (frame === null) {
        c.send('CONNECT\naccept-version:1.2\nheart-beat:x\n\n\0');
      } else {
        c.send(CONNECT);
        await c.waitFor((m) => m.length === 1);
        c.send(frame);
      }
      const msgs = await c.waitFor((m) => m.some((x) => x.startsWith('ERROR')));
      expect(msgs.find((x) => x.startsWith('ERROR'))).toMatch(re);
      expect(await c.closedP).toBe(1002);
      if (frame !== null) await app.waitDisconnectOf(userName(c.messages[0]!));
    });
  }

  it('refuses a frame before CONNECT', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    c.send(SUBSCRIBE);
    expect((await c.waitFor((m) => m.length === 1))[0]).toMatch(
      /^ERROR\nmessage:Frame "SUBSCRIBE" before CONNECT/,
    );
    expect(await c.closedP).toBe(1002);
  });

  it('refuses an oversized frame with ERROR, and an oversized WebSocket message by closing (1009)', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    c.send(CONNECT);
    await c.waitFor((m) => m.length === 1);
    for (let i = 0; i < 5; i++) c.send('x'.repeat(20000).replace(/^x/, i === 0 ? 'SEND\n\n' : 'x'));
    const msgs = await c.waitFor((m) => m.some((x) => x.startsWith('ERROR')));
    expect(msgs.find((x) => x.startsWith('ERROR'))).toMatch(/larger than 65536/);
    expect(await c.closedP).toBe(1002);

    const d = new RawClient(`${base.ws}/ws/connect`);
    await d.opened;
    d.send(CONNECT);
    await d.waitFor((m) => m.length === 1);
    d.send(`SEND\n\n${'y'.repeat(100_000)}\0`);
    expect(await d.closedP).toBe(1009);
  });

  it('server-initiated close reaches the client and calls onDisconnect once', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    c.send(CONNECT);
    c.send(SUBSCRIBE);
    await c.waitFor((m) => m.length === 2);
    const id = /user-name:(.*)\n/.exec(c.messages[0]!)![1]!;
    c.send('SEND\ndestination:/ws/revealOutput\n\nclose-me\0');
    expect(await c.closedP).toBe(1000);
    await until(() => app.disconnects.some((s) => s.id === id));
    await new Promise((r) => setTimeout(r, 100));
    const mine = app.disconnects.filter((s) => s.id === id);
    expect(mine).toHaveLength(1);
    const s = mine[0]!;
    expect(s.closed).toBe(true);
    s.sendPrivate('ErrorResponse', { mixId: null, message: 'ignored' }); // no throw after close
  });

  it('truncates a long non-ASCII close reason to what a close frame can carry', async () => {
    const c = new RawClient(`${base.ws}/ws/connect`);
    await c.opened;
    c.send(CONNECT);
    await c.waitFor((m) => m.length === 1);
    const id = /user-name:(.*)\n/.exec(c.messages[0]!)![1]!;
    c.send('SUBSCRIBE\nid:0\ndestination:/private/reply\n\n\0');
    await until(() => app.sessions.has(id));
    let reason = '';
    c.ws.on('close', (_code, r) => {
      reason = r.toString();
    });
    app.sessions.get(id)!.close('é'.repeat(200));
    expect(await c.closedP).toBe(1000);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(reason.startsWith('ééé')).toBe(true);
  });

  it('serves the caller app for other paths', async () => {
    const res = await fetch(`${base.http}/rest/system/health`);
    expect(await res.json()).toEqual({ status: 'OK', error: null });
    expect((await fetch(`${base.http}/rest/nope`)).status).toBe(404);
  });
});
