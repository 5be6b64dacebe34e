/**
 * SockJS details the official SockJS protocol suite (sockjs-protocol 0.3.x)
 * and sockjs-client check, on a real socket: the server-id segment does not
 * name the session, cacheable CORS preflights, `Origin: null`, the
 * JSESSIONID cookie promised by `cookie_needed`, a second concurrent
 * `xhr_streaming` refused in chunks, and the 400/405 answers on the
 * WebSocket URLs. Raw HTTP over `node:net` where fetch cannot send the
 * headers (`Connection`, `Upgrade`) or hides the chunk framing.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpServerHandle } from '#coordinator/transport/http_server.ts';
import { sockjsClientMessage } from '#shared/sockjs/framing.ts';
import { CONNECT, type EchoApp, SUBSCRIBE, startTestServer, until, userName } from './transport_fixture.ts';

let app: EchoApp;
let server: HttpServerHandle;
let base: string;

beforeAll(async () => {
  const t = await startTestServer({ heartbeatMs: 0, sockjsDisconnectDelayMs: 1500 });
  app = t.app;
  server = t.server;
  base = t.http;
});
afterAll(async () => {
  await server.close();
});

const sid = (): string => crypto.randomUUID().replaceAll('-', '');

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  /** Body chunks as framed by chunked encoding (one element when Content-Length was used). */
  chunks: string[];
}

