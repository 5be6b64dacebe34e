/**
 * The SOCKS5 client (client/rest/socks5.ts) against a minimal SOCKS5 server
 * on a real socket: registerOutput-style POSTs and WebSockets go through the
 * proxy with the configured credentials (Tor stream isolation), refusals and
 * a wrong password surface as errors.
 */
import http from 'node:http';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { CoordinatorRest, CoordinatorRestError } from '#client/rest/coordinator_rest.ts';
import { parseSocks5Url, Socks5Agent, socks5Fetch } from '#client/rest/socks5.ts';
import { type SocksLog, startSocksServer } from '#test/support/socks5_server.ts';

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
    expect(log.at(-1)).toEqual({ user: 'isolation-1', password: 'x', target: `localhost:${webPort}` });
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
    expect(log.at(-1)).toEqual({ user: 'ws-circuit', password: 'x', target: `localhost:${webPort}` });
  });

  it('reports a refused CONNECT and a wrong password', async () => {
    const f = socks5Fetch(proxyUrl);
    await expect(f('http://refused.invalid/x')).rejects.toThrow(/connection refused/);
    const wrong = socks5Fetch(proxyUrl.replace(':x@', ':wrong@'));
    await expect(wrong(`http://localhost:${webPort}/x`)).rejects.toThrow(/refused the username\/password/);
  });
});
