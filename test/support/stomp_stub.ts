/**
 * A scripted coordinator stand-in on a real socket for client tests: raw
 * STOMP at `/ws/connect/websocket` (CONNECTED, SUBSCRIBE answered by
 * `onSubscribe`, registerInput answered with an ErrorResponse so the attempt
 * ends) and `POST /rest/registerOutput` (200 or a 307); it counts
 * connections and records POST bodies.
 *
 * @module
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { MESSAGE_TYPES, type MessageTypeName } from '#shared/protocol/constants.ts';
import { StompDecoder } from '#shared/stomp/decoder.ts';
import { encodeFrame, getHeader } from '#shared/stomp/frame.ts';

/** A raw-STOMP server at /ws/connect/websocket answering every SUBSCRIBE with `onSubscribe`, and registerInput with an ErrorResponse. */
export class StompStub {
  readonly server: http.Server;
  readonly wss: WebSocketServer;
  connections = 0;
  registerInputs = 0;
  /** POST bodies of /rest/registerOutput. */
  readonly posts: string[] = [];
  /** Answer of POST /rest/registerOutput: 200, or a 307 to the given Location. */
  registerOutputAnswer: { status: 200 } | { status: 307; location: string } = { status: 200 };
  onSubscribe: (send: (type: MessageTypeName, payload: unknown) => void) => void = () => {};

  constructor() {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += String(c);
      });
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/rest/registerOutput') {
          this.posts.push(body);
          const a = this.registerOutputAnswer;
          if (a.status === 307) res.writeHead(307, { location: a.location }).end();
          else res.writeHead(200).end();
          return;
        }
        res.writeHead(404).end();
      });
    });
    this.wss = new WebSocketServer({ server: this.server, path: '/ws/connect/websocket' });
    this.wss.on('connection', (ws) => {
      this.connections++;
      let subscription = '';
      const send = (type: MessageTypeName, payload: unknown) =>
        ws.send(
          new TextDecoder().decode(
            encodeFrame(
              {
                command: 'MESSAGE',
                headers: [
                  ['destination', '/private/reply'],
                  ['subscription', subscription],
                  ['message-id', String(Math.random())],
                  ['messageType', MESSAGE_TYPES[type]],
                  ['protocolVersion', '0.23'],
                  ['content-type', 'application/json;charset=UTF-8'],
                ],
                body: new TextEncoder().encode(JSON.stringify(payload)),
              },
              { contentLength: true },
            ),
          ),
        );
      const decoder = new StompDecoder();
      ws.on('message', (data) => {
        for (const item of decoder.push(new Uint8Array(data as Buffer))) {
          if (item.type !== 'frame') continue;
          const f = item.frame;
          if (f.command === 'CONNECT' || f.command === 'STOMP') {
            ws.send(
              new TextDecoder().decode(
                encodeFrame({
                  command: 'CONNECTED',
                  headers: [
                    ['version', '1.2'],
                    ['heart-beat', '0,0'],
                  ],
                  body: new Uint8Array(),
                }),
              ),
            );
          } else if (f.command === 'SUBSCRIBE') {
            subscription = getHeader(f, 'id') ?? '';
            this.onSubscribe(send);
          } else if (f.command === 'SEND' && getHeader(f, 'destination') === '/ws/registerInput') {
            this.registerInputs++;
            send('ErrorResponse', { mixId: null, message: 'owner got it' });
          }
        }
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