/** Sends one raw HTTP/1.1 request and reads the whole response (the server closes or ends the body). */
function rawHttp(request: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const finish = (): void => {
      socket.destroy();
      const text = data.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd < 0) {
        reject(new Error(`No HTTP head in ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const [statusLine, ...lines] = text.slice(0, headEnd).split('\r\n');
      const headers = new Map<string, string>();
      for (const l of lines) {
        const i = l.indexOf(':');
        headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
      }
      let rest = text.slice(headEnd + 4);
      const chunks: string[] = [];
      if (headers.get('transfer-encoding') === 'chunked') {
        for (;;) {
          const eol = rest.indexOf('\r\n');
          const size = Number.parseInt(rest.slice(0, eol), 16);
          if (!(size > 0)) break;
          chunks.push(rest.slice(eol + 2, eol + 2 + size));
          rest = rest.slice(eol + 2 + size + 2);
        }
      } else if (rest !== '') chunks.push(rest);
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, chunks });
    };
    socket.on('data', (d) => {
      data = Buffer.concat([data, d]);
      const text = data.toString('latin1');
      // A chunked body is complete at its terminating zero-size chunk.
      if (/\r\n\r\n/.test(text) && /transfer-encoding: chunked/i.test(text) && text.endsWith('\r\n0\r\n\r\n'))
        finish();
    });
    socket.on('end', finish);
    socket.on('error', reject);
    socket.write(request);
  });
}

const post = (path: string, headers: Record<string, string> = {}, body?: string): Promise<Response> =>
  fetch(`${base}${path}`, { method: 'POST', headers, ...(body === undefined ? {} : { body }) });

describe('session lookup', () => {
  it('ignores the server-id segment: 000/S, 999/S and 555/S are one session', async () => {
    const s = sid();
    expect(await (await post(`/ws/connect/000/${s}/xhr`)).text()).toBe('o\n');
    const pending = post(`/ws/connect/999/${s}/xhr`).then((r) => r.text());
    const sent = await post(`/ws/connect/555/${s}/xhr_send`, {}, sockjsClientMessage([CONNECT]));
    expect(sent.status).toBe(204);
    const first = await pending;
    expect(first).toMatch(/^a\["CONNECTED\\n/);
    const id = userName(first);
    await post(`/ws/connect/abc/${s}/xhr_send`, {}, sockjsClientMessage([SUBSCRIBE]));
    expect(await (await post(`/ws/connect/1/${s}/xhr`)).text()).toMatch(
      /^a\["MESSAGE\\ndestination:\/private\/reply\\n/,
    );
    // One STOMP session only: the subscription reached the session that got CONNECTED.
    expect(app.subscribes.filter((x) => x.session.id === id)).toHaveLength(1);
  });

  it('keeps endpoints apart: the same session id on another endpoint is another session', async () => {
    const s = sid();
    expect(await (await post(`/ws/connect/0/${s}/xhr`)).text()).toBe('o\n');
    expect((await post(`/ws/signing/0/${s}/xhr_send`, {}, '["x"]')).status).toBe(404);
  });
});

describe('CORS', () => {
  for (const [path, methods] of [
    ['/ws/connect/info', 'OPTIONS, GET'],
    ['/ws/connect/000/abc/xhr', 'OPTIONS, POST'],
    ['/ws/connect/000/abc/xhr_send', 'OPTIONS, POST'],
    ['/ws/connect/000/abc/xhr_streaming', 'OPTIONS, POST'],
  ] as const) {
    it(`preflight ${path} is cacheable for a year, for every origin`, async () => {
      for (const origin of [undefined, 'http://test', 'null']) {
        const before = Date.now();
        const res = await fetch(`${base}${path}`, {
          method: 'OPTIONS',
          headers: origin ? { origin, 'access-control-request-headers': 'x-a' } : {},
        });
        expect(res.status).toBe(204);
        expect(await res.text()).toBe('');
        expect(res.headers.get('cache-control')).toBe('public, max-age=31536000');
        const expires = Date.parse(res.headers.get('expires') ?? '');
        expect(expires).toBeGreaterThanOrEqual(before - 1000 + 31_536_000_000);
        expect(expires).toBeLessThanOrEqual(Date.now() + 1000 + 31_536_000_000);
        expect(Number(res.headers.get('access-control-max-age'))).toBe(31536000);
        expect(res.headers.get('access-control-allow-methods')).toBe(methods);
        if (origin === 'http://test') {
          expect(res.headers.get('access-control-allow-origin')).toBe('http://test');
          expect(res.headers.get('access-control-allow-credentials')).toBe('true');
          expect(res.headers.get('access-control-allow-headers')).toBe('x-a');
        } else {
          expect(res.headers.get('access-control-allow-origin')).toBe('*');
          expect(res.headers.get('access-control-allow-credentials')).toBeNull();
        }
      }
    });
  }

  it('Origin: null (and no Origin) gets * without credentials on info and the transports', async () => {
    for (const headers of [{ origin: 'null' }, {}] as Array<Record<string, string>>) {
      const info = await fetch(`${base}/ws/connect/info`, { headers });
      const xhr = await post(`/ws/connect/0/${sid()}/xhr`, headers);
      for (const res of [info, xhr]) {
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
        expect(res.headers.get('access-control-allow-credentials')).toBeNull();
        expect(res.headers.get('cache-control')).toBe('no-store, no-cache, must-revalidate, max-age=0');
      }
    }
    const real = await post(`/ws/connect/0/${sid()}/xhr`, { origin: 'https://wallet.example' });
    expect(real.headers.get('access-control-allow-origin')).toBe('https://wallet.example');
    expect(real.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('preflights of unknown paths are 404, not a blanket 204', async () => {
    expect((await fetch(`${base}/ws/connect/0/abc/eventsource`, { method: 'OPTIONS' })).status).toBe(404);
    expect((await fetch(`${base}/ws/connect/whatever`, { method: 'OPTIONS' })).status).toBe(404);
  });
});

describe('JSESSIONID (cookie_needed: true)', () => {
  it('info announces cookie_needed and every XHR transport sets the cookie', async () => {
    const info = (await (await fetch(`${base}/ws/connect/info`)).json()) as { cookie_needed: boolean };
    expect(info.cookie_needed).toBe(true);
    const s = sid();
    const open = await post(`/ws/connect/0/${s}/xhr`);
    expect(open.headers.get('set-cookie')).toBe('JSESSIONID=dummy;path=/');
    await open.text();
    const send = await post(`/ws/connect/0/${s}/xhr_send`, { cookie: 'a=1; JSESSIONID=abcdef' }, '[]');
    expect(send.status).toBe(204);
    expect(send.headers.get('set-cookie')).toBe('JSESSIONID=abcdef;path=/');
    const st = await post(`/ws/connect/0/${sid()}/xhr_streaming`, { cookie: 'JSESSIONID=n0de-7' });
    expect(st.headers.get('set-cookie')).toBe('JSESSIONID=n0de-7;path=/');
    await st.body?.cancel();
  });

  it('a cookie value that is not a short token is replaced by dummy', async () => {
    for (const cookie of [
      'JSESSIONID=a b',
      `JSESSIONID=${'x'.repeat(129)}`,
      'JSESSIONID=',
      'XJSESSIONID=abc',
    ]) {
      const res = await post(`/ws/connect/0/${sid()}/xhr`, { cookie });
      expect(res.headers.get('set-cookie'), cookie).toBe('JSESSIONID=dummy;path=/');
      await res.text();
    }
  });
});

describe('xhr_streaming: a second concurrent receiver', () => {
  it('gets the prelude and c[2010,...] as chunks of a chunked response', async () => {
    const s = sid();
    const first = await post(`/ws/connect/0/${s}/xhr_streaming`);
    const reader = first.body!.getReader();
    let seen = '';
    while (!seen.includes('o\n')) seen += new TextDecoder().decode((await reader.read()).value);
    const second = await rawHttp(
      `POST /ws/connect/0/${s}/xhr_streaming HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    expect(second.status).toBe(200);
    expect(second.headers.get('content-length')).toBeUndefined();
    expect(second.headers.get('transfer-encoding')).toBe('chunked');
    expect(second.chunks).toEqual([`${'h'.repeat(2048)}\n`, 'c[2010,"Another connection still open"]\n']);
    // The first stream is untouched and still carries the session.
    await post(`/ws/connect/0/${s}/xhr_send`, {}, sockjsClientMessage([CONNECT]));
    while (!seen.includes('CONNECTED')) seen += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
  });

  it('a closed session answers a new xhr_streaming in chunks too', async () => {
    const s = sid();
    expect(await (await post(`/ws/connect/0/${s}/xhr`)).text()).toBe('o\n');
    await post(`/ws/connect/0/${s}/xhr_send`, {}, sockjsClientMessage([CONNECT]));
    const connected = await (await post(`/ws/connect/0/${s}/xhr`)).text();
    const id = userName(connected);
    await post(`/ws/connect/0/${s}/xhr_send`, {}, sockjsClientMessage(['DISCONNECT\n\n\0']));
    await until(() => app.disconnects.some((d) => d.id === id), 5000, 'disconnect');
    const again = await rawHttp(
      `POST /ws/connect/0/${s}/xhr_streaming HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    expect(again.headers.get('transfer-encoding')).toBe('chunked');
    expect(again.chunks).toEqual([`${'h'.repeat(2048)}\n`, 'c[3000,"Go away!"]\n']);
  });
});

describe('WebSocket URLs without a handshake', () => {
  const wsPaths = ['/ws/connect/000/abc/websocket', '/ws/connect/websocket', '/ws/signing/1/x/websocket'];

  it('a plain GET is 400 with Spring texts', async () => {
    for (const p of wsPaths) {
      const res = await fetch(`${base}${p}`);
      expect(res.status, p).toBe(400);
      expect(await res.text()).toBe('Can "Upgrade" only to "WebSocket".');
    }
    const noConnection = await rawHttp(
      'GET /ws/connect/000/abc/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: close\r\n\r\n',
    );
    expect(noConnection.status).toBe(400);
    expect(noConnection.chunks.join('')).toBe('"Connection" must be "upgrade".');
    const wrongUpgrade = await rawHttp(
      'GET /ws/connect/000/abc/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n',
    );
    expect(wrongUpgrade.status).toBe(400);
    expect(wrongUpgrade.chunks.join('')).toBe('Can "Upgrade" only to "WebSocket".');
  });

  it('other methods are 405 with Allow: GET and no body, with or without Upgrade headers', async () => {
    for (const extra of ['Upgrade: WebSocket\r\nConnection: Upgrade\r\n', '']) {
      for (const p of wsPaths) {
        const res = await rawHttp(
          `POST ${p} HTTP/1.1\r\nHost: x\r\n${extra}Content-Length: 0\r\nConnection: ${extra ? 'Upgrade' : 'close'}\r\n\r\n`,
        );
        expect(res.status, `${p} ${extra}`).toBe(405);
        expect(res.headers.get('allow')).toBe('GET');
        expect(res.headers.get('content-type')).toBeUndefined();
        expect(res.chunks.join('')).toBe('');
      }
    }
    const opt = await fetch(`${base}/ws/connect/0/abc/websocket`, { method: 'OPTIONS' });
    expect([opt.status, opt.headers.get('allow')]).toEqual([405, 'GET']);
  });

  it('a GET on an XHR transport is 405 with Allow: POST,OPTIONS; POST /info is 405', async () => {
    const res = await fetch(`${base}/ws/connect/0/abc/xhr`);
    expect([res.status, res.headers.get('allow'), await res.text()]).toEqual([405, 'POST,OPTIONS', '']);
    const info = await post('/ws/connect/info');
    expect([info.status, info.headers.get('allow')]).toEqual([405, 'GET,OPTIONS']);
  });
});
