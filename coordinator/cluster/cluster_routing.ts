/**
 * Cluster routing in front of the mix engine:
 *
 * - {@link ClusterStompApplication} wraps the engine's `StompApplication`.
 *   A pool SUBSCRIBE for a pool served here goes to the engine. For a pool
 *   served by another instance, a client that announced `acceptRedirect:true`
 *   gets a `RedirectResponse` (then the session is closed after a grace
 *   delay); an unmodified 0.23 client is relayed to the owner
 *   (`stomp_relay.ts`; an `ErrorResponse` naming the owner when it has no
 *   clear URL or relaying is off). A session that is itself a relay
 *   (`relayedBy` header) is never redirected or relayed again: it is closed
 *   when its pool is served elsewhere. For a pool nobody serves at the
 *   moment (takeover in progress) the SUBSCRIBE waits up to `unownedWaitMs`
 *   for an owner before deciding. It also watches the engine's
 *   `RegisterOutputMixStatusNotification`s and records each mix's
 *   inputsHash → this instance (fenced) for REGISTER_OUTPUT routing.
 * - {@link clusterRegisterOutput} is the `registerOutput` dependency of the
 *   REST app: the engine when it holds the mix, else HTTP 307 to the instance
 *   recorded for the inputsHash.
 *
 * @module
 */
import type { Logger } from '#coordinator/log.ts';
import type { LeaseFence } from '#coordinator/mix/types.ts';
import type { ClientSession, StompApplication } from '#coordinator/transport/stomp_application.ts';
import { HEADER_POOL_ID, PRIVATE_REPLY, REST_REGISTER_OUTPUT } from '#shared/protocol/constants.ts';
import type { RegisterOutputRequest } from '#shared/protocol/messages.ts';
import { acceptsRedirect, HEADER_ACCEPT_REDIRECT, type RedirectResponse } from '#shared/protocol/redirect.ts';
import type { PoolOwner } from './cluster_node.ts';
import type { MixInputsHashStore } from './mix_inputs_hash_store.ts';
import { HEADER_RELAY_AUTH, verifyRelayClaim } from './relay_auth.ts';
import { HEADER_RELAY_CLIENT_IP, HEADER_RELAYED_BY, isRelayedSession, StompRelay } from './stomp_relay.ts';

/** What routing needs from the cluster node. */
export interface ClusterRouting {
  readonly instanceId: string;
  /**
   * False when clustering is disabled: the engine decides alone. Undefined
   * while the cluster node is still starting: owners are unknown yet, so a
   * pool subscription waits as for an unowned pool (a client reconnecting to
   * a restarted instance must not be told "Pool not found").
   */
  readonly clustered?: boolean;
  fenceOf(poolId: string): LeaseFence | null;
  ownerOf(poolId: string): PoolOwner | null;
}

/** What routing needs from the engine (a `MixEngine` fits). */
export interface RoutedEngine extends StompApplication {
  servedPools(): string[];
  /** Whether `poolId` is in this instance's pool configuration (served here or not). */
  isConfiguredPool(poolId: string): boolean;
}

/** Options of {@link ClusterStompApplication}. */
export interface ClusterStompOptions {
  engine: RoutedEngine;
  routing: ClusterRouting;
  inputsHashes: Pick<MixInputsHashStore, 'record'>;
  logger: Logger;
  /** How long a SUBSCRIBE to an unowned pool waits for an owner (default 6000 ms ≈ TTL + poll + 1 s). */
  unownedWaitMs?: number;
  /** Delay before closing a redirected session the client did not close itself (default 5000 ms). */
  redirectCloseMs?: number;
  /** Lifetime of an inputsHash record (default 10 min; a mix leaves REGISTER_OUTPUT long before). */
  inputsHashTtlMs?: number;
  /** Relay unmodified 0.23 clients to the owner of their pool (default true; false: ErrorResponse naming the owner). */
  relayUnmodified?: boolean;
  /**
   * Cluster-wide relay secret (`WHIRLPOOL_RELAY_SECRET`): relays send the
   * client's IP with an HMAC claim; a relayed session whose claim verifies
   * is handed to the engine with that IP. Null: IPs are neither sent nor used.
   */
  relaySecret?: string | null;
}

/**
 * The client IP a relayed session's CONNECT vouches for with a valid HMAC
 * claim (relay_auth.ts) addressed to `ownerId`, else null.
 */
