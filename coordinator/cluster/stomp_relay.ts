/**
 * STOMP relay for unmodified 0.23 clients (docs/protocol-addendum-redirect.md
 * §6): a client that cannot follow a `RedirectResponse` keeps its STOMP
 * session on the instance it reached, and that instance opens ONE upstream
 * STOMP session (raw WebSocket `…/ws/connect`, `ws` + the project's STOMP
 * codec) to the clear URL of the instance serving the pool — over TLS
 * (`wss:`) unless the owner is on loopback (relay_auth.ts) — then copies
 * frames both ways:
 *
 * - upstream: CONNECT (the client's own CONNECT headers such as `poolId`,
 *   minus STOMP-level ones and `acceptRedirect`, plus {@link HEADER_RELAYED_BY};
 *   {@link HEADER_RELAY_CLIENT_IP} and its HMAC claim `relayAuth` only with a
 *   relay secret and over TLS or loopback), then SUBSCRIBE `/private/reply` with
 *   the client's SUBSCRIBE headers (`poolId`, `protocolVersion`, never
 *   `acceptRedirect`) plus {@link HEADER_RELAYED_BY}: the owner never
 *   redirects or relays such a session again (loop protection);
 * - client SEND (`/ws/registerInput`…) → upstream SEND, same destination,
 *   `protocolVersion` / `content-type` headers and body; SENDs arriving
 *   before the upstream SUBSCRIBE went out are queued, so per-session order
 *   is kept;
 * - upstream MESSAGE → the client's `/private/reply` subscription through
 *   `ClientSession.sendPrivate` (same `messageType`; the JSON body is parsed
 *   and re-serialised, which is byte-identical for an owner that writes
 *   `JSON.stringify` output, as this coordinator does). A MESSAGE whose
 *   `protocolVersion` is not 0.23, whose `messageType` is unknown or whose
 *   body is not JSON ends the relay.
 *
 * When the upstream closes, errors, sends ERROR or stays silent past its
 * heart-beat, the client session is closed: a 0.23 client reconnects at once
 * (spec §9.4) and is routed again. When the client goes away, the upstream
 * is closed and the owner applies its normal disconnect rules.
 *
 * Hand-written on the project's STOMP codec rather than `@stomp/stompjs`
 * because frames must be copied verbatim (headers, bodies, order), not
 * dispatched to callbacks.
 *
 * @module
 */
import WebSocket from 'ws';
import type { Logger } from '#coordinator/log.ts';
import type { ClientSession } from '#coordinator/transport/stomp_application.ts';
import {
  HEADER_MESSAGE_TYPE,
  HEADER_PROTOCOL_VERSION,
  MESSAGE_TYPES,
  type MessageTypeName,
  PRIVATE_REPLY,
  PROTOCOL_VERSION,
  WS_CONNECT,
} from '#shared/protocol/constants.ts';
import { HEADER_ACCEPT_REDIRECT } from '#shared/protocol/redirect.ts';
import { StompDecoder } from '#shared/stomp/decoder.ts';
import { bodyText, frameToString, getHeader, type StompFrame } from '#shared/stomp/frame.ts';
import { negotiateHeartbeat, parseHeartbeatHeader } from '#shared/stomp/heartbeat.ts';
import { HEADER_RELAY_AUTH, type RelayLink, relayClaim, relayLink } from './relay_auth.ts';

/**
 * CONNECT/SUBSCRIBE header by which a relaying instance marks its upstream
 * session (value: its instance id). A session carrying it is never relayed
 * or redirected again.
 */
export const HEADER_RELAYED_BY = 'relayedBy';

/**
 * CONNECT header carrying the relayed client's IP address, sent only with a
 * `relayAuth` HMAC claim (shared relay secret) over a TLS or loopback link.
 * The owner uses it only when the claim verifies (relay_auth.ts); otherwise
 * it is ignored and blame records keep the connection IP.
 */
export const HEADER_RELAY_CLIENT_IP = 'relayClientIp';

