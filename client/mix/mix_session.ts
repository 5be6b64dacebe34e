/**
 * One mixing attempt for one UTXO (spec §9.2–9.4), like the Java client's
 * MixSession + MixDialog: one STOMP session (@stomp/stompjs over `ws`, raw
 * WebSocket or SockJS), SUBSCRIBE `/private/reply`, RegisterInput with the
 * ownership signature, ConfirmInput with a blinded bordereau, the unblinded
 * registerOutput over the separate REST client, reveal, checks of the mix
 * transaction (§4.11) and the P2WPKH signature. Reconnects immediately after
 * a lost connection and re-registers; retries a failed connect every
 * `reconnectDelayMs` until `reconnectUntilMs` have passed (then DISCONNECTED),
 * or — generations from 0.23.28 on — after a random 5–120 s, forever.
 * What differs between client generations (CONNECT headers, `blockHeight`,
 * random bordereau and `bordereau64`, registerOutput retries) comes from the
 * {@link GenerationProfile} (`client/generations.ts`).
 * `run()` resolves with the attempt's outcome and never rejects.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { concatBytes, randomBytes } from '@noble/hashes/utils.js';
import { SigHash } from '@scure/btc-signer';
import { hash160, signECDSA } from '@scure/btc-signer/utils.js';
import { Client, type IFrame, type IMessage } from '@stomp/stompjs';
import WebSocket from 'ws';
import { type NetworkName, networkId } from '#shared/bitcoin/network.ts';
import { signMessage } from '#shared/bitcoin/signed_message.ts';
import { z85Decode, z85Encode } from '#shared/codec/z85.ts';
import { blindMessage, parseRsaSpki, type RsaPublicKey, unblindSignature } from '#shared/crypto/blind_rsa.ts';
import {
  CONTENT_TYPE_JSON,
  HEADER_MESSAGE_TYPE,
  HEADER_POOL_ID,
  HEADER_PROTOCOL_VERSION,
  MESSAGE_TYPES,
  type MessageTypeName,
  PRIVATE_REPLY,
  PROTOCOL_VERSION,
  WS_CONFIRM_INPUT,
  WS_CONNECT,
  WS_REGISTER_INPUT,
  WS_REVEAL_OUTPUT,
  WS_SIGNING,
} from '#shared/protocol/constants.ts';
import { parseJson, STOMP_PAYLOAD_SCHEMAS } from '#shared/protocol/messages.ts';
import { HEADER_ACCEPT_REDIRECT, type RedirectResponse } from '#shared/protocol/redirect.ts';
import { userHash } from '#shared/protocol/user_hash.ts';
import { fetchSockjsInfo, SockJsClientSocket, sockjsTransportUrl } from '#shared/sockjs/client_socket.ts';
import { isVerificationFailure, type LocateHint } from '../discovery/coordinator_locator.ts';
import { RedirectRefusedError, unverifiedRedirectVerdict } from '../discovery/redirect_policy.ts';
import {
  BORDEREAU_LENGTH,
  connectHeaders,
  connectRetryDelayMs,
  DEFAULT_GENERATION,
  GENERATIONS,
  type GenerationProfile,
  RANDOM_RETRY_MAX_MS,
  RANDOM_RETRY_MIN_MS,
  registerInputBody,
  registerOutputBody,
  retriesForever,
} from '../generations.ts';
import { type CoordinatorRest, CoordinatorRestError } from '../rest/coordinator_rest.ts';
import { MAX_INPUT_FEE } from '../tx0/premix_value.ts';
import type {
  MixEvents,
  MixFailReason,
  MixOutcome,
  MixPhase,
  MixTransport,
  MixUtxo,
  ReceiveAddress,
  ReceiveAddressProvider,
} from './mix_types.ts';
import { registerOutputDelayMs } from './output_delay.ts';
import { checkMixTx } from './tx_checks.ts';

/** Options of {@link MixSession}. */
export interface MixSessionOptions {
  /** Coordinator base URL (`http(s)://…`); with `locate`, replaced by its answer before each connection. */
  serverUrl: string;
  network: NetworkName;
  poolId: string;
  /** Denomination the client expects for the pool (checked against SubscribePoolResponse); null = accept. */
  denomination: number | null;
  utxo: MixUtxo;
  /** Reserves a postmix receive address for each invitation. */
  receiveAddress: ReceiveAddressProvider;
  /** SHA-256 of the wallet's premix address 0 (spec §4.4). */
  userPreHash: string;
  /** REST client; its registerOutput fetch should use another network identity. */
  rest: CoordinatorRest;
  /** Default `sockjs` (Java client). */
  transport?: MixTransport;
  /** Raw WebSocket path (default `/ws/connect/websocket` like Android; `/ws/connect` also works on this cluster). */
  wsPath?: string;
  /** Delay between failed connection attempts (default 5 000 ms). */
  reconnectDelayMs?: number;
  /** Give up connecting after this long since the first failure (default 500 000 ms). */
  reconnectUntilMs?: number;
  /** STOMP heart-beats (default 20 000 / 20 000). */
  heartbeatMs?: number;
  /** STOMP CONNECT timeout (default 30 000 ms). */
  connectTimeoutMs?: number;
  /**
   * Options handed to each `ws` WebSocket (e.g. `{ agent }` for a SOCKS
   * proxy), or a function of the WebSocket URL giving them (an agent for
   * `ws:` or `wss:` after a redirect).
   */
  wsOptions?: WebSocket.ClientOptions | ((url: string) => WebSocket.ClientOptions);
  /**
   * Upper bound (ms) of a uniformly random delay before registerOutput is
   * posted (default 0; WhirlpoolClient sets its own default), so the post
   * does not follow the notification at once.
   */
  registerOutputDelayMaxMs?: number;
  /** fetch used for the SockJS `/info` request. */
  fetch?: typeof fetch;
  /**
   * Cluster addendum: announce `acceptRedirect:true` on SUBSCRIBE and follow a
   * RedirectResponse to the instance serving the pool (default false: plain 0.23).
   */
  acceptRedirect?: boolean;
  /**
   * Without `locate` only: follow the onion URL of a redirect (default false;
   * a redirect naming no onion URL is then refused, never followed to clear).
   */
  preferOnion?: boolean;
  /** Consecutive redirects allowed before the attempt ends with INTERNAL_ERROR (default 3). */
  maxRedirects?: number;
  /** REST client for another instance's URL after a redirect (default: keep `rest`). */
  restForUrl?: (serverUrl: string) => CoordinatorRest;
  /**
   * Directory discovery: asked for the coordinator URL before every connection
   * (first one, after a redirect, a lost or a failed connection). A rejection
   * counts as a failed connection (§9.4 retry timing), except a directory
   * refused by verification (forged / altered / expired), which ends the
   * attempt with INTERNAL_ERROR, and a refused redirect
   * ({@link RedirectRefusedError}: no verified record of the instance), which
   * ends it with DISCONNECTED. With `locate`, a RedirectResponse only names
   * an instance: its URLs are never used, `locate` resolves the instance.
   */
  locate?: (hint: LocateHint) => Promise<string>;
  /** Debug sink for STOMP traffic (never receives secrets; off by default). */
  debug?: (msg: string) => void;
  /** Which client generation to behave as (default {@link DEFAULT_GENERATION}). */
  generation?: GenerationProfile;
  /** Chain tip height for `RegisterInputRequest.blockHeight` (G5+), read before each connection. */
  blockHeight?: () => number | Promise<number>;
  /** Window of the 0.23.28+ random connect retry (default 5–120 s; scaled down in tests and benchmarks). */
  randomRetryWindow?: { minMs: number; maxMs: number };
}