export function verifiedRelayClientIp(
  connectHeaders: ReadonlyMap<string, string>,
  ownerId: string,
  secret: string | null | undefined,
  nowMs: number,
): string | null {
  const relayedBy = connectHeaders.get(HEADER_RELAYED_BY);
  const clientIp = connectHeaders.get(HEADER_RELAY_CLIENT_IP);
  if (!secret || relayedBy === undefined || clientIp === undefined || clientIp.length > 64) return null;
  const claim = { relayedBy, ownerId, clientIp };
  return verifyRelayClaim(secret, connectHeaders.get(HEADER_RELAY_AUTH), claim, nowMs) ? clientIp : null;
}

/** A session as handed to the engine: same identity (IP: the verified relayed client's, if any), `sendPrivate` observed. */
class ObservedSession implements ClientSession {
  readonly #inner: ClientSession;
  readonly #onSend: (name: string, payload: unknown) => void;
  readonly #ip: string | null;
  constructor(inner: ClientSession, onSend: (name: string, payload: unknown) => void, ip: string | null) {
    this.#inner = inner;
    this.#onSend = onSend;
    this.#ip = ip;
  }
  get id(): string {
    return this.#inner.id;
  }
  get ip(): string {
    return this.#ip ?? this.#inner.ip;
  }
  /** The relayed client's IP vouched for by a valid relay claim, else null. */
  get verifiedRelayClientIp(): string | null {
    return this.#ip;
  }
  get connectHeaders(): ReadonlyMap<string, string> {
    return this.#inner.connectHeaders;
  }
  get transport(): ClientSession['transport'] {
    return this.#inner.transport;
  }
  get closed(): boolean {
    return this.#inner.closed;
  }
  sendPrivate(payloadName: Parameters<ClientSession['sendPrivate']>[0], payload: unknown): void {
    try {
      this.#onSend(payloadName, payload);
    } finally {
      this.#inner.sendPrivate(payloadName, payload);
    }
  }
  close(reason?: string): void {
    this.#inner.close(reason);
  }
}

interface SessionState {
  wrapped: ObservedSession;
  poolId: string | null;
  timers: Set<NodeJS.Timeout>;
  /** Upstream relay of an unmodified client (its SENDs go there, not to the engine). */
  relay: StompRelay | null;
}

/** The transport's application in a cluster; see module doc. */
export class ClusterStompApplication implements StompApplication {
  readonly #o: ClusterStompOptions;
  readonly #sessions = new Map<string, SessionState>();
  readonly #recorded = new Set<string>();
  readonly #log: Logger;

  constructor(opts: ClusterStompOptions) {
    this.#o = opts;
    this.#log = opts.logger.child({ component: 'cluster-routing' });
  }

