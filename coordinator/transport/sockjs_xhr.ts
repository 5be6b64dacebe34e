/**
 * SockJS XHR transports (`xhr_streaming`, `xhr` polling, `xhr_send`), the
 * fallback of Java's `SockJsClient` when WebSocket fails (spec §1.4 item 4),
 * following Spring's `TransportHandlingSockJsService` defaults: a 2048-byte
 * `h` prelude on streaming, 128 KiB per streaming response, `h` every 25 s,
 * a session ends when no receiving request has been open for 5 s, a second
 * concurrent receiver gets `c[2010,"Another connection still open"]`.
 * Sessions are keyed by endpoint and session id: the server-id segment is
 * only a load-balancing hint and is ignored, as in Spring.
 * Each SockJS session carries one {@link StompSession}.
 *
 * @module
 */
import type { Context } from 'hono';
import type { DecodeError } from '#shared/errors.ts';
import { decodeSockjsClientMessage, sockjsCloseFrame, sockjsMessageFrame } from '#shared/sockjs/framing.ts';
import type { Logger } from '../log.ts';
import type { SessionWire, StompSession } from './stomp_session.ts';

/** Timings of the XHR transports. */
export interface XhrSettings {
  heartbeatMs: number;
  disconnectDelayMs: number;
  streamBytesLimit: number;
  maxSessions: number;
}

/** Spring's defaults. */
export const DEFAULT_XHR_SETTINGS: XhrSettings = {
  heartbeatMs: 25_000,
  disconnectDelayMs: 5_000,
  streamBytesLimit: 128 * 1024,
  maxSessions: 100_000,
};

const JS_CONTENT_TYPE = 'application/javascript;charset=UTF-8';
const NO_CACHE = 'no-store, no-cache, must-revalidate, max-age=0';
const PRELUDE = `${'h'.repeat(2048)}\n`;
const enc = new TextEncoder();

interface Receiver {
  readonly streaming: boolean;
  /** Writes one SockJS frame (without the trailing newline). */
  push(frame: string): void;
  end(): void;
}

/** The SockJS-level state of one XHR session. */
class XhrSockjsSession {
  readonly key: string;
  stomp: StompSession | null = null;
  receiver: Receiver | null = null;
  queue: string[] = [];
  queuedBytes = 0;
  closeFrame: string | null = null;
  #detachTimer: ReturnType<typeof setTimeout> | null = null;
  #beat: ReturnType<typeof setInterval> | null = null;
  readonly #owner: XhrTransports;

  constructor(key: string, owner: XhrTransports) {
    this.key = key;
    this.#owner = owner;
  }

  readonly wire: SessionWire = {
    kind: 'sockjs-xhr',
    write: (data) => {
      this.queue.push(data);
      this.queuedBytes += data.length;
      this.flush();
    },
    bufferedBytes: () => this.queuedBytes,
    close: (code, reason) => {
      this.closeFrame =
        code === 1000 || code === 1001 ? sockjsCloseFrame(3000, 'Go away!') : sockjsCloseFrame(code, reason);
      this.flush();
      this.#finish();
    },
    terminate: () => {
      this.closeFrame = sockjsCloseFrame(3000, 'Go away!');
      this.receiver?.end();
      this.receiver = null;
      this.#finish();
    },
  };

  /** Sends queued messages (and a pending close frame) to the current receiver. */
  flush(): void {
    const r = this.receiver;
    if (!r) return;
    if (this.queue.length > 0) {
      const frame = sockjsMessageFrame(this.queue);
      this.queue = [];
      this.queuedBytes = 0;
      r.push(frame);
      if (!r.streaming) {
        this.detach(r);
        return;
      }
    }
    if (this.closeFrame !== null && this.receiver === r) {
      r.push(this.closeFrame);
      this.detach(r);
    }
  }