/** Reverse of MESSAGE_TYPES. */
const PAYLOAD_BY_CLASS = new Map<string, MessageTypeName>(
  Object.entries(MESSAGE_TYPES).map(([name, cls]) => [cls, name as MessageTypeName]),
);

class AttemptEnd extends Error {
  readonly reason: MixFailReason;
  constructor(reason: MixFailReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Per-connection dialog state (reset on reconnection, spec §9.3). */
interface Dialog {
  subscribed: boolean;
  liquidity: boolean;
  denomination: number;
  /** Invitation being confirmed; `bordereau` = the signed bytes (random for G5+, else the address). */
  pending: {
    mixId: string;
    key: RsaPublicKey;
    r: bigint;
    receive: ReceiveAddress;
    bordereau: Uint8Array | null;
  } | null;
  /** Adopted after ConfirmInputResponse. */
  mixId: string | null;
  signedBordereau: Uint8Array | null;
  earlyRegisterOutput: { mixId: string; inputsHash: string } | null;
  inputsHash: string | null;
  outputRegistered: boolean;
  /** REGISTERED_OUTPUT was emitted (by the HTTP answer, or by SIGNING, whichever came first). */
  outputAcknowledged: boolean;
  revealed: boolean;
  signed: boolean;
  lastStatus: string | null;
  mixTxid: string | null;
  receiveVout: number | null;
}

function newDialog(): Dialog {
  return {
    subscribed: false,
    liquidity: false,
    denomination: 0,
    pending: null,
    mixId: null,
    signedBordereau: null,
    earlyRegisterOutput: null,
    inputsHash: null,
    outputRegistered: false,
    outputAcknowledged: false,
    revealed: false,
    signed: false,
    lastStatus: null,
    mixTxid: null,
    receiveVout: null,
  };
}

/** One mixing attempt of one UTXO. Create, subscribe to events, then `run()`. */
export class MixSession extends EventEmitter<MixEvents> {
  readonly #o: Required<
    Omit<
      MixSessionOptions,
      | 'denomination'
      | 'wsOptions'
      | 'debug'
      | 'fetch'
      | 'restForUrl'
      | 'locate'
      | 'registerOutputDelayMaxMs'
      | 'blockHeight'
    >
  > &
    MixSessionOptions;
  /** Chain height read before the current connection (G5+). */
  #blockHeight = 0;
  #serverUrl: string;
  #rest: CoordinatorRest;
  #redirects = 0;
  /** Why the next connection happens (for `locate`). */
  #locateHint: LocateHint = { reason: 'start' };
  /** The redirect being resolved by `locate` (its event is emitted with the verified URL). */
  #pendingRedirect: { from: string; instanceId: string; epoch: number } | null = null;
  #dialog = newDialog();
  #client: Client | null = null;
  #done = false;
  #resolve: ((o: MixOutcome) => void) | null = null;
  #firstFailureAt: number | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** The random delay before registerOutput. */
  #outputTimer: ReturnType<typeof setTimeout> | null = null;
  #connectionSeq = 0;
  #promise: Promise<MixOutcome> | null = null;

  constructor(opts: MixSessionOptions) {
    super();
    this.#o = {
      transport: 'sockjs',
      wsPath: '/ws/connect/websocket',
      reconnectDelayMs: 5_000,
      reconnectUntilMs: 500_000,
      heartbeatMs: 20_000,
      connectTimeoutMs: 30_000,
      acceptRedirect: false,
      preferOnion: false,
      maxRedirects: 3,
      generation: GENERATIONS[DEFAULT_GENERATION],
      randomRetryWindow: { minMs: RANDOM_RETRY_MIN_MS, maxMs: RANDOM_RETRY_MAX_MS },
      ...(Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as MixSessionOptions),
    };
    this.#serverUrl = this.#o.serverUrl;
    this.#rest = this.#o.rest;
  }

  /** Coordinator URL currently used (changes after a followed redirect). */
  get serverUrl(): string {
    return this.#serverUrl;
  }

  /** Runs the attempt; resolves with its outcome (never rejects). Idempotent. */
  run(): Promise<MixOutcome> {
    if (!this.#promise) {
      this.#promise = new Promise<MixOutcome>((resolve) => {
        this.#resolve = resolve;
        void this.#connect();
      });
    }
    return this.#promise;
  }

  /** Stops the attempt (outcome STOPPED unless it already ended). */
  stop(message = 'Stopped by the caller'): void {
    if (!this.#promise) this.run();
    this.#finish({ status: 'FAIL', reason: 'STOPPED', message, mixId: this.#dialog.mixId });
  }

  #phase(phase: MixPhase): void {
    this.emit('phase', phase, {
      mixId: this.#dialog.mixId ?? this.#dialog.pending?.mixId ?? null,
      poolId: this.#o.poolId,
    });
  }

  async #connect(): Promise<void> {
    if (this.#done) return;
    const seq = ++this.#connectionSeq;
    this.#dialog = newDialog();
    this.#phase('CONNECTING');
    if (this.#o.locate && !(await this.#locate(seq))) return;
    if (this.#o.generation.sendsBlockHeight && this.#o.blockHeight) {
      try {
        this.#blockHeight = await this.#o.blockHeight();
      } catch (err) {
        this.#connectFailed(seq, `Block height unavailable: ${(err as Error).message}`);
        return;
      }
      if (this.#done || seq !== this.#connectionSeq) return;
    }
    let factory: () => WebSocket | SockJsClientSocket;
    const base = this.#serverUrl.replace(/\/+$/, '');
    try {
      if (this.#o.transport === 'sockjs') {
        await fetchSockjsInfo(base, WS_CONNECT, this.#o.fetch);
        const url = sockjsTransportUrl(base, WS_CONNECT);
        factory = () => new SockJsClientSocket(new WebSocket(url, this.#wsOptions(url)) as never);
      } else {
        const url = `${base.replace(/^http/, 'ws')}${this.#o.wsPath}`;
        factory = () => new WebSocket(url, ['v12.stomp', 'v11.stomp', 'v10.stomp'], this.#wsOptions(url));
      }
    } catch (err) {
      this.#connectFailed(seq, `SockJS info request failed: ${(err as Error).message}`);
      return;
    }
    if (this.#done || seq !== this.#connectionSeq) return;
    let connected = false;
    const client = new Client({
      webSocketFactory: factory as never,
      connectHeaders: connectHeaders(this.#o.generation, this.#o.poolId),
      heartbeatIncoming: this.#o.heartbeatMs,
      heartbeatOutgoing: this.#o.heartbeatMs,
      reconnectDelay: 0,
      connectionTimeout: this.#o.connectTimeoutMs,
      debug: this.#o.debug ?? (() => {}),
      // With a debug sink, whole frames (bodies included) reach it; no secret travels on STOMP.
      logRawCommunication: this.#o.debug !== undefined,
      onConnect: () => {
        if (this.#done || seq !== this.#connectionSeq) return;
        connected = true;
        this.#firstFailureAt = null;
        this.#phase('CONNECTED');
        const headers: Record<string, string> = {
          [HEADER_POOL_ID]: this.#o.poolId,
          [HEADER_PROTOCOL_VERSION]: PROTOCOL_VERSION,
        };
        if (this.#o.acceptRedirect) headers[HEADER_ACCEPT_REDIRECT] = 'true';
        client.subscribe(PRIVATE_REPLY, (m) => this.#onMessage(seq, m), headers);
      },
      onStompError: (frame: IFrame) => {
        this.#o.debug?.(`STOMP ERROR: ${frame.headers.message ?? ''}`);
      },
      onWebSocketClose: (ev: { code?: number; reason?: string }) => {
        if (this.#done || seq !== this.#connectionSeq) return;
        const why = `WebSocket closed (${ev?.code ?? '?'} ${ev?.reason ?? ''})`.trim();
        if (connected) this.#connectionLost(seq, why);
        else this.#connectFailed(seq, why);
      },
    });
    this.#client = client;
    client.activate();
  }

  #wsOptions(url: string): WebSocket.ClientOptions | undefined {
    const w = this.#o.wsOptions;
    return typeof w === 'function' ? w(url) : w;
  }

  /** Asks `locate` for the URL of this connection; false when the connection must not go on. */
  async #locate(seq: number): Promise<boolean> {
    const hint = this.#locateHint;
    this.#locateHint = { reason: 'failed' };
    let url: string;
    try {
      url = await this.#o.locate!(hint);
    } catch (err) {
      if (this.#done || seq !== this.#connectionSeq) return false;
      const msg = err instanceof Error ? err.message : String(err);
      if (err instanceof RedirectRefusedError) {
        this.#finish({
          status: 'FAIL',
          reason: 'DISCONNECTED',
          message: `Redirect refused: ${msg}`,
          mixId: null,
        });
      } else if (isVerificationFailure(err)) {
        this.#finish({
          status: 'FAIL',
          reason: 'INTERNAL_ERROR',
          message: `Coordinator directory refused: ${msg}`,
          mixId: null,
        });
      } else {
        this.#connectFailed(seq, `Coordinator discovery failed: ${msg}`);
      }
      return false;
    }
    if (this.#done || seq !== this.#connectionSeq) return false;
    if (url !== this.#serverUrl) {
      this.#serverUrl = url;
      this.#rest = this.#o.restForUrl ? this.#o.restForUrl(url) : this.#rest;
    }
    const redirect = this.#pendingRedirect;
    this.#pendingRedirect = null;
    if (redirect && hint.reason === 'redirect') this.emit('redirect', { ...redirect, to: url });
    return true;
  }

  /** Lost after having been connected: reset and reconnect immediately (spec §9.4). */
  #connectionLost(seq: number, why: string): void {
    if (seq !== this.#connectionSeq) return;
    this.#locateHint = { reason: 'lost' };
    this.#resetDialog();
    this.#dropClient();
    this.emit('reconnect', { delayMs: 0, lost: true, reason: why });
    void this.#connect();
  }

  /**
   * Could not connect: retry every reconnectDelay until reconnectUntil (spec
   * §9.4), or after a random delay forever (0.23.28+ generations).
   */
  #connectFailed(seq: number, why: string): void {
    if (seq !== this.#connectionSeq || this.#done) return;
    this.#resetDialog();
    this.#dropClient();
    const now = Date.now();
    this.#firstFailureAt ??= now;
    const g = this.#o.generation;
    if (!retriesForever(g) && now - this.#firstFailureAt >= this.#o.reconnectUntilMs) {
      this.#finish({
        status: 'FAIL',
        reason: 'DISCONNECTED',
        message: `Could not connect to ${this.#serverUrl} for ${this.#o.reconnectUntilMs} ms: ${why}`,
        mixId: null,
      });
      return;
    }
    const delayMs = connectRetryDelayMs(
      g,
      this.#o.reconnectDelayMs,
      Math.random(),
      this.#o.randomRetryWindow,
    );
    this.emit('reconnect', { delayMs, lost: false, reason: why });
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#connect();
    }, delayMs);
  }

  /** Releases the receive address if it was not posted yet. */
  #resetDialog(): void {
    const d = this.#dialog;
    if (d.pending && !d.outputRegistered) d.pending.receive.release();
    this.#dialog = newDialog();
  }

  #dropClient(): void {
    const c = this.#client;
    this.#client = null;
    if (c) void c.deactivate({ force: true }).catch(() => {});
  }

  #finish(outcome: MixOutcome): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#outputTimer) clearTimeout(this.#outputTimer);
    const d = this.#dialog;
    if (outcome.status === 'FAIL' && d.pending && !d.outputRegistered) d.pending.receive.release();
    this.#phase(outcome.status === 'SUCCESS' ? 'SUCCESS' : 'FAIL');
    const c = this.#client;
    this.#client = null;
    if (c) void c.deactivate().catch(() => {});
    this.#resolve?.(outcome);
  }

  #send(destination: string, body: unknown): void {
    this.#client?.publish({
      destination,
      headers: { [HEADER_PROTOCOL_VERSION]: PROTOCOL_VERSION, 'content-type': CONTENT_TYPE_JSON },
      body: JSON.stringify(body),
    });
  }

  #onMessage(seq: number, m: IMessage): void {
    if (this.#done || seq !== this.#connectionSeq) return;
    try {
      this.#dispatch(m);
    } catch (err) {
      if (err instanceof AttemptEnd) {
        this.#finish({ status: 'FAIL', reason: err.reason, message: err.message, mixId: this.#dialog.mixId });
      } else {
        this.#finish({
          status: 'FAIL',
          reason: 'INTERNAL_ERROR',
          message: `Unexpected error: ${(err as Error).message}`,
          mixId: this.#dialog.mixId,
        });
      }
    }
  }

  #dispatch(m: IMessage): void {
    const version = m.headers[HEADER_PROTOCOL_VERSION];
    if (version !== PROTOCOL_VERSION) {
      throw new AttemptEnd(
        'PROTOCOL_MISMATCH',
        `Protocol version mismatch: server=${version ?? 'unknown'}, client=${PROTOCOL_VERSION}`,
      );
    }
    const cls = m.headers[HEADER_MESSAGE_TYPE] ?? '';
    const name = PAYLOAD_BY_CLASS.get(cls);
    if (!name) throw new AttemptEnd('INTERNAL_ERROR', `Unknown messageType '${cls}'`);
    const d = this.#dialog;
    if (!d.subscribed) {
      if (name === 'RedirectResponse' && this.#o.acceptRedirect) {
        this.#onRedirect(parseJson(STOMP_PAYLOAD_SCHEMAS.RedirectResponse, m.body));
        return;
      }
      if (name !== 'SubscribePoolResponse') {
        const detail =
          name === 'ErrorResponse'
            ? `: ${parseJson(STOMP_PAYLOAD_SCHEMAS.ErrorResponse, m.body).message}`
            : '';
        throw new AttemptEnd(
          'INTERNAL_ERROR',
          `First message is not a SubscribePoolResponse but ${name}${detail}`,
        );
      }
      this.#redirects = 0;
      this.#onSubscribePool(parseJson(STOMP_PAYLOAD_SCHEMAS.SubscribePoolResponse, m.body));
      return;
    }
    switch (name) {
      case 'ErrorResponse': {
        const e = parseJson(STOMP_PAYLOAD_SCHEMAS.ErrorResponse, m.body);
        throw new AttemptEnd('INPUT_REJECTED', e.message);
      }
      case 'ConfirmInputMixStatusNotification':
        this.#onInvitation(parseJson(STOMP_PAYLOAD_SCHEMAS.ConfirmInputMixStatusNotification, m.body));
        return;
      case 'ConfirmInputResponse':
        this.#onConfirmInputResponse(parseJson(STOMP_PAYLOAD_SCHEMAS.ConfirmInputResponse, m.body));
        return;
      case 'RegisterOutputMixStatusNotification':
        this.#status('REGISTER_OUTPUT', m, STOMP_PAYLOAD_SCHEMAS.RegisterOutputMixStatusNotification, (n) =>
          this.#onRegisterOutput(n.mixId, n.inputsHash),
        );
        return;
      case 'RevealOutputMixStatusNotification':
        this.#status('REVEAL_OUTPUT', m, STOMP_PAYLOAD_SCHEMAS.RevealOutputMixStatusNotification, () =>
          this.#onRevealOutput(),
        );
        return;
      case 'SigningMixStatusNotification':
        this.#status('SIGNING', m, STOMP_PAYLOAD_SCHEMAS.SigningMixStatusNotification, (n) =>
          this.#onSigning(n.transaction64),
        );
        return;
      case 'SuccessMixStatusNotification':
        this.#status('SUCCESS', m, STOMP_PAYLOAD_SCHEMAS.SuccessMixStatusNotification, () =>
          this.#onSuccess(),
        );
        return;
      case 'FailMixStatusNotification':
        this.#status('FAIL', m, STOMP_PAYLOAD_SCHEMAS.FailMixStatusNotification, (n) => {
          throw new AttemptEnd('MIX_FAILED', `Mix ${n.mixId} failed`);
        });
        return;
      case 'SubscribePoolResponse':
        throw new AttemptEnd('INTERNAL_ERROR', 'Second SubscribePoolResponse');
      case 'RedirectResponse':
        throw new AttemptEnd('INTERNAL_ERROR', 'RedirectResponse after SubscribePoolResponse');
    }
  }

  /** Common handling of a status notification: mixId and repeated-status checks (spec §9.3). */
  #status<T extends { mixId: string }>(
    status: string,
    m: IMessage,
    schema: Parameters<typeof parseJson<T>>[0],
    handler: (n: T) => void,
  ): void {
    const n = parseJson(schema, m.body);
    const d = this.#dialog;
    if (status === 'REGISTER_OUTPUT' && d.mixId === null && d.pending?.mixId === n.mixId) {
      handler(n); // early REGISTER_OUTPUT, buffered by the handler
      return;
    }
    if (d.mixId !== null && n.mixId !== d.mixId) {
      throw new AttemptEnd('INTERNAL_ERROR', `Notification for mix ${n.mixId} while in mix ${d.mixId}`);
    }
    if (d.mixId === null && status !== 'FAIL') {
      throw new AttemptEnd('INTERNAL_ERROR', `${status} notification before ConfirmInputResponse`);
    }
    if (d.lastStatus === status) throw new AttemptEnd('INTERNAL_ERROR', `Status ${status} received twice`);
    d.lastStatus = status;
    handler(n);
  }

  /**
   * Cluster addendum: reconnect to the instance that serves the pool. With
   * `locate` (directory) the redirect only names the instance and `locate`
   * resolves it to its verified record's URL; without it (one configured
   * coordinator, explicit `acceptRedirect`) the redirect's own URL is used,
   * never from onion to clear or from https to http.
   */
  #onRedirect(r: RedirectResponse): void {
    if (r.poolId !== this.#o.poolId)
      throw new AttemptEnd(
        'INTERNAL_ERROR',
        `Redirect for pool '${r.poolId}' instead of '${this.#o.poolId}'`,
      );
    if (++this.#redirects > this.#o.maxRedirects) {
      throw new AttemptEnd(
        'INTERNAL_ERROR',
        `More than ${this.#o.maxRedirects} consecutive redirects (last to instance ${r.instanceId})`,
      );
    }
    const from = this.#serverUrl;
    if (this.#o.locate) {
      this.#pendingRedirect = { from, instanceId: r.instanceId, epoch: r.epoch };
      this.#locateHint = { reason: 'redirect', instanceId: r.instanceId, minEpoch: r.epoch };
    } else {
      const target = (this.#o.preferOnion ? r.urlOnion : (r.urlClear ?? r.urlOnion))?.replace(/\/+$/, '');
      if (!target)
        throw new AttemptEnd(
          'INTERNAL_ERROR',
          `Redirect to instance ${r.instanceId} names no ${this.#o.preferOnion ? 'onion ' : ''}URL`,
        );
      const verdict = unverifiedRedirectVerdict(from, target);
      if (!verdict.ok) throw new AttemptEnd('INTERNAL_ERROR', `Redirect refused: ${verdict.reason}`);
      this.#serverUrl = target;
      this.#rest = this.#o.restForUrl ? this.#o.restForUrl(target) : this.#rest;
      this.emit('redirect', { from, to: target, instanceId: r.instanceId, epoch: r.epoch });
    }
    this.#resetDialog();
    this.#dropClient();
    void this.#connect();
  }

  #onSubscribePool(r: {
    networkId: string;
    denomination: number;
    mustMixBalanceMin: number;
    mustMixBalanceMax: number;
  }): void {
    const d = this.#dialog;
    const o = this.#o;
    if (o.denomination !== null && r.denomination !== o.denomination) {
      throw new AttemptEnd('INTERNAL_ERROR', `Unexpected denomination from server: ${r.denomination}`);
    }
    const expectedNet = networkId(o.network);
    if (r.networkId !== expectedNet) {
      throw new AttemptEnd(
        'INTERNAL_ERROR',
        `Unexpected network from server: '${r.networkId}' (expected '${expectedNet}')`,
      );
    }
    const value = o.utxo.value;
    d.denomination = r.denomination;
    d.liquidity = value === r.denomination;
    if (!d.liquidity) {
      if (value - r.denomination > MAX_INPUT_FEE) {
        throw new AttemptEnd(
          'INTERNAL_ERROR',
          `UTXO would pay ${value - r.denomination} sats of miner fee (max ${MAX_INPUT_FEE})`,
        );
      }
      if (value < r.mustMixBalanceMin || value > r.mustMixBalanceMax) {
        throw new AttemptEnd(
          'INTERNAL_ERROR',
          `UTXO value ${value} is outside [${r.mustMixBalanceMin}, ${r.mustMixBalanceMax}] for pool ${o.poolId}`,
        );
      }
    }
    d.subscribed = true;
    this.#phase('REGISTERING_INPUT');
    this.#send(
      WS_REGISTER_INPUT,
      registerInputBody(
        o.generation,
        {
          poolId: o.poolId,
          utxoHash: o.utxo.txid,
          utxoIndex: o.utxo.vout,
          signature: signMessage(o.poolId, o.utxo.privateKey),
          liquidity: d.liquidity,
        },
        this.#blockHeight,
      ),
    );
    this.#phase('REGISTERED_INPUT');
  }

  #onInvitation(n: { mixId: string; publicKey64: string }): void {
    const d = this.#dialog;
    if (d.mixId !== null)
      throw new AttemptEnd('INTERNAL_ERROR', `Invitation to ${n.mixId} while in mix ${d.mixId}`);
    const key = parseRsaSpki(z85Decode(n.publicKey64));
    if (d.pending) d.pending.receive.release();
    d.pending = null;
    d.earlyRegisterOutput = null;
    const receive = this.#o.receiveAddress();
    // G5+ blind 30 fresh random bytes per invitation; older generations blind the receive address.
    const bordereau = this.#o.generation.bordereau === 'random' ? randomBytes(BORDEREAU_LENGTH) : null;
    const { blinded, r } = blindMessage(bordereau ?? new TextEncoder().encode(receive.address), key);
    d.pending = { mixId: n.mixId, key, r, receive, bordereau };
    this.#phase('CONFIRMING_INPUT');
    this.#send(WS_CONFIRM_INPUT, {
      mixId: n.mixId,
      blindedBordereau64: z85Encode(blinded),
      userHash: userHash(n.mixId, this.#o.userPreHash),
    });
  }

  #onConfirmInputResponse(r: { mixId: string; signedBordereau64: string }): void {
    const d = this.#dialog;
    if (!d.pending || d.pending.mixId !== r.mixId || d.mixId !== null) {
      throw new AttemptEnd('INTERNAL_ERROR', `Unexpected ConfirmInputResponse for mix ${r.mixId}`);
    }
    const signed = z85Decode(r.signedBordereau64);
    if (signed.length > 256)
      throw new AttemptEnd('INTERNAL_ERROR', `Signed bordereau is ${signed.length} bytes`);
    d.mixId = r.mixId;
    d.signedBordereau = signed;
    this.#phase('CONFIRMED_INPUT');
    const early = d.earlyRegisterOutput;
    if (early) {
      d.earlyRegisterOutput = null;
      d.lastStatus = 'REGISTER_OUTPUT';
      this.#onRegisterOutput(early.mixId, early.inputsHash);
    }
  }

  #onRegisterOutput(mixId: string, inputsHash: string): void {
    const d = this.#dialog;
    if (d.mixId === null) {
      d.earlyRegisterOutput = { mixId, inputsHash };
      return;
    }
    const pending = d.pending!;
    const sig = unblindSignature(d.signedBordereau!, pending.r, pending.key);
    d.inputsHash = inputsHash;
    d.outputRegistered = true;
    pending.receive.confirm();
    this.#phase('REGISTERING_OUTPUT');
    const seq = this.#connectionSeq;
    const delayMs = registerOutputDelayMs(this.#o.registerOutputDelayMaxMs ?? 0);
    const unblinded = z85Encode(sig);
    const bordereau64 = pending.bordereau ? z85Encode(pending.bordereau) : null;
    const post = () => {
      if (this.#done || seq !== this.#connectionSeq) return;
      void this.#postOutput(seq, mixId, inputsHash, unblinded, bordereau64, 1);
    };
    if (delayMs > 0) this.#outputTimer = setTimeout(post, delayMs);
    else post();
  }

  /**
   * Posts registerOutput (after the random delay of {@link #onRegisterOutput});
   * G5+ retry a failure at once with the next postmix address and the same
   * bordereau, up to `registerOutputAttempts` posts (0.23.42 `MixDialog`);
   * the last failure ends the attempt.
   */
  async #postOutput(
    seq: number,
    mixId: string,
    inputsHash: string,
    unblinded: string,
    bordereau64: string | null,
    attempt: number,
  ): Promise<void> {
    const pending = this.#dialog.pending!;
    const g = this.#o.generation;
    try {
      await this.#rest.registerOutput(
        registerOutputBody(
          g,
          { inputsHash, unblindedSignedBordereau64: unblinded, receiveAddress: pending.receive.address },
          bordereau64,
        ),
      );
      if (!this.#done && seq === this.#connectionSeq) this.#acknowledgeOutput();
    } catch (err) {
      if (this.#done || seq !== this.#connectionSeq) return;
      if (attempt < g.registerOutputAttempts && !this.#dialog.signed && !this.#dialog.revealed) {
        // Next postmix address; the posted one stays used (confirmed).
        const next = this.#o.receiveAddress();
        next.confirm();
        pending.receive = next;
        this.#o.debug?.(`registerOutput attempt ${attempt} failed: ${(err as Error).message}`);
        await this.#postOutput(seq, mixId, inputsHash, unblinded, bordereau64, attempt + 1);
        return;
      }
      if (err instanceof CoordinatorRestError && err.serverMessage !== null) {
        this.#finish({ status: 'FAIL', reason: 'INPUT_REJECTED', message: err.serverMessage, mixId });
      } else {
        this.#finish({
          status: 'FAIL',
          reason: 'INTERNAL_ERROR',
          message: `registerOutput failed: ${(err as Error).message}`,
          mixId,
        });
      }
    }
  }

  /** Emits REGISTERED_OUTPUT once per attempt. */
  #acknowledgeOutput(): void {
    const d = this.#dialog;
    if (d.outputAcknowledged) return;
    d.outputAcknowledged = true;
    this.#phase('REGISTERED_OUTPUT');
  }

  #onRevealOutput(): void {
    const d = this.#dialog;
    if (!d.outputRegistered || d.signed)
      throw new AttemptEnd('INTERNAL_ERROR', 'REVEAL_OUTPUT in a wrong state');
    d.revealed = true;
    this.#send(WS_REVEAL_OUTPUT, { mixId: d.mixId, receiveAddress: d.pending!.receive.address });
    this.#phase('REVEALED_OUTPUT');
  }

  #onSigning(transaction64: string): void {
    const d = this.#dialog;
    if (!d.outputRegistered || d.revealed) throw new AttemptEnd('INTERNAL_ERROR', 'SIGNING in a wrong state');
    // The coordinator only signs once it holds every output, ours included, so
    // the HTTP answer may still be in flight: phases stay in protocol order.
    this.#acknowledgeOutput();
    this.#phase('SIGNING');
    const o = this.#o;
    const check = checkMixTx(z85Decode(transaction64), {
      network: o.network,
      inputsHash: d.inputsHash!,
      denomination: d.denomination,
      utxo: { txid: o.utxo.txid, vout: o.utxo.vout, value: o.utxo.value },
      liquidity: d.liquidity,
      receiveAddress: d.pending!.receive.address,
    });
    if (!check.ok)
      throw new AttemptEnd('INTERNAL_ERROR', `Refusing to sign: ${check.message} (${check.code})`);
    const scriptCode = concatBytes(
      Uint8Array.of(0x76, 0xa9, 0x14),
      hash160(o.utxo.publicKey),
      Uint8Array.of(0x88, 0xac),
    );
    const sighash = check.tx.preimageWitnessV0(
      check.inputIndex,
      scriptCode,
      SigHash.ALL,
      BigInt(o.utxo.value),
    );
    const sig = concatBytes(signECDSA(sighash, o.utxo.privateKey), Uint8Array.of(SigHash.ALL));
    d.signed = true;
    d.mixTxid = check.tx.id;
    d.receiveVout = check.outputIndex;
    this.#send(WS_SIGNING, { mixId: d.mixId, witnesses64: [z85Encode(sig), z85Encode(o.utxo.publicKey)] });
    this.#phase('SIGNED');
  }

  #onSuccess(): void {
    const d = this.#dialog;
    if (!d.signed) throw new AttemptEnd('INTERNAL_ERROR', 'SUCCESS before signing');
    this.#finish({
      status: 'SUCCESS',
      mixId: d.mixId!,
      liquidity: d.liquidity,
      receiveUtxo: {
        txid: d.mixTxid!,
        vout: d.receiveVout!,
        value: d.denomination,
        address: d.pending!.receive.address,
      },
    });
  }
}
