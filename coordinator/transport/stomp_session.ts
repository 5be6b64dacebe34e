/**
 * One STOMP 1.2 server session, behaving like Spring's simple broker as the
 * 0.23 reference configures it (notes §2.2): CONNECT/STOMP → CONNECTED with
 * `version`, `heart-beat` (the server's configured value) and `user-name`
 * (= session id); a subscription table; `/private/reply` user destination for
 * {@link StompSession.sendPrivate}; SEND only to the five `/ws/*`
 * destinations; RECEIPT for `receipt` headers; ERROR then close on any
 * protocol violation; heart-beats both ways with a 3× inbound-silence
 * timeout; slow consumers terminated.
 *
 * Abuse bounds (issue 13, docs/operations.md "Abuse limits"): header block
 * and destination sizes are capped; SUBSCRIBE is allowed to `/private/reply`
 * only, at most one pool subscription per session, and every SUBSCRIBE frame
 * counts toward a per-session total (a re-SUBSCRIBE with the same id too);
 * a session that negotiated no heart-beat is dropped after an inbound idle
 * timeout; at most `maxSendsInFlight` SENDs are handed to the application
 * and unfinished: later frames wait (the wire is paused) in a short queue,
 * and a session that overflows the queue is closed. Transport-agnostic: the raw WebSocket,
 * SockJS WebSocket and SockJS XHR transports all feed it bytes and give it a
 * {@link SessionWire} to write to.
 *
 * @module
 */
import { DecodeError } from '#shared/errors.ts';
import {
  CONTENT_TYPE_JSON,
  HEADER_MESSAGE_TYPE,
  HEADER_POOL_ID,
  HEADER_PROTOCOL_VERSION,
  MESSAGE_TYPES,
  PRIVATE_REPLY,
  PROTOCOL_VERSION,
  WS_SEND_DESTINATIONS,
} from '#shared/protocol/constants.ts';
import { StompDecoder } from '#shared/stomp/decoder.ts';
import { bodyText, frameToString, getHeader, type StompFrame } from '#shared/stomp/frame.ts';
import { negotiateHeartbeat, parseHeartbeatHeader } from '#shared/stomp/heartbeat.ts';
import type { Logger } from '../log.ts';
import type { ClientSession, StompApplication, TransportKind } from './stomp_application.ts';

/** Where a session writes: one call per STOMP frame or heart-beat EOL. */
export interface SessionWire {
  readonly kind: TransportKind;
  /** Writes one STOMP frame (or `\n`) as text. */
  write(data: string): void;
  /** Bytes accepted by {@link write} but not yet handed to the network. */
  bufferedBytes(): number;
  /** Graceful close with a WebSocket close code (1000 normal, 1002 protocol error, 1011…). */
  close(code: number, reason: string): void;
  /** Drops the connection at once (dead or slow peer). */
  terminate(): void;
  /** Stops reading from the peer until {@link resume} (back-pressure; absent on request-based transports). */
  pause?(): void;
  resume?(): void;
}

/** Limits and timings shared by every session of a server. */
export interface SessionSettings {
  /** Server heart-beat `[sx, sy]` advertised in CONNECTED (Spring answers its configured value). */
  heartbeat: [number, number];
  maxFrameBytes: number;
  /** Outbound bytes queued beyond which the peer is a slow consumer and is terminated. */
  maxBufferedBytes: number;
  /** Time allowed between connection and CONNECT. */
  connectTimeoutMs: number;
  /** Inbound silence tolerated = this × the negotiated client interval (Spring: 3). */
  heartbeatGraceFactor: number;
  maxSubscriptions: number;
  /** Inbound silence tolerated when the client negotiated no heart-beat (`heart-beat:0,0`), ms. */
  idleTimeoutMs: number;
  /** SENDs handed to the application and not finished; later frames wait, the wire paused. */
  maxSendsInFlight: number;
  /** Frames waiting behind the in-flight SENDs; one more closes the session. */
  maxQueuedFrames: number;
  /** SUBSCRIBE frames per session, whatever their ids (re-SUBSCRIBE included). */
  maxSubscribeFrames: number;
  /** Headers of one frame (CONNECT, SUBSCRIBE, SEND…). */
  maxHeaders: number;
  /** Bytes of the header block of one frame (names + values). */
  maxHeaderBytes: number;
  /** Bytes of a `destination` or `id` header. */
  maxDestinationBytes: number;
}