  #state(session: ClientSession): SessionState {
    let s = this.#sessions.get(session.id);
    if (!s) {
      const state: SessionState = {
        wrapped: new ObservedSession(
          session,
          (name, payload) => this.#observe(state, name, payload),
          verifiedRelayClientIp(
            session.connectHeaders,
            this.#o.routing.instanceId,
            this.#o.relaySecret,
            Date.now(),
          ),
        ),
        poolId: null,
        timers: new Set(),
        relay: null,
      };
      s = state;
      this.#sessions.set(session.id, s);
    }
    return s;
  }

  #later(s: SessionState, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      s.timers.delete(t);
      fn();
    }, ms);
    t.unref?.();
    s.timers.add(t);
  }

  onSubscribe(session: ClientSession, destination: string, headers: ReadonlyMap<string, string>): void {
    const s = this.#state(session);
    const poolId = headers.get(HEADER_POOL_ID);
    if (poolId === undefined || destination !== PRIVATE_REPLY) {
      this.#o.engine.onSubscribe(s.wrapped, destination, headers);
      return;
    }
    s.poolId = poolId;
    const redirectable =
      acceptsRedirect(headers.get(HEADER_ACCEPT_REDIRECT)) ||
      acceptsRedirect(session.connectHeaders.get(HEADER_ACCEPT_REDIRECT));
    const relayed = isRelayedSession(headers, session.connectHeaders);
    if (relayed)
      this.#log.info(
        {
          session: session.id,
          ip: session.ip,
          poolId,
          relayedBy: headers.get(HEADER_RELAYED_BY) ?? session.connectHeaders.get(HEADER_RELAYED_BY),
          relayClientIp: s.wrapped.verifiedRelayClientIp ?? 'unverified (ignored)',
        },
        'relayed subscribe',
      );
    const deadline = performance.now() + (this.#o.unownedWaitMs ?? 6000);
    const decide = (): void => {
      if (session.closed) return;
      if (this.#o.routing.clustered === false || this.#o.engine.servedPools().includes(poolId)) {
        this.#o.engine.onSubscribe(s.wrapped, destination, headers);
        return;
      }
      const owner = this.#o.routing.ownerOf(poolId);
      if (owner) {
        if (relayed) session.close('relayed session: pool served by another instance');
        else if (redirectable) this.#redirect(s, session, owner);
        else if (this.#o.relayUnmodified !== false && owner.urlClear) this.#relay(s, session, headers, owner);
        else this.#refuseUnmodified(session, owner);
        return;
      }
      if (performance.now() < deadline) {
        this.#later(s, 100, decide);
        return;
      }
      if (this.#o.engine.isConfiguredPool(poolId)) {
        // a known pool still without owner: the client reconnects and is routed again
        this.#log.info({ session: session.id, poolId }, 'subscribe: pool has no owner yet, closing');
        session.close(`pool ${poolId} has no owner yet`);
        return;
      }
      this.#o.engine.onSubscribe(s.wrapped, destination, headers); // engine answers "Pool not found"
    };
    decide();
  }

  #redirect(s: SessionState, session: ClientSession, owner: PoolOwner): void {
    const body: RedirectResponse = {
      poolId: owner.poolId,
      instanceId: owner.instanceId,
      urlClear: owner.urlClear,
      urlOnion: owner.urlOnion,
      epoch: owner.epoch,
    };
    this.#log.info({ session: session.id, ...body }, 'subscribe redirected to the owner of the pool');
    session.sendPrivate('RedirectResponse', body);
    this.#later(s, this.#o.redirectCloseMs ?? 5000, () => {
      if (!session.closed) session.close('redirected');
    });
  }

  /** Relays an unmodified client's session to the owner (stomp_relay.ts). */
  #relay(
    s: SessionState,
    session: ClientSession,
    headers: ReadonlyMap<string, string>,
    owner: PoolOwner,
  ): void {
    if (s.relay && !s.relay.closed) {
      session.close('second pool subscription on a relayed session');
      return;
    }
    try {
      s.relay = new StompRelay({
        session,
        subscribeHeaders: headers,
        ownerUrl: owner.urlClear!,
        ownerId: owner.instanceId,
        instanceId: this.#o.routing.instanceId,
        relaySecret: this.#o.relaySecret ?? null,
        logger: this.#log,
      });
    } catch (err) {
      // e.g. an owner URL the relay cannot dial (unsupported scheme): the 0.23 refusal instead
      this.#log.warn({ err, session: session.id, owner: owner.instanceId }, 'cannot relay to the owner');
      this.#refuseUnmodified(session, owner);
    }
  }

  #refuseUnmodified(session: ClientSession, owner: PoolOwner): void {
    const where = owner.urlClear ?? owner.urlOnion ?? owner.instanceId;
    this.#log.info(
      { session: session.id, poolId: owner.poolId, owner: owner.instanceId },
      'subscribe refused: pool served elsewhere',
    );
    session.sendPrivate('ErrorResponse', {
      mixId: null,
      message: `Pool ${owner.poolId} is served by another coordinator instance: ${where}`,
    });
  }

  onSend(
    session: ClientSession,
    destination: string,
    headers: ReadonlyMap<string, string>,
    body: string,
  ): unknown {
    const s = this.#state(session);
    if (s.relay) {
      s.relay.send(destination, headers, body);
      return;
    }
    return this.#o.engine.onSend(s.wrapped, destination, headers, body);
  }

  onDisconnect(session: ClientSession): void {
    const s = this.#sessions.get(session.id);
    this.#sessions.delete(session.id);
    if (s) for (const t of s.timers) clearTimeout(t);
    s?.relay?.close('client disconnected');
    this.#o.engine.onDisconnect(s?.wrapped ?? session);
  }

  /** Records the inputsHash of a mix entering REGISTER_OUTPUT (once per inputsHash). */
  #observe(s: SessionState, name: string, payload: unknown): void {
    if (name !== 'RegisterOutputMixStatusNotification' || s.poolId === null) return;
    const p = payload as { mixId?: unknown; inputsHash?: unknown };
    if (typeof p.inputsHash !== 'string' || typeof p.mixId !== 'string') return;
    if (this.#recorded.has(p.inputsHash)) return;
    const fence = this.#o.routing.fenceOf(s.poolId);
    if (!fence) return;
    this.#recorded.add(p.inputsHash);
    if (this.#recorded.size > 10_000) this.#recorded.clear();
    const { inputsHash, mixId } = p;
    void this.#o.inputsHashes
      .record(inputsHash, mixId, fence, this.#o.inputsHashTtlMs ?? 600_000)
      .then((ok) => {
        if (!ok)
          this.#log.warn(
            { inputsHash, poolId: fence.poolId },
            'inputsHash not recorded: lease no longer current',
          );
      })
      .catch((err: unknown) =>
        this.#log.warn({ err, inputsHash }, 'inputsHash not recorded (database error)'),
      );
  }
}

