/**
 * The two WebSocket transports of a STOMP session over a `ws` socket:
 * raw STOMP (one frame per text message, as Android and stompjs send) and
 * SockJS's websocket transport (`o` on open, `a[...]` data, `h` after 25 s
 * of write silence, `c[code,"reason"]` on close; client messages are JSON
 * arrays of strings), as Java's `SockJsClient` speaks it.
 *
 * @module
 */
import type { WebSocket } from 'ws';
import type { DecodeError } from '#shared/errors.ts';
import {
  decodeSockjsClientMessage,
  SOCKJS_HEARTBEAT,
  SOCKJS_OPEN,
  sockjsCloseFrame,
  sockjsMessageFrame,
} from '#shared/sockjs/framing.ts';
import type { Logger } from '../log.ts';
import type { SessionWire, StompSession } from './stomp_session.ts';

/** Why a handshake on a known WebSocket path is refused (Spring's answers), or null to accept it. */
export interface UpgradeRejection {
  status: 400 | 405;
  reason: string;
  body: string;
  allow?: string;
}

/**
 * Judges an HTTP upgrade on a WebSocket path: only `GET` (405 with
 * `Allow: GET`, no body) and only to `websocket` (400 `Can "Upgrade" only
 * to "WebSocket".`).
 */
export function upgradeRejection(
  method: string | undefined,
  upgrade: string | undefined,
): UpgradeRejection | null {
  if (method !== 'GET') return { status: 405, reason: 'Method Not Allowed', body: '', allow: 'GET' };
  if (upgrade?.toLowerCase() !== 'websocket') {
    return { status: 400, reason: 'Bad Request', body: 'Can "Upgrade" only to "WebSocket".' };
  }
  return null;
}

/** The raw HTTP/1.1 response bytes of an {@link UpgradeRejection}. */
export function upgradeRejectionResponse(r: UpgradeRejection): string {
  const allow = r.allow ? `Allow: ${r.allow}\r\n` : '';
  const type = r.body ? 'Content-Type: text/plain;charset=UTF-8\r\n' : '';
  return `HTTP/1.1 ${r.status} ${r.reason}\r\nConnection: close\r\n${allow}${type}Content-Length: ${Buffer.byteLength(r.body)}\r\n\r\n${r.body}`;
}

/** A close reason that fits a WebSocket close frame (at most 123 UTF-8 bytes; `ws` throws otherwise). */
export function closeReason(reason: string): string {
  let r = reason.slice(0, 123);
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}

/** A {@link SessionWire} writing raw STOMP text frames to a WebSocket. */
export function rawWebSocketWire(ws: WebSocket): SessionWire {
  return {
    kind: 'websocket',
    write(data) {
      ws.send(data);
    },
    bufferedBytes() {
      return ws.bufferedAmount;
    },
    close(code, reason) {
      ws.close(code, closeReason(reason));
    },
    terminate() {
      ws.terminate();
    },
    pause() {
      ws.pause();
    },
    resume() {
      ws.resume();
    },
  };
}

/** Feeds a raw-STOMP WebSocket's messages and close into a session. */
export function bindRawWebSocket(ws: WebSocket, session: StompSession, logger: Logger): void {
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    session.receive(toBytes(data));
  });
  ws.on('error', (err) => logger.debug({ sessionId: session.id, err: err.message }, 'websocket error'));
  ws.on('close', (code) => session.wireClosed(`WebSocket closed (${code})`));
}

/** SockJS close frame for a WebSocket close code: a normal close is Spring's `c[3000,"Go away!"]`. */
function closeFrameFor(code: number, reason: string): string {
  return code === 1000 || code === 1001 ? sockjsCloseFrame(3000, 'Go away!') : sockjsCloseFrame(code, reason);
}

/** A {@link SessionWire} speaking SockJS framing on a WebSocket; sends `o` at once. */
export function sockjsWebSocketWire(ws: WebSocket, heartbeatMs: number): SessionWire & { stop(): void } {
  ws.send(SOCKJS_OPEN);
  let beat: ReturnType<typeof setInterval> | null = null;
  if (heartbeatMs > 0) {
    beat = setInterval(() => {
      if (ws.readyState === ws.OPEN) ws.send(SOCKJS_HEARTBEAT);
    }, heartbeatMs);
    beat.unref?.();
  }
  const stop = (): void => {
    if (beat) clearInterval(beat);
    beat = null;
  };
  return {
    kind: 'sockjs-websocket',
    write(data) {
      ws.send(sockjsMessageFrame([data]));
      beat?.refresh();
    },
    bufferedBytes() {
      return ws.bufferedAmount;
    },
    close(code, reason) {
      stop();
      if (ws.readyState === ws.OPEN) ws.send(closeFrameFor(code, reason));
      ws.close(code === 1000 || code === 1001 ? 1000 : code, closeReason(reason));
    },
    terminate() {
      stop();
      ws.terminate();
    },
    pause() {
      ws.pause();
    },
    resume() {
      ws.resume();
    },
    stop,
  };
}

/** Feeds a SockJS WebSocket's messages (JSON arrays of STOMP strings) into a session. */
export function bindSockjsWebSocket(
  ws: WebSocket,
  wire: SessionWire & { stop(): void },
  session: StompSession,
  logger: Logger,
): void {
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    let messages: string[];
    try {
      messages = decodeSockjsClientMessage(new TextDecoder().decode(toBytes(data)));
    } catch (err) {
      logger.debug(
        { sessionId: session.id, err: (err as DecodeError).message },
        'bad SockJS message, closing',
      );
      wire.close(1007, 'Bad data');
      session.wireClosed('Bad SockJS data');
      return;
    }
    for (const m of messages) session.receive(m);
  });
  ws.on('error', (err) => logger.debug({ sessionId: session.id, err: err.message }, 'websocket error'));
  ws.on('close', (code) => {
    wire.stop();
    session.wireClosed(`WebSocket closed (${code})`);
  });
}

function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