/** Defaults of {@link SessionSettings}. */
export const DEFAULT_SESSION_SETTINGS: SessionSettings = {
  heartbeat: [20_000, 20_000],
  maxFrameBytes: 65536,
  maxBufferedBytes: 1024 * 1024,
  connectTimeoutMs: 60_000,
  heartbeatGraceFactor: 3,
  maxSubscriptions: 4,
  idleTimeoutMs: 300_000,
  maxSendsInFlight: 4,
  maxQueuedFrames: 32,
  maxSubscribeFrames: 4,
  maxHeaders: 32,
  maxHeaderBytes: 4096,
  maxDestinationBytes: 128,
};

/** The only destination a client may SUBSCRIBE to (spec §1.5: the session's private reply queue). */
export const SUBSCRIBE_DESTINATIONS: readonly string[] = [PRIVATE_REPLY];

/** Why a frame's headers break the caps of {@link SessionSettings}, or null. */
export function headerProblem(frame: StompFrame, s: SessionSettings): string | null {
  if (frame.headers.length > s.maxHeaders) return `Too many headers (max ${s.maxHeaders})`;
  let bytes = 0;
  for (const [k, v] of frame.headers) {
    bytes += k.length + v.length + 2;
    if ((k === 'destination' || k === 'id') && v.length > s.maxDestinationBytes)
      return `Header "${k}" too long (max ${s.maxDestinationBytes})`;
  }
  return bytes > s.maxHeaderBytes ? `Headers too large (max ${s.maxHeaderBytes} bytes)` : null;
}

const SUPPORTED_VERSIONS = ['1.2', '1.1', '1.0'];
const utf8 = new TextEncoder();

/** Picks the STOMP version from `accept-version`; absent means 1.0; null when none is supported. */
export function selectStompVersion(acceptVersion: string | undefined): string | null {
  if (acceptVersion === undefined) return '1.0';
  const offered = acceptVersion.split(',').map((v) => v.trim());
  return SUPPORTED_VERSIONS.find((v) => offered.includes(v)) ?? null;
}

function headerMap(frame: StompFrame): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of frame.headers) if (!m.has(k)) m.set(k, v);
  return m;
}

/** A decoder's message without its `codec: ` prefix (the ERROR header would escape the colon). */
function withoutCodec(err: DecodeError): string {
  return err.message.startsWith(`${err.codec}: `) ? err.message.slice(err.codec.length + 2) : err.message;
}

function timer(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const t = setTimeout(fn, ms);
  t.unref?.();
  return t;
}