/** Options of {@link clusterRegisterOutput}. */
export interface ClusterRegisterOutputOptions {
  engine: {
    findMixByInputsHash(inputsHash: string): { poolId: string } | null;
    registerOutput(req: RegisterOutputRequest): Promise<void>;
  };
  instanceId: string;
  inputsHashes: Pick<MixInputsHashStore, 'find'>;
  logger: Logger;
  /** How long to look for a not-yet-recorded inputsHash (default 1500 ms). */
  lookupWaitMs?: number;
  /**
   * Requests that may wait for a not-yet-recorded inputsHash at once (default
   * 16); beyond, a request looks up once and does not wait, so a flood of
   * unknown inputsHashes costs one query each.
   */
  maxWaitingLookups?: number;
  /** Called for every lookup query (metrics). */
  onLookup?: () => void;
}

/** How a registerOutput reached this instance: the request's `Host` header. */
export interface RequestVia {
  host?: string | undefined;
}

/** True when `host` (a Host header, port allowed) is a `.onion` name. */
export function isOnionHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.trim().toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  return name.endsWith('.onion');
}

/**
 * Base URL a registerOutput is redirected to, following the request's host:
 * onion in ⇒ the holder's onion URL only (never a downgrade to clear; none ⇒
 * null, no redirect); clear in ⇒ the clear URL (onion when it has none).
 */
export function registerOutputTarget(
  holder: { urlClear: string | null; urlOnion: string | null },
  via: RequestVia,
): string | null {
  const base = isOnionHost(via.host) ? holder.urlOnion : (holder.urlClear ?? holder.urlOnion);
  return base ? base.replace(/\/+$/, '') : null;
}

/**
 * When a registerOutput looks for a not-yet-recorded inputsHash, ms after its
 * arrival: at most {@link LOOKUP_DELAYS_MS}.length queries per request (the
 * holder records the inputsHash when its mix enters REGISTER_OUTPUT, so a late
 * record is found within the first few hundred ms).
 */
export const LOOKUP_DELAYS_MS: readonly number[] = [0, 200, 600, 1500];

/**
 * The REST app's `registerOutput` in a cluster: handled here when this
 * instance holds the mix, else `{ redirectTo }` (→ HTTP 307, the client
 * re-POSTs the same body) to the holder's URL of the same kind as the one
 * the request came in on ({@link registerOutputTarget}).
 */
export function clusterRegisterOutput(
  opts: ClusterRegisterOutputOptions,
): (req: RegisterOutputRequest, via?: RequestVia) => Promise<undefined | { redirectTo: string }> {
  const wait = opts.lookupWaitMs ?? 1500;
  const delays = LOOKUP_DELAYS_MS.filter((d) => d < wait).concat(wait);
  const maxWaiting = opts.maxWaitingLookups ?? 16;
  let waiting = 0;
  return async (req, via = {}) => {
    if (opts.engine.findMixByInputsHash(req.inputsHash)) {
      await opts.engine.registerOutput(req);
      return undefined;
    }
    const started = performance.now();
    const mayWait = waiting < maxWaiting;
    if (mayWait) waiting++;
    try {
      for (const delay of mayWait ? delays : [0]) {
        const left = started + delay - performance.now();
        if (left > 0) await new Promise((r) => setTimeout(r, left));
        if (opts.engine.findMixByInputsHash(req.inputsHash)) break;
        opts.onLookup?.();
        const loc = await opts.inputsHashes.find(req.inputsHash).catch((err: unknown) => {
          opts.logger.warn({ err }, 'inputsHash lookup failed');
          return null;
        });
        if (loc && loc.instanceId !== opts.instanceId) {
          const base = registerOutputTarget(loc, via);
          if (base) return { redirectTo: `${base}${REST_REGISTER_OUTPUT}` };
          opts.logger.warn(
            { inputsHash: req.inputsHash, holder: loc.instanceId },
            'registerOutput came in on the onion URL but the holder of the mix has none: not redirected',
          );
        }
        if (loc) break;
      }
    } finally {
      if (mayWait) waiting--;
    }
    await opts.engine.registerOutput(req); // the engine's own error ("mix not found"...) or a late local mix
    return undefined;
  };
}
