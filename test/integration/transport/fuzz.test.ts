/**
 * Fuzzing the live server: several connections (raw STOMP, SockJS websocket,
 * SockJS XHR) send fast-check-generated junk — random bytes, mutated frames,
 * malformed SockJS messages, junk JSON bodies — and reconnect whenever the
 * server drops them, while two well-behaved stompjs clients (raw and SockJS)
 * keep exchanging messages and must receive every reply, in order, without
 * being disconnected.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { HttpServerHandle } from '#coordinator/transport/http_server.ts';
import { sockjsTransportUrl } from '#shared/sockjs/client_socket.ts';
import { sockjsClientMessage } from '#shared/sockjs/framing.ts';
import { connectStomp, type EchoApp, startTestServer, until } from './transport_fixture.ts';

const VALID = [
  'CONNECT\naccept-version:1.1,1.2\nheart-beat:0,0\npoolId:0.01btc\n\n\0',
  'SUBSCRIBE\nid:0\ndestination:/private/reply\npoolId:0.01btc\nprotocolVersion:0.23\n\n\0',
  'SEND\ndestination:/ws/registerInput\nprotocolVersion:0.23\ncontent-length:2\n\n{}\0',
  'UNSUBSCRIBE\nid:0\n\n\0',
  '\n',
];

const stompChars = fc.constantFrom(
  'S',
  'E',
  'N',
  'D',
  'C',
  'O',
  '\n',
  '\r',
  ':',
  '\\',
  '\0',
  'c',
  'n',
  '9',
  '-',
  ' ',
);
const mutated = fc
  .tuple(
    fc.constantFrom(...VALID),
    fc.nat(),
    fc.string({ unit: stompChars, maxLength: 5 }),
    fc.nat({ max: 5 }),
  )
  .map(([f, at, ins, del]) => {
    const i = at % (f.length + 1);
    return f.slice(0, i) + ins + f.slice(i + del);
  });
const junkJsonSend = fc
  .oneof(fc.json(), fc.string(), fc.constant('{"poolId":'))
  .map(
    (body) => `SEND\ndestination:/ws/registerInput\nprotocolVersion:0.23\n\n${body.replaceAll('\0', '')}\0`,
  );
const stompJunk: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 2000 }),
  fc.string({ unit: stompChars, maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  mutated,
  junkJsonSend,
  fc.constant(`SEND\n\n${'x'.repeat(70000)}\0`),
  fc.constant('SEND\ncontent-length:99999999\n\n'),
);
const sockjsJunk: fc.Arbitrary<string> = fc.oneof(
  fc.json(),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc
    .array(fc.oneof(mutated, junkJsonSend, fc.string({ maxLength: 100 })), { maxLength: 4 })
    .map(sockjsClientMessage),
  fc.constant('["unterminated'),
  fc.constant('[1,2,3]'),
);

let app: EchoApp;
let server: HttpServerHandle;
let base: { http: string; ws: string };

beforeAll(async () => {
  const t = await startTestServer({ heartbeatMs: 1000, connectTimeoutMs: 2000 });
  app = t.app;
  server = t.server;
  base = t;
});
afterAll(async () => {
  await server.close();
});

/** Close codes by which the server refuses junk (protocol error, bad data, too big). */
const REFUSALS = new Set([1002, 1007, 1009]);

/**
 * Opens a WebSocket, sends junk until the server closes it or `stop()`, then
 * reconnects. Resolves with the number of connections and of server refusals.
 */
function junkLoop(
  url: () => string,
  junk: () => string | Uint8Array,
  stop: () => boolean,
): Promise<{ connections: number; refused: number }> {
  let connections = 0;
  let refused = 0;
  // On a loaded machine keep going past the deadline until the server has refused junk at least once.
  const finished = (): boolean => stop() && (refused > 0 || connections >= 200);
  return new Promise((resolve) => {
    const open = (): void => {
      if (finished()) {
        resolve({ connections, refused });
        return;
      }
      connections++;
      const ws = new WebSocket(url(), ['v12.stomp']);
      ws.on('error', () => {});
      let timer: ReturnType<typeof setInterval> | undefined;
      ws.on('open', () => {
        let sent = 0;
        timer = setInterval(() => {
          if (finished() || sent++ > 40) ws.close();
          else if (ws.readyState === ws.OPEN) ws.send(junk());
        }, 2);
      });
      ws.on('close', (code) => {
        if (REFUSALS.has(code)) refused++;
        clearInterval(timer);
        setTimeout(open, 1);
      });
    };
    open();
  });
}