/** A STOMP session over some {@link SessionWire}; the {@link ClientSession} handed to the application. */
export class StompSession implements ClientSession {
  readonly id: string;
  readonly ip: string;
  readonly transport: TransportKind;
  #connectHeaders: ReadonlyMap<string, string> = new Map();
  readonly #wire: SessionWire;
  readonly #app: StompApplication;
  readonly #log: Logger;
  readonly #settings: SessionSettings;
  readonly #onEnded: (s: StompSession) => void;
  readonly #decoder: StompDecoder;
  readonly #subscriptions = new Map<string, string>(); // subscription id → destination
  #connected = false;
  #ended = false;
  #subscribeFrames = 0;
  #poolSubscribed = false;
  #sendsInFlight = 0;
  readonly #queued: StompFrame[] = [];
  #paused = false;
  #messageCounter = 0;
  #connectTimer: ReturnType<typeof setTimeout> | null;
  #writeTimer: ReturnType<typeof setTimeout> | null = null;
  #readTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(opts: {
    id: string;
    ip: string;
    wire: SessionWire;
    app: StompApplication;
    logger: Logger;
    settings: SessionSettings;
    onEnded: (s: StompSession) => void;
  }) {
    this.id = opts.id;
    this.ip = opts.ip;
    this.#wire = opts.wire;
    this.transport = opts.wire.kind;
    this.#app = opts.app;
    this.#log = opts.logger;
    this.#settings = opts.settings;
    this.#onEnded = opts.onEnded;
    this.#decoder = new StompDecoder({ maxFrameBytes: opts.settings.maxFrameBytes });
    this.#connectTimer = timer(() => {
      this.#log.debug({ sessionId: this.id }, 'no CONNECT in time, closing');
      this.#protocolError('No CONNECT frame received in time');
    }, opts.settings.connectTimeoutMs);
  }

  get connectHeaders(): ReadonlyMap<string, string> {
    return this.#connectHeaders;
  }

  /** True once the session has ended (closed by either side). */
  get closed(): boolean {
    return this.#ended;
  }

  /** True after a successful CONNECT. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Number of subscriptions held. */
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** Feeds bytes received from the peer (any chunking). */
  receive(chunk: string | Uint8Array): void {
    if (this.#ended) return;
    this.#readTimer?.refresh();
    let items: ReturnType<StompDecoder['push']>;
    try {
      items = this.#decoder.push(chunk);
    } catch (err) {
      this.#protocolError(err instanceof DecodeError ? withoutCodec(err) : 'Malformed frame');
      return;
    }
    for (const item of items) {
      if (this.#ended) return;
      if (item.type !== 'frame') continue;
      if (
        this.#queued.length > 0 ||
        (item.frame.command === 'SEND' && this.#sendsInFlight >= this.#settings.maxSendsInFlight)
      ) {
        if (this.#queued.length >= this.#settings.maxQueuedFrames) {
          this.#protocolError(`Too many messages in flight (max ${this.#settings.maxSendsInFlight})`);
          return;
        }
        this.#queued.push(item.frame);
        if (!this.#paused) {
          this.#paused = true;
          this.#wire.pause?.();
        }
        continue;
      }
      this.#handleFrame(item.frame);
    }
  }

  /** SENDs handed to the application and not finished yet. */
  get sendsInFlight(): number {
    return this.#sendsInFlight;
  }

  /** A SEND finished: hands queued frames on while the in-flight bound allows, then resumes the wire. */
  #sendDone(): void {
    this.#sendsInFlight--;
    // time spent waiting for our own work (wire paused) is not the client's silence
    this.#readTimer?.refresh();
    while (!this.#ended && this.#queued.length > 0) {
      const next = this.#queued[0]!;
      if (next.command === 'SEND' && this.#sendsInFlight >= this.#settings.maxSendsInFlight) return;
      this.#queued.shift();
      this.#handleFrame(next);
    }
    if (!this.#ended && this.#paused && this.#queued.length === 0) {
      this.#paused = false;
      this.#wire.resume?.();
    }
  }

  /** The transport saw the connection end (peer close, network error, size limit). */
  wireClosed(reason: string): void {
    this.#end(reason);
  }

  sendPrivate(payloadName: keyof typeof MESSAGE_TYPES, payload: unknown): void {
    if (this.#ended) return;
    const messageType = MESSAGE_TYPES[payloadName];
    if (messageType === undefined) throw new Error(`Unknown payload name "${String(payloadName)}"`);
    let json: string;
    try {
      json = JSON.stringify(payload);
    } catch (err) {
      this.#log.error({ sessionId: this.id, err, payloadName }, 'cannot serialise private message');
      return;
    }
    let sent = 0;
    for (const [subId, destination] of this.#subscriptions) {
      if (destination !== PRIVATE_REPLY) continue;
      const frame: StompFrame = {
        command: 'MESSAGE',
        headers: [
          ['destination', PRIVATE_REPLY],
          ['content-type', CONTENT_TYPE_JSON],
          ['subscription', subId],
          ['message-id', `${this.id}-${this.#messageCounter++}`],
          [HEADER_MESSAGE_TYPE, messageType],
          [HEADER_PROTOCOL_VERSION, PROTOCOL_VERSION],
        ],
        body: utf8.encode(json),
      };
      this.#write(frameToString(frame, { contentLength: true }));
      sent++;
      if (this.#ended) return;
    }
    if (sent === 0)
      this.#log.debug({ sessionId: this.id, payloadName }, 'no /private/reply subscription, message dropped');
  }

  close(reason = 'Server closed the session'): void {
    if (this.#ended) return;
    this.#wire.close(1000, reason);
    this.#end(reason);
  }

  #handleFrame(frame: StompFrame): void {
    const { command } = frame;
    const tooBig = headerProblem(frame, this.#settings);
    if (tooBig !== null) {
      this.#protocolError(tooBig, frame);
      return;
    }
    if (!this.#connected && command !== 'CONNECT' && command !== 'STOMP') {
      if (command === 'DISCONNECT') {
        this.close('DISCONNECT before CONNECT');
        return;
      }
      this.#protocolError(`Frame "${command}" before CONNECT`, frame);
      return;
    }
    switch (command) {
      case 'CONNECT':
      case 'STOMP':
        this.#onConnect(frame);
        return;
      case 'SEND':
        this.#onSend(frame);
        break;
      case 'SUBSCRIBE':
        this.#onSubscribe(frame);
        break;
      case 'UNSUBSCRIBE': {
        const id = getHeader(frame, 'id');
        if (id === undefined) {
          this.#protocolError('UNSUBSCRIBE without id', frame);
          return;
        }
        this.#subscriptions.delete(id);
        break;
      }
      case 'ACK':
      case 'NACK':
      case 'BEGIN':
      case 'COMMIT':
      case 'ABORT':
        break; // the simple broker ignores them
      case 'DISCONNECT': {
        const receipt = getHeader(frame, 'receipt');
        if (receipt !== undefined)
          this.#write(
            frameToString({
              command: 'RECEIPT',
              headers: [['receipt-id', receipt]],
              body: new Uint8Array(0),
            }),
          );
        this.close('Client disconnected');
        return;
      }
      default:
        this.#protocolError(`Unsupported command "${command}"`, frame);
        return;
    }
    if (this.#ended) return;
    const receipt = getHeader(frame, 'receipt');
    if (receipt !== undefined) {
      this.#write(
        frameToString({ command: 'RECEIPT', headers: [['receipt-id', receipt]], body: new Uint8Array(0) }),
      );
    }
  }

  #onConnect(frame: StompFrame): void {
    if (this.#connected) {
      this.#protocolError('Already connected', frame);
      return;
    }
    const version = selectStompVersion(getHeader(frame, 'accept-version'));
    if (version === null) {
      this.#protocolError(`Unsupported STOMP version "${getHeader(frame, 'accept-version')}"`, frame, [
        ['version', SUPPORTED_VERSIONS.join(',')],
      ]);
      return;
    }
    let clientHeartbeat: [number, number];
    try {
      clientHeartbeat = parseHeartbeatHeader(getHeader(frame, 'heart-beat'));
    } catch (err) {
      this.#protocolError(
        err instanceof DecodeError ? withoutCodec(err) : 'Invalid heart-beat header',
        frame,
      );
      return;
    }
    const server = this.#settings.heartbeat;
    const { sendEveryMs, expectEveryMs } = negotiateHeartbeat(clientHeartbeat, server);
    this.#connectHeaders = headerMap(frame);
    this.#connected = true;
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    this.#write(
      frameToString({
        command: 'CONNECTED',
        headers: [
          ['version', version],
          ['heart-beat', `${server[0]},${server[1]}`],
          ['user-name', this.id],
        ],
        body: new Uint8Array(0),
      }),
    );
    if (sendEveryMs > 0) {
      const beat = (): void => {
        if (this.#ended) return;
        this.#write('\n');
      };
      this.#writeTimer = setInterval(beat, sendEveryMs);
      this.#writeTimer.unref?.();
    }
    // inbound silence: 3× the client's heart-beat, or the idle timeout when it sends none
    const silenceMs =
      expectEveryMs > 0 ? expectEveryMs * this.#settings.heartbeatGraceFactor : this.#settings.idleTimeoutMs;
    this.#readTimer = timer(() => {
      this.#log.debug({ sessionId: this.id, ip: this.ip, silenceMs }, 'inbound timeout, dropping session');
      this.#wire.terminate();
      this.#end(expectEveryMs > 0 ? 'Heart-beat timeout' : 'Idle timeout');
    }, silenceMs);
    this.#log.debug(
      { sessionId: this.id, ip: this.ip, version, sendEveryMs, expectEveryMs },
      'STOMP connected',
    );
  }

  #onSend(frame: StompFrame): void {
    const destination = getHeader(frame, 'destination');
    if (destination === undefined || !WS_SEND_DESTINATIONS.includes(destination)) {
      this.#protocolError(`Access is denied to destination "${destination ?? ''}"`, frame);
      return;
    }
    let pending: unknown;
    try {
      pending = this.#app.onSend(this, destination, headerMap(frame), bodyText(frame));
    } catch (err) {
      this.#log.error({ sessionId: this.id, err, destination }, 'application failed on SEND');
    }
    if (pending instanceof Promise) {
      this.#sendsInFlight++;
      pending.then(
        () => this.#sendDone(),
        (err: unknown) => {
          this.#log.error({ sessionId: this.id, err, destination }, 'application failed on SEND');
          this.#sendDone();
        },
      );
    }
  }

  #onSubscribe(frame: StompFrame): void {
    const id = getHeader(frame, 'id');
    const destination = getHeader(frame, 'destination');
    if (id === undefined || destination === undefined) {
      this.#protocolError('SUBSCRIBE needs id and destination headers', frame);
      return;
    }
    if (!SUBSCRIBE_DESTINATIONS.includes(destination)) {
      this.#protocolError(`Access is denied to destination "${destination}"`, frame);
      return;
    }
    // every SUBSCRIBE frame counts, a re-SUBSCRIBE with a known id too
    if (++this.#subscribeFrames > this.#settings.maxSubscribeFrames) {
      this.#protocolError(`Too many SUBSCRIBE frames (max ${this.#settings.maxSubscribeFrames})`, frame);
      return;
    }
    if (!this.#subscriptions.has(id) && this.#subscriptions.size >= this.#settings.maxSubscriptions) {
      this.#protocolError(`Too many subscriptions (max ${this.#settings.maxSubscriptions})`, frame);
      return;
    }
    if (getHeader(frame, HEADER_POOL_ID) !== undefined) {
      if (this.#poolSubscribed) {
        this.#protocolError('Only one pool subscription per session', frame);
        return;
      }
      this.#poolSubscribed = true;
    }
    this.#subscriptions.set(id, destination);
    try {
      this.#app.onSubscribe(this, destination, headerMap(frame));
    } catch (err) {
      this.#log.error({ sessionId: this.id, err, destination }, 'application failed on SUBSCRIBE');
    }
  }

  /** Sends ERROR (with `message`, and `receipt-id` when the frame asked for a receipt) and closes. */
  #protocolError(message: string, frame?: StompFrame, extra: Array<[string, string]> = []): void {
    if (this.#ended) return;
    this.#log.debug({ sessionId: this.id, ip: this.ip, message }, 'STOMP protocol error, closing');
    const headers: Array<[string, string]> = [['message', message.slice(0, 200)], ...extra];
    const receipt = frame ? getHeader(frame, 'receipt') : undefined;
    if (receipt !== undefined) headers.push(['receipt-id', receipt]);
    this.#write(frameToString({ command: 'ERROR', headers, body: new Uint8Array(0) }));
    if (this.#ended) return;
    this.#wire.close(1002, 'Protocol error');
    this.#end(message);
  }

  #write(text: string): void {
    if (this.#ended) return;
    if (this.#wire.bufferedBytes() > this.#settings.maxBufferedBytes) {
      this.#log.warn({ sessionId: this.id, ip: this.ip }, 'slow consumer, terminating session');
      this.#wire.terminate();
      this.#end('Slow consumer');
      return;
    }
    this.#wire.write(text);
    this.#writeTimer?.refresh();
  }

  #end(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#queued.length = 0;
    for (const t of [this.#connectTimer, this.#readTimer]) if (t) clearTimeout(t);
    if (this.#writeTimer) clearInterval(this.#writeTimer);
    this.#connectTimer = this.#readTimer = this.#writeTimer = null;
    this.#onEnded(this);
    this.#log.debug({ sessionId: this.id, reason }, 'session ended');
    if (this.#connected) {
      queueMicrotask(() => {
        try {
          this.#app.onDisconnect(this);
        } catch (err) {
          this.#log.error({ sessionId: this.id, err }, 'application failed on disconnect');
        }
      });
    }
  }
}
