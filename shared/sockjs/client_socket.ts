/**
 * Client side of SockJS's WebSocket transport, as Java's Spring `SockJsClient`
 * speaks it: `GET {endpoint}/info`, then a WebSocket to
 * `{endpoint}/{serverId}/{sessionId}/websocket` carrying SockJS frames.
 *
 * {@link SockJsClientSocket} wraps an ordinary WebSocket (Node 22's global,
 * `ws`, Deno's, a browser's) and looks like a plain WebSocket to its user: it
 * opens on the server's `o`, delivers each string of `a[...]` as one message,
 * swallows `h`, and closes on `c[...]`. It is meant to be returned from
 * `@stomp/stompjs`'s `webSocketFactory` (it implements `IStompSocket`), which
 * is how tests and the reference client act like the Java client.
 * Hand-written: `sockjs-client` needs a browser (XHR, iframes, `window`).
 *
 * @module
 */
import { DecodeError } from '../errors.ts';
import { decodeSockjsServerFrame, sockjsClientMessage } from './framing.ts';

/**
 * The subset of the WebSocket API this adapter needs (DOM WebSocket, `ws`,
 * Deno). Handler parameters are typed `never` so that every implementation's
 * own event types fit; the adapter reads `data` of message events and
 * `code`/`reason`/`wasClean` of close events.
 */
export interface WebSocketLike {
  readonly url: string;
  readonly readyState: number;
  binaryType?: string;
  onopen: ((ev: never) => unknown) | null;
  onmessage: ((ev: never) => unknown) | null;
  onclose: ((ev: never) => unknown) | null;
  onerror: ((ev: never) => unknown) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate?: () => void;
}