describe('fuzzing the live server', () => {
  it('junk on many connections does not disturb well-behaved clients', async () => {
    const goodRaw = await connectStomp(base);
    const goodSock = await connectStomp(base, { sockjs: true });
    const echoes: [string[], string[]] = [[], []];
    const sent: [string[], string[]] = [[], []];
    let goodClosed = 0;
    [goodRaw, goodSock].forEach((g, k) => {
      g.client.subscribe('/private/reply', (m) => {
        if (m.headers.messageType?.endsWith('ErrorResponse')) echoes[k]!.push(JSON.parse(m.body).message);
      });
      g.client.onWebSocketClose = () => goodClosed++;
    });

    const stompSamples = fc.sample(stompJunk, 4000);
    const sockSamples = fc.sample(sockjsJunk, 4000);
    const deadline = Date.now() + 4000;
    const stop = () => Date.now() > deadline;
    let i = 0;
    const nextStomp = () => stompSamples[i++ % stompSamples.length]!;
    const nextSock = () => sockSamples[i++ % sockSamples.length]!;
    // Raw-STOMP junk: half start with a valid CONNECT so the junk reaches a connected session.
    const connectThenJunk = (() => {
      let first = true;
      return () => {
        if (first) {
          first = false;
          return VALID[0]!;
        }
        first = Math.random() < 0.05;
        return nextStomp();
      };
    })();
    const loops = [
      junkLoop(() => `${base.ws}/ws/connect`, nextStomp, stop),
      junkLoop(() => `${base.ws}/ws/connect`, connectThenJunk, stop),
      junkLoop(() => `${base.ws}/ws/connect/websocket`, connectThenJunk, stop),
      junkLoop(() => sockjsTransportUrl(base.http, '/ws/connect'), nextSock, stop),
      junkLoop(() => sockjsTransportUrl(base.http, '/ws/connect'), nextSock, stop),
    ];
    // XHR junk.
    const xhrJunk = (async () => {
      let n = 0;
      while (!stop()) {
        const path = `${base.http}/ws/connect/1/${crypto.randomUUID().replaceAll('-', '')}`;
        await fetch(`${path}/xhr`, { method: 'POST' }).then((r) => r.text());
        for (let k = 0; k < 5 && !stop(); k++) {
          const body = k === 0 ? sockjsClientMessage([VALID[0]!]) : nextSock();
          await fetch(`${path}/xhr_send`, { method: 'POST', body }).then((r) => r.text());
          n++;
        }
      }
      return n;
    })();

    // Well-behaved traffic meanwhile.
    let seq = 0;
    while (!stop()) {
      for (const [k, g] of [goodRaw, goodSock].entries()) {
        const body = `ping-${k}-${seq}`;
        sent[k]!.push(body);
        g.client.publish({ destination: '/ws/signing', body, headers: { protocolVersion: '0.23' } });
      }
      seq++;
      await new Promise((r) => setTimeout(r, 20));
    }
    const counts = await Promise.all(loops);
    const xhrSends = await xhrJunk;
    await until(
      () => echoes[0].length === sent[0].length && echoes[1].length === sent[1].length,
      10000,
      'echoes',
    );
    expect(echoes[0]).toEqual(sent[0]);
    expect(echoes[1]).toEqual(sent[1]);
    expect(goodClosed).toBe(0);
    expect(goodRaw.client.connected && goodSock.client.connected).toBe(true);
    // Every junk loop connected at least once and the server refused junk on each of them.
    for (const c of counts) {
      expect(c.connections).toBeGreaterThanOrEqual(1);
      expect(c.refused).toBeGreaterThanOrEqual(1);
    }
    expect(xhrSends).toBeGreaterThan(10);
    // The junk sessions are all gone (or about to time out); the good ones are still counted.
    await until(() => server.sessions() <= 2 + 3, 10000, 'junk sessions to end');
    expect(server.sessions()).toBeGreaterThanOrEqual(2);
    // Every session that completed CONNECT got exactly one onDisconnect.
    const ids = app.disconnects.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    await goodRaw.client.deactivate();
    await goodSock.client.deactivate();
  });
});