  attach(r: Receiver): void {
    this.receiver = r;
    if (this.#detachTimer) clearTimeout(this.#detachTimer);
    this.#detachTimer = null;
    const hb = this.#owner.settings.heartbeatMs;
    if (hb > 0 && !this.#beat) {
      this.#beat = setInterval(() => {
        const cur = this.receiver;
        if (!cur) return;
        cur.push('h');
        if (!cur.streaming) this.detach(cur);
      }, hb);
      this.#beat.unref?.();
    }
  }

  /** The receiving request ended (answered, limit reached, or aborted by the client). */
  detach(r: Receiver): void {
    if (this.receiver !== r) return;
    this.receiver = null;
    r.end();
    if (this.#beat) clearInterval(this.#beat);
    this.#beat = null;
    if (this.closeFrame !== null) return;
    this.#detachTimer = setTimeout(() => {
      this.#detachTimer = null;
      if (this.receiver) return;
      this.stomp?.wireClosed('SockJS session timed out (no receiving request)');
      this.#finish();
    }, this.#owner.settings.disconnectDelayMs);
    this.#detachTimer.unref?.();
  }

  #finish(): void {
    if (this.#detachTimer) clearTimeout(this.#detachTimer);
    if (this.#beat) clearInterval(this.#beat);
    this.#detachTimer = null;
    this.#beat = null;
    this.#owner.retire(this);
  }
}

/** Registry and HTTP handlers of the XHR transports. */
export class XhrTransports {
  readonly settings: XhrSettings;
  readonly #sessions = new Map<string, XhrSockjsSession>();
  readonly #closed = new Map<string, string>(); // key → close frame, kept for disconnectDelay
  readonly #createStomp: (wire: SessionWire, ip: string) => StompSession | null;
  readonly #log: Logger;

  constructor(opts: {
    settings: XhrSettings;
    createStomp: (wire: SessionWire, ip: string) => StompSession | null;
    logger: Logger;
  }) {
    this.settings = opts.settings;
    this.#createStomp = opts.createStomp;
    this.#log = opts.logger;
  }

  /** Number of live XHR sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Removes a finished session, remembering its close frame for a while. */
  retire(s: XhrSockjsSession): void {
    if (this.#sessions.get(s.key) !== s) return;
    this.#sessions.delete(s.key);
    this.#closed.set(s.key, s.closeFrame ?? sockjsCloseFrame(3000, 'Go away!'));
    const t = setTimeout(() => this.#closed.delete(s.key), this.settings.disconnectDelayMs);
    t.unref?.();
  }

  /** Closes every session (server shutdown). */
  closeAll(): void {
    for (const s of [...this.#sessions.values()]) {
      if (s.stomp) s.stomp.close('Server shutting down');
      else s.wire.terminate();
    }
  }

  #open(key: string, ip: string): XhrSockjsSession | null {
    if (this.#sessions.size >= this.settings.maxSessions) return null;
    const s = new XhrSockjsSession(key, this);
    this.#sessions.set(key, s);
    const stomp = this.#createStomp(s.wire, ip);
    if (!stomp) {
      this.#sessions.delete(key);
      return null;
    }
    s.stomp = stomp;
    return s;
  }

  /** `POST {ep}/{server}/{session}/xhr` and `.../xhr_streaming`. */
  receive(c: Context, key: string, ip: string, streaming: boolean): Response {
    const headers = xhrHeaders(c, JS_CONTENT_TYPE);
    const gone = this.#closed.get(key);
    if (gone !== undefined) return closingResponse(streaming, gone, headers);
    let s = this.#sessions.get(key);
    const isNew = s === undefined;
    if (!s) {
      const opened = this.#open(key, ip);
      if (!opened) return new Response('Too many sessions', { status: 503 });
      s = opened;
    }
    const session = s;
    if (!isNew && session.receiver) {
      return closingResponse(streaming, sockjsCloseFrame(2010, 'Another connection still open'), headers);
    }
    if (!streaming && isNew) {
      // Polling: the first request only opens the session.
      const r: Receiver = { streaming: false, push() {}, end() {} };
      session.attach(r);
      session.detach(r);
      return new Response('o\n', { headers });
    }
    const limit = this.settings.streamBytesLimit;
    let sent = 0;
    let receiver: Receiver | null = null;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        let open = true;
        receiver = {
          streaming,
          push(frame) {
            if (!open) return;
            const bytes = enc.encode(`${frame}\n`);
            sent += bytes.length;
            controller.enqueue(bytes);
            if (streaming && sent >= limit) session.detach(this);
          },
          end() {
            if (!open) return;
            open = false;
            try {
              controller.close();
            } catch {
              // already closed by the client
            }
          },
        };
        if (streaming) controller.enqueue(enc.encode(PRELUDE));
        if (streaming && isNew) receiver.push('o');
        session.attach(receiver);
        session.flush();
      },
      cancel: () => {
        if (receiver) session.detach(receiver);
      },
    });
    if (streaming) headers.set('Transfer-Encoding', 'chunked');
    return new Response(stream, { headers });
  }