/** Close event delivered by {@link SockJsClientSocket}. */
export interface SockJsCloseEvent {
  code: number;
  reason: string;
  wasClean: boolean;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** Random SockJS server id, 0–999 as Spring's client draws it. */
function randomServerId(): string {
  const b = new Uint32Array(1);
  globalThis.crypto.getRandomValues(b);
  return String((b[0] as number) % 1000);
}

/**
 * The SockJS WebSocket transport URL for an endpoint: `ws(s)://host/…/{endpoint}/{0-999}/{uuid without dashes}/websocket`.
 * `baseHttpUrl` is the coordinator URL (`http://` or `https://`, no trailing slash needed).
 */
export function sockjsTransportUrl(baseHttpUrl: string, endpoint: string): string {
  return `${sockjsBaseUrl(baseHttpUrl, endpoint).replace(/^http/, 'ws')}/${randomServerId()}/${globalThis.crypto.randomUUID().replaceAll('-', '')}/websocket`;
}

/** `{base}{endpoint}/info`, the URL Spring's client fetches before choosing a transport. */
export function sockjsInfoUrl(baseHttpUrl: string, endpoint: string): string {
  return `${sockjsBaseUrl(baseHttpUrl, endpoint)}/info`;
}

function sockjsBaseUrl(baseHttpUrl: string, endpoint: string): string {
  const base = baseHttpUrl.replace(/\/+$/, '');
  const path = endpoint.startsWith('/') ? endpoint : `/${endpoint}`;
  return `${base}${path}`;
}

/** Answer of `GET {endpoint}/info`. */
export interface SockjsInfo {
  websocket: boolean;
  cookie_needed?: boolean;
  origins?: string[];
  entropy?: number;
}

/**
 * Fetches and checks `{endpoint}/info` like Spring's `SockJsClient`: throws
 * {@link DecodeError} on a non-200 answer, non-JSON, or `websocket:false`.
 */
export async function fetchSockjsInfo(
  baseHttpUrl: string,
  endpoint: string,
  fetchFn: typeof fetch = globalThis.fetch,
): Promise<SockjsInfo> {
  const res = await fetchFn(sockjsInfoUrl(baseHttpUrl, endpoint));
  const text = await res.text();
  if (res.status !== 200) throw new DecodeError('sockjs', `Info request answered HTTP ${res.status}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new DecodeError('sockjs', 'Info answer is not JSON', { cause: err });
  }
  if (typeof v !== 'object' || v === null || (v as SockjsInfo).websocket === false) {
    throw new DecodeError('sockjs', 'Server does not offer the websocket transport');
  }
  return v as SockjsInfo;
}

/** A WebSocket-like object speaking SockJS's websocket transport over `ws` (stompjs `IStompSocket`). */
export class SockJsClientSocket {
  /** URL of the underlying WebSocket. */
  readonly url: string;
  binaryType = 'arraybuffer';
  onopen: ((ev?: unknown) => unknown) | null | undefined = null;
  onmessage: ((ev: { data: string }) => unknown) | null | undefined = null;
  onclose: ((ev: SockJsCloseEvent) => unknown) | null | undefined = null;
  onerror: ((ev: unknown) => unknown) | null | undefined = null;
  /** Called on every SockJS `h` frame (optional, for tests and liveness). */
  onheartbeat: (() => unknown) | null = null;
  #ws: WebSocketLike;
  #state = CONNECTING;
  #closeEvent: SockJsCloseEvent | null = null;
  #closedFired = false;

  constructor(ws: WebSocketLike) {
    this.#ws = ws;
    this.url = ws.url;
    ws.onmessage = (ev: { data: unknown }) => this.#onFrame(ev.data);
    ws.onerror = (ev: unknown) => this.onerror?.(ev);
    ws.onclose = (ev: { code?: number; reason?: string; wasClean?: boolean }) => {
      this.#fireClose(
        this.#closeEvent ?? {
          code: ev.code ?? 1006,
          reason: ev.reason ?? '',
          wasClean: ev.wasClean ?? false,
        },
      );
    };
  }

  /** WebSocket ready state: CONNECTING until the server's `o` frame, then OPEN, CLOSING, CLOSED. */
  get readyState(): number {
    return this.#state;
  }

  /** Sends one message (a whole STOMP frame) wrapped in a SockJS JSON array. */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.#state !== OPEN) throw new Error(`SockJS socket is not open (state ${this.#state})`);
    let text: string;
    if (typeof data === 'string') text = data;
    else if (ArrayBuffer.isView(data)) text = new TextDecoder().decode(data);
    else if (data instanceof ArrayBuffer) text = new TextDecoder().decode(new Uint8Array(data));
    else throw new Error('SockJS socket can only send strings and byte arrays');
    this.#ws.send(sockjsClientMessage([text]));
  }

  /** Closes the connection (SockJS clients simply close the WebSocket). */
  close(): void {
    if (this.#state === CLOSED || this.#state === CLOSING) return;
    this.#state = CLOSING;
    this.#ws.close(1000, 'Normal closure');
  }

  /** Drops the connection at once, without a closing handshake when the WebSocket allows it. */
  terminate(): void {
    this.#state = CLOSING;
    if (typeof this.#ws.terminate === 'function') this.#ws.terminate();
    else this.#ws.close(4001, 'Terminated');
  }

  #onFrame(data: unknown): void {
    if (this.#state === CLOSED) return;
    let frame: ReturnType<typeof decodeSockjsServerFrame>;
    try {
      const text = typeof data === 'string' ? data : new TextDecoder().decode(data as ArrayBuffer);
      frame = decodeSockjsServerFrame(text);
    } catch (err) {
      this.onerror?.(err);
      this.#closeEvent = { code: 1002, reason: 'Malformed SockJS frame', wasClean: false };
      this.#state = CLOSING;
      this.#ws.close(1002, 'Malformed SockJS frame');
      return;
    }
    switch (frame.type) {
      case 'open':
        if (this.#state === CONNECTING) {
          this.#state = OPEN;
          this.onopen?.({ type: 'open' });
        }
        return;
      case 'heartbeat':
        this.onheartbeat?.();
        return;
      case 'messages':
        for (const m of frame.messages) {
          if (this.#state !== OPEN) return;
          this.onmessage?.({ data: m });
        }
        return;
      case 'close':
        this.#closeEvent = { code: frame.code, reason: frame.reason, wasClean: true };
        this.#state = CLOSING;
        this.#ws.close(1000, 'Normal closure');
        return;
    }
  }

  #fireClose(ev: SockJsCloseEvent): void {
    if (this.#closedFired) return;
    this.#closedFired = true;
    this.#state = CLOSED;
    this.onclose?.(ev);
  }
}