/** Client headers never copied upstream (STOMP-level, per-hop, or the addendum's own). */
const NOT_FORWARDED = new Set([
  'accept-version',
  'heart-beat',
  'host',
  'login',
  'passcode',
  'receipt',
  'content-length',
  'id',
  'destination',
  'ack',
  HEADER_ACCEPT_REDIRECT,
  HEADER_RELAYED_BY,
  HEADER_RELAY_CLIENT_IP,
  HEADER_RELAY_AUTH,
]);

const MESSAGE_TYPE_NAMES: ReadonlyMap<string, MessageTypeName> = new Map(
  Object.entries(MESSAGE_TYPES).map(([name, cls]) => [cls, name as MessageTypeName]),
);

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

/**
 * The raw STOMP WebSocket URL (`ws[s]://host/…/ws/connect`) of an instance's
 * base URL; throws for a clear link to a non-loopback owner (relay_auth.ts).
 */
export function relayWebSocketUrl(baseUrl: string): string {
  return relayLink(baseUrl, WS_CONNECT).url;
}

/** True when a SUBSCRIBE (or its session's CONNECT) comes from a relaying instance. */
export function isRelayedSession(
  subscribeHeaders: ReadonlyMap<string, string>,
  connectHeaders: ReadonlyMap<string, string>,
): boolean {
  return subscribeHeaders.has(HEADER_RELAYED_BY) || connectHeaders.has(HEADER_RELAYED_BY);
}

/** Options of {@link StompRelay}. */
export interface StompRelayOptions {
  /** The client's session on this instance. */
  session: ClientSession;
  /** Headers of the client's pool SUBSCRIBE (`poolId`, `protocolVersion`…). */
  subscribeHeaders: ReadonlyMap<string, string>;
  /** Base URL (clear) of the instance serving the pool. */
  ownerUrl: string;
  /** Id of the owner, for logs. */
  ownerId: string;
  /** This instance's id (value of {@link HEADER_RELAYED_BY}). */
  instanceId: string;
  /** Cluster-wide relay secret: without it the client's IP is never sent upstream. */
  relaySecret?: string | null;
  logger: Logger;
  /** Time allowed from the WebSocket dial to CONNECTED (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** Heart-beat offered upstream, both directions (default 20 000 ms, like the Java client). */
  heartbeatMs?: number;
  /** Largest upstream frame accepted (default 65 536 bytes, the server's own limit). */
  maxFrameBytes?: number;
  /** Client SENDs queued while the upstream connects, beyond which the relay fails (default 16). */
  maxQueuedFrames?: number;
  /**
   * When the upstream fails before CONNECTED (owner unreachable, e.g. just
   * died and its lease not yet expired), the client session is closed only
   * after this delay (default 1000 ms), so a client that reconnects at once
   * does not spin against a dead owner until the takeover.
   */
  failDelayMs?: number;
  /** Called once when the relay ended, whichever side ended it. */
  onEnd?: (reason: string) => void;
}

/** One client session relayed to the owner of its pool; see module doc. */
export class StompRelay {
  readonly #o: StompRelayOptions;
  readonly #log: Logger;
  readonly #ws: WebSocket;
  readonly #link: RelayLink;
  readonly #decoder: StompDecoder;
  /** SEND frames waiting for the upstream SUBSCRIBE; null once flushed. */
  #queue: string[] | null = [];
  #ended = false;
  #connectTimer: NodeJS.Timeout | null;
  #beatTimer: NodeJS.Timeout | null = null;
  #readTimer: NodeJS.Timeout | null = null;
  #clientCloseTimer: NodeJS.Timeout | null = null;
  #upstreamConnected = false;