  /** `POST {ep}/{server}/{session}/xhr_send`: a JSON array of STOMP strings. */
  async send(c: Context, key: string): Promise<Response> {
    const s = this.#sessions.get(key);
    if (!s?.stomp)
      return new Response('Session not found', {
        status: 404,
        headers: xhrHeaders(c, 'text/plain;charset=UTF-8'),
      });
    const text = await c.req.text();
    if (text === '') return new Response('Payload expected.', { status: 500 });
    let messages: string[];
    try {
      messages = decodeSockjsClientMessage(text);
    } catch (err) {
      this.#log.debug({ sessionId: s.stomp.id, err: (err as DecodeError).message }, 'bad xhr_send payload');
      return new Response('Broken JSON encoding.', { status: 500 });
    }
    for (const m of messages) s.stomp.receive(m);
    return new Response(null, { status: 204, headers: xhrHeaders(c, 'text/plain;charset=UTF-8') });
  }
}

/**
 * The answer to a receiving request that only gets a close frame (session
 * gone, or another receiver open). Streaming sends it as Spring does: the
 * prelude and the frame as chunks of an open-ended (chunked) response, so a
 * client reading chunk by chunk sees the prelude, then the close frame.
 */
function closingResponse(streaming: boolean, closeFrame: string, headers: Headers): Response {
  if (!streaming) return new Response(`${closeFrame}\n`, { headers });
  headers.set('Transfer-Encoding', 'chunked'); // else @hono/node-server sends a finished stream with Content-Length
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(enc.encode(PRELUDE));
      controller.enqueue(enc.encode(`${closeFrame}\n`));
      controller.close();
    },
  });
  return new Response(stream, { headers });
}

/**
 * CORS headers of a SockJS response. A real origin is echoed with
 * `Allow-Credentials: true` (what Spring's origin pattern `*` does); no
 * `Origin` or the opaque `Origin: null` (sandboxed frames, `file:` pages)
 * gets `*` **without** credentials: browsers refuse `*` together with
 * credentials, and echoing `null` would grant credentialed access to every
 * sandboxed document (the SockJS protocol suite expects `*` there).
 */
export function corsHeaders(h: Headers, origin: string | undefined): void {
  if (origin && origin !== 'null') {
    h.set('Access-Control-Allow-Origin', origin);
    h.set('Access-Control-Allow-Credentials', 'true');
  } else {
    h.set('Access-Control-Allow-Origin', '*');
  }
  h.set('Vary', 'Origin');
}

/** CORS and no-cache headers Spring adds to SockJS responses. */
export function responseHeaders(c: Context, contentType: string): Headers {
  const h = new Headers({ 'Content-Type': contentType, 'Cache-Control': NO_CACHE });
  corsHeaders(h, c.req.header('origin'));
  return h;
}

/** A JSESSIONID value a client may have been given by a balancer: a short cookie token, else none. */
const JSESSIONID_RE = /(?:^|;\s*)JSESSIONID=([A-Za-z0-9._~!$&'()*+-]{1,128})(?:;|$)/;

/**
 * The `Set-Cookie` of the XHR transports while `/info` announces
 * `cookie_needed: true` (Spring 4's and sockjs-node's behaviour): the
 * client's own JSESSIONID echoed, else `dummy`. The value identifies
 * nothing (we never mint one); it exists so a cookie-sticky balancer in
 * front of several instances keeps every request of one XHR session on the
 * instance that holds it.
 */
export function sessionCookie(cookieHeader: string | undefined): string {
  const m = cookieHeader ? JSESSIONID_RE.exec(cookieHeader) : null;
  return `JSESSIONID=${m ? m[1] : 'dummy'};path=/`;
}

/** {@link responseHeaders} plus the JSESSIONID cookie, for `xhr`, `xhr_streaming` and `xhr_send`. */
export function xhrHeaders(c: Context, contentType: string): Headers {
  const h = responseHeaders(c, contentType);
  h.set('Set-Cookie', sessionCookie(c.req.header('cookie')));
  return h;
}
