/**
 * The SOCKS5 client (client/rest/socks5.ts) against a minimal SOCKS5 server
 * on a real socket: registerOutput-style POSTs and WebSockets go through the
 * proxy with the configured credentials (Tor stream isolation), refusals and
 * a wrong password surface as errors.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { CoordinatorRest, CoordinatorRestError } from '#client/rest/coordinator_rest.ts';
import { parseSocks5Url, Socks5Agent, socks5Fetch } from '#client/rest/socks5.ts';

interface SocksLog {
  user: string | null;
  target: string;
}

/** A minimal SOCKS5 server (no-auth or user/pass `tor`/any, CONNECT by domain name). */
function startSocksServer(log: SocksLog[]): Promise<net.Server> {
  const server = net.createServer((client) => {
    let stage = 0;
    let user: string | null = null;
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (stage === 0 && buf.length >= 2 && buf.length >= 2 + buf[1]!) {
        const methods = [...buf.subarray(2, 2 + buf[1]!)];
        buf = buf.subarray(2 + buf[1]!);
        if (methods.includes(2)) {
          client.write(Buffer.from([5, 2]));
          stage = 1;
        } else {
          client.write(Buffer.from([5, 0]));
          stage = 2;
        }
      }
      if (stage === 1 && buf.length >= 2) {
        const ulen = buf[1]!;
        if (buf.length < 2 + ulen + 1) return;
        const plen = buf[2 + ulen]!;
        if (buf.length < 3 + ulen + plen) return;
        user = buf.subarray(2, 2 + ulen).toString();
        const pass = buf.subarray(3 + ulen, 3 + ulen + plen).toString();
        buf = buf.subarray(3 + ulen + plen);
        if (pass === 'wrong') {
          client.end(Buffer.from([1, 1]));
          return;
        }
        client.write(Buffer.from([1, 0]));
        stage = 2;
      }
      if (stage === 2 && buf.length >= 5) {
        const len = buf[4]!;
        if (buf.length < 5 + len + 2) return;
        const host = buf.subarray(5, 5 + len).toString();
        const port = buf.readUInt16BE(5 + len);
        const rest = buf.subarray(7 + len);
        stage = 3;
        client.off('data', onData);
        log.push({ user, target: `${host}:${port}` });
        if (host === 'refused.invalid') {
          client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
          return;
        }
        const upstream = net.connect({ host, port }, () => {
          client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
          if (rest.length) upstream.write(rest);
          client.pipe(upstream).pipe(client);
        });
        upstream.on('error', () => client.destroy());
      }
    };
    client.on('data', onData);
    client.on('error', () => {});
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

describe('SOCKS5 client', () => {
  const log: SocksLog[] = [];
  let socks: net.Server;
  let web: http.Server;
  let wss: WebSocketServer;
  let webPort: number;
  let proxyUrl: string;
  const posted: string[] = [];

  beforeAll(async () => {
    socks = await startSocksServer(log);
    web = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        if (req.url === '/rest/registerOutput') {
          posted.push(body);
          if (body.includes('bad')) {
            res
              .writeHead(500, { 'content-type': 'application/json' })
              .end('{"message":"Invalid unblindedSignedBordereau"}');
          } else {
            res.writeHead(200).end();
          }
        } else {
          res.writeHead(404).end('nope');
        }
      });
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    webPort = (web.address() as AddressInfo).port;
    wss = new WebSocketServer({ server: web, path: '/ws/connect/websocket' });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${String(m)}`)));
    proxyUrl = `socks5h://isolation-1:x@127.0.0.1:${(socks.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    wss?.close();
    await new Promise((r) => web?.close(r));
    await new Promise((r) => socks?.close(r));
  });

  it('parses socks5 URLs', () => {
    expect(parseSocks5Url('socks5h://u%40:p@127.0.0.1:9050')).toEqual({
      host: '127.0.0.1',
      port: 9050,
      username: 'u@',
      password: 'p',
    });
    expect(parseSocks5Url('socks5://10.0.0.1')).toMatchObject({ port: 1080, username: undefined });
    expect(() => parseSocks5Url('http://127.0.0.1:1')).toThrow(/Not a SOCKS5 URL/);
  });

  it('posts registerOutput through the proxy with its own credentials, and maps a refusal', async () => {
    const rest = new CoordinatorRest({
      serverUrl: `http://localhost:${webPort}`,
      registerOutputFetch: socks5Fetch(proxyUrl),
    });
    const req = {
      inputsHash: 'a'.repeat(128),
      unblindedSignedBordereau64: 'abc',
      receiveAddress: 'bcrt1qxyzxyzxyzxyzxyzxyz',
    };
    await rest.registerOutput(req);
    expect(JSON.parse(posted.at(-1)!)).toEqual(req);
    expect(log.at(-1)).toEqual({ user: 'isolation-1', target: `localhost:${webPort}` });
    const err = await rest
      .registerOutput({ ...req, unblindedSignedBordereau64: 'bad' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoordinatorRestError);
    expect(err).toMatchObject({ status: 500, serverMessage: 'Invalid unblindedSignedBordereau' });
  });

  it('carries a WebSocket (ws agent option)', async () => {
    const agent = new Socks5Agent(proxyUrl.replace('isolation-1', 'ws-circuit'));
    const ws = new WebSocket(`ws://localhost:${webPort}/ws/connect/websocket`, { agent });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hi'));
      ws.on('message', (m) => resolve(String(m)));
      ws.on('error', reject);
    });
    ws.close();
    expect(reply).toBe('echo:hi');
    expect(log.at(-1)).toEqual({ user: 'ws-circuit', target: `localhost:${webPort}` });
  });

  it('reports a refused CONNECT and a wrong password', async () => {
    const f = socks5Fetch(proxyUrl);
    await expect(f('http://refused.invalid/x')).rejects.toThrow(/connection refused/);
    const wrong = socks5Fetch(proxyUrl.replace(':x@', ':wrong@'));
    await expect(wrong(`http://localhost:${webPort}/x`)).rejects.toThrow(/refused the username\/password/);
  });
});