  constructor(opts: StompRelayOptions) {
    this.#o = opts;
    this.#log = opts.logger.child({
      component: 'stomp-relay',
      session: opts.session.id,
      owner: opts.ownerId,
    });
    const maxFrameBytes = opts.maxFrameBytes ?? 65536;
    this.#decoder = new StompDecoder({ maxFrameBytes });
    this.#link = relayLink(opts.ownerUrl, WS_CONNECT);
    const url = this.#link.url;
    this.#ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: maxFrameBytes * 2 });
    this.#connectTimer = setTimeout(
      () => this.#fail(`Upstream ${url} did not answer CONNECT in time`),
      opts.connectTimeoutMs ?? 10_000,
    );
    this.#connectTimer.unref?.();
    this.#ws.on('open', () => this.#onOpen());
    this.#ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => this.#onData(data));
    this.#ws.on('error', (err) => this.#fail(`Upstream ${url} failed: ${err.message}`));
    this.#ws.on('close', (code, reason) =>
      this.#fail(`Upstream ${url} closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`),
    );
    this.#log.info(
      { ip: opts.session.ip, poolId: opts.subscribeHeaders.get('poolId'), url },
      'relaying unmodified client to the owner of its pool',
    );
  }

  /** True once the relay has ended. */
  get closed(): boolean {
    return this.#ended;
  }

  /** Forwards one client SEND (destination, `protocolVersion` / `content-type` headers, body) upstream, in order. */
  send(destination: string, headers: ReadonlyMap<string, string>, body: string): void {
    if (this.#ended) return;
    const out: Array<[string, string]> = [['destination', destination]];
    for (const name of [HEADER_PROTOCOL_VERSION, 'content-type']) {
      const v = headers.get(name);
      if (v !== undefined) out.push([name, v]);
    }
    const frame = frameToString(
      { command: 'SEND', headers: out, body: utf8.encode(body) },
      { contentLength: true },
    );
    if (this.#queue) {
      if (this.#queue.length >= (this.#o.maxQueuedFrames ?? 16)) {
        this.#fail('Too many client frames queued while the upstream connects');
        return;
      }
      this.#queue.push(frame);
      return;
    }
    this.#write(frame);
  }

  /** The client went away: closes the upstream (the owner applies its disconnect rules). Idempotent. */
  close(reason: string): void {
    if (this.#clientCloseTimer) clearTimeout(this.#clientCloseTimer);
    this.#clientCloseTimer = null;
    if (this.#ended) return;
    this.#log.info({ reason }, 'relay closed by the client side');
    this.#end(reason);
  }

  #onOpen(): void {
    const headers: Array<[string, string]> = [
      ['accept-version', '1.2'],
      ['heart-beat', `${this.#hb()},${this.#hb()}`],
    ];
    for (const [k, v] of this.#o.session.connectHeaders) if (!NOT_FORWARDED.has(k)) headers.push([k, v]);
    headers.push([HEADER_RELAYED_BY, this.#o.instanceId]);
    const secret = this.#o.relaySecret;
    if (secret && this.#link.private) {
      const claim = { relayedBy: this.#o.instanceId, ownerId: this.#o.ownerId, clientIp: this.#o.session.ip };
      headers.push(
        [HEADER_RELAY_CLIENT_IP, claim.clientIp],
        [HEADER_RELAY_AUTH, relayClaim(secret, claim, Date.now())],
      );
    }
    this.#write(frameToString({ command: 'CONNECT', headers, body: EMPTY }));
  }

  #hb(): number {
    return this.#o.heartbeatMs ?? 20_000;
  }

  #onData(data: Buffer | ArrayBuffer | Buffer[]): void {
    if (this.#ended) return;
    this.#readTimer?.refresh();
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : data;
    let items: ReturnType<StompDecoder['push']>;
    try {
      items = this.#decoder.push(bytes);
    } catch (err) {
      this.#fail(`Malformed upstream frame: ${(err as Error).message}`);
      return;
    }
    for (const item of items) {
      if (this.#ended) return;
      if (item.type === 'frame') this.#onFrame(item.frame);
    }
  }

  #onFrame(frame: StompFrame): void {
    switch (frame.command) {
      case 'CONNECTED':
        this.#onConnected(frame);
        return;
      case 'MESSAGE':
        this.#onMessage(frame);
        return;
      case 'ERROR':
        this.#fail(`Upstream STOMP ERROR: ${getHeader(frame, 'message') ?? bodyText(frame).slice(0, 200)}`);
        return;
      case 'RECEIPT':
        return;
      default:
        this.#fail(`Unexpected upstream frame "${frame.command}"`);
    }
  }

  #onConnected(frame: StompFrame): void {
    if (!this.#queue) {
      this.#fail('Second CONNECTED from upstream');
      return;
    }
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    this.#upstreamConnected = true;
    let server: [number, number];
    try {
      server = parseHeartbeatHeader(getHeader(frame, 'heart-beat'));
    } catch {
      server = [0, 0];
    }
    // negotiateHeartbeat answers for the server side: it sends every sendEveryMs and expects every expectEveryMs.
    const { sendEveryMs, expectEveryMs } = negotiateHeartbeat([this.#hb(), this.#hb()], server);
    if (expectEveryMs > 0) {
      this.#beatTimer = setInterval(() => this.#write('\n'), expectEveryMs);
      this.#beatTimer.unref?.();
    }
    if (sendEveryMs > 0) {
      this.#readTimer = setTimeout(() => this.#fail('Upstream heart-beat timeout'), sendEveryMs * 3);
      this.#readTimer.unref?.();
    }
    const sub: Array<[string, string]> = [
      ['id', '0'],
      ['destination', PRIVATE_REPLY],
    ];
    for (const [k, v] of this.#o.subscribeHeaders) if (!NOT_FORWARDED.has(k)) sub.push([k, v]);
    sub.push([HEADER_RELAYED_BY, this.#o.instanceId]);
    this.#write(frameToString({ command: 'SUBSCRIBE', headers: sub, body: EMPTY }));
    const queued = this.#queue;
    this.#queue = null;
    for (const f of queued) this.#write(f);
  }

  #onMessage(frame: StompFrame): void {
    const cls = getHeader(frame, HEADER_MESSAGE_TYPE) ?? '';
    const name = MESSAGE_TYPE_NAMES.get(cls);
    const version = getHeader(frame, HEADER_PROTOCOL_VERSION);
    if (name === undefined || name === 'RedirectResponse') {
      this.#fail(`Upstream MESSAGE of unknown messageType "${cls.slice(0, 120)}"`);
      return;
    }
    if (version !== PROTOCOL_VERSION) {
      this.#fail(`Upstream MESSAGE with protocolVersion "${version ?? ''}"`);
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(bodyText(frame));
    } catch {
      this.#fail(`Upstream ${name} body is not JSON`);
      return;
    }
    this.#o.session.sendPrivate(name, payload);
    if (this.#o.session.closed) this.#end('Client session closed');
  }

  #write(text: string): void {
    if (this.#ended || this.#ws.readyState !== WebSocket.OPEN) return;
    this.#ws.send(text);
  }

  /** Upstream-side failure: ends the relay and closes the client session (it reconnects and is routed again). */
  #fail(reason: string): void {
    if (this.#ended) return;
    this.#log.info({ reason }, 'relay ended by the upstream side, closing the client session');
    this.#end(reason);
    const closeClient = (): void => {
      this.#clientCloseTimer = null;
      this.#o.session.close(`Relay to the pool owner ended: ${reason}`);
    };
    const delay = this.#upstreamConnected ? 0 : (this.#o.failDelayMs ?? 1000);
    if (delay === 0) {
      closeClient();
      return;
    }
    this.#clientCloseTimer = setTimeout(closeClient, delay);
    this.#clientCloseTimer.unref?.();
  }

  #end(reason: string): void {
    this.#ended = true;
    for (const t of [this.#connectTimer, this.#readTimer]) if (t) clearTimeout(t);
    if (this.#beatTimer) clearInterval(this.#beatTimer);
    this.#connectTimer = this.#readTimer = this.#beatTimer = null;
    this.#queue = null;
    if (this.#ws.readyState === WebSocket.OPEN) {
      this.#ws.send(frameToString({ command: 'DISCONNECT', headers: [], body: EMPTY }));
      this.#ws.close(1000, 'relay closed');
    } else if (this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.terminate();
    }
    this.#o.onEnd?.(reason);
  }
}
