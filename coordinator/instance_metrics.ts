/**
 * Operational metrics of one coordinator instance, beyond the basic ones of
 * coordinator/metrics.ts, registered on the same prom-client registry and
 * collected WITHOUT hooks inside the engine, cluster or transport code — by
 * thin wrappers around what start_coordinator.ts hands to them:
 *
 * - STOMP sessions (gauge read from the HTTP server at scrape time);
 * - REGISTER_INPUT outcomes ({@link instrumentStomp}: a SEND to
 *   `/ws/registerInput` is `received`; the session's next answer decides
 *   `refused` (ErrorResponse) or `invited` (ConfirmInputMixStatusNotification);
 *   a session closing first is `abandoned`);
 * - mix phase durations ({@link watchMixPhases}: the engine's snapshot is
 *   sampled every 250 ms, so durations are ±0.25 s);
 * - lease acquisitions / renewals / releases with their result, takeovers and
 *   takeover latency ({@link countLeaseEvents}: the cluster node's explicit
 *   lease events, coordinator/cluster/lease_store.ts `LeaseEvent`; a
 *   takeover is an acquisition of the epoch right after one another instance
 *   held or released, its latency how long the taker saw the pool unowned);
 * - database latency ({@link instrumentClusterDb} per cluster statement kind,
 *   {@link timeStore} per store operation) and bitcoin RPC latency
 *   ({@link instrumentRpcFetch}, the `fetch` given to `BitcoinRpc`, by method).
 *
 * Names and suggested alerts: docs/operations.md.
 *
 * @module
 */
import type { Pool } from 'mysql2/promise';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LeaseEvent } from '#coordinator/cluster/lease_store.ts';
import type { StompApplication } from '#coordinator/transport/stomp_application.ts';
import { WS_REGISTER_INPUT } from '#shared/protocol/constants.ts';

/** The metrics of this module. */
export interface InstanceMetrics {
  stompSessions: Gauge<string>;
  registerInputs: Counter<'outcome'>;
  mixPhaseDuration: Histogram<'pool' | 'phase'>;
  leaseOperations: Counter<'operation' | 'result'>;
  takeovers: Counter<'previous'>;
  takeoverLatency: Histogram<'previous'>;
  dbDuration: Histogram<'component' | 'operation'>;
  rpcDuration: Histogram<'method' | 'result'>;
  /** Mix results waiting for the database after an outage (store/result_retry.ts). */
  mixResultsPending: Gauge<string>;
  /** Sets the function the STOMP session gauge reads at scrape time. */
  setSessionSource(fn: () => number): void;
  /** Sets the function the pending mix results gauge reads at scrape time. */
  setPendingResultsSource(fn: () => number): void;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Registers the metrics on `registry` (names `whirlpool_*`). */
export function createInstanceMetrics(registry: Registry): InstanceMetrics {
  const registers = [registry];
  let sessionSource: (() => number) | null = null;
  let pendingResultsSource: (() => number) | null = null;
  return {
    mixResultsPending: new Gauge({
      name: 'whirlpool_mix_results_pending',
      help: 'Results of ended mixes not yet written to the database (retried after an outage)',
      registers,
      collect() {
        this.set(pendingResultsSource ? pendingResultsSource() : 0);
      },
    }),
    stompSessions: new Gauge({
      name: 'whirlpool_stomp_sessions',
      help: 'STOMP sessions connected (past CONNECT) on this instance',
      registers,
      collect() {
        if (sessionSource) this.set(sessionSource());
      },
    }),
    registerInputs: new Counter({
      name: 'whirlpool_register_input_total',
      help: 'REGISTER_INPUT messages: received, then refused (ErrorResponse), invited (to confirm) or abandoned (disconnected first)',
      labelNames: ['outcome'],
      registers,
    }),
    mixPhaseDuration: new Histogram({
      name: 'whirlpool_mix_phase_duration_seconds',
      help: 'Time a mix spent in each phase (CONFIRM_INPUT, REGISTER_OUTPUT, REVEAL_OUTPUT, SIGNING), sampled every 250 ms',
      labelNames: ['pool', 'phase'],
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    leaseOperations: new Counter({
      name: 'whirlpool_lease_operations_total',
      help: 'Pool lease statements: acquire / renew / release, result ok, refused (affectedRows 0) or error',
      labelNames: ['operation', 'result'],
      registers,
    }),
    takeovers: new Counter({
      name: 'whirlpool_cluster_takeovers_total',
      help: 'Pool leases acquired after another epoch: previous lease expired (owner died) or released (drain, rebalance)',
      labelNames: ['previous'],
      registers,
    }),
    takeoverLatency: new Histogram({
      name: 'whirlpool_cluster_takeover_latency_seconds',
      help: 'Time the taker saw the pool unowned (previous lease run out or released) before acquiring it',
      labelNames: ['previous'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60],
      registers,
    }),
    dbDuration: new Histogram({
      name: 'whirlpool_db_query_duration_seconds',
      help: 'Database latency: cluster statements by kind, store operations by name (includes pool wait)',
      labelNames: ['component', 'operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    rpcDuration: new Histogram({
      name: 'whirlpool_bitcoin_rpc_duration_seconds',
      help: 'Bitcoin node JSON-RPC latency by method and result (ok, error = HTTP or network failure)',
      labelNames: ['method', 'result'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    setSessionSource(fn) {
      sessionSource = fn;
    },
    setPendingResultsSource(fn) {
      pendingResultsSource = fn;
    },
  };
}

// ---------------------------------------------------------------------------
// Database (cluster handle)

type QueryArg = string | { sql: string };

/** Names a statement `<verb> <table>` for the latency histogram. */
export function classifyStatement(sql: string): { operation: string } {
  const s = sql.replace(/\s+/g, ' ').trim();
  const verb = (s.split(' ')[0] ?? 'query').toLowerCase();
  const table = /\b(?:FROM|INTO|UPDATE)\s+`?([A-Za-z_][A-Za-z0-9_]*)/i.exec(s)?.[1];
  return { operation: table ? `${verb} ${table.toLowerCase()}` : verb };
}

function sqlOf(arg: QueryArg): string {
  return typeof arg === 'string' ? arg : arg.sql;
}

/** Wraps the cluster's database handle (`Pick<Pool, 'query'>`): times every statement by kind. */
export function instrumentClusterDb<D extends Pick<Pool, 'query'>>(db: D, m: InstanceMetrics): D {
  const query = async (arg: QueryArg, params?: unknown[]) => {
    const st = classifyStatement(sqlOf(arg));
    const t0 = performance.now();
    try {
      return await (db.query as (a: QueryArg, p?: unknown[]) => Promise<unknown>)(arg, params);
    } finally {
      m.dbDuration.observe(
        { component: 'cluster', operation: st.operation },
        (performance.now() - t0) / 1000,
      );
    }
  };
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'query') return query;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** The listener of the cluster node's lease events: operation counters, takeovers and their latency. */
export function countLeaseEvents(m: InstanceMetrics): (e: LeaseEvent) => void {
  return (e) => {
    if (e.type === 'operation') {
      m.leaseOperations.inc({ operation: e.operation, result: e.result });
      return;
    }
    m.takeovers.inc({ previous: e.previous });
    if (e.latencyMs !== null) m.takeoverLatency.observe({ previous: e.previous }, e.latencyMs / 1000);
  };
}

// ---------------------------------------------------------------------------
// Store operations

/** Wraps every method of `store` with a latency observation (`component="store"`, operation = method name). */
export function timeStore<S extends object>(store: S, m: InstanceMetrics): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const done = () =>
          m.dbDuration.observe({ component: 'store', operation: prop }, (performance.now() - t0) / 1000);
        const out = (v as (...a: unknown[]) => unknown).apply(target, args);
        if (out instanceof Promise) return out.finally(done);
        done();
        return out;
      };
    },
  });
}

// ---------------------------------------------------------------------------
// Bitcoin RPC

/** A `fetch` for `BitcoinRpc` that times each call by JSON-RPC method. */
export function instrumentRpcFetch(m: InstanceMetrics, base: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    let method = 'unknown';
    try {
      if (typeof init?.body === 'string') {
        const parsed = JSON.parse(init.body) as { method?: unknown };
        if (Array.isArray(parsed)) method = 'batch';
        else if (typeof parsed.method === 'string' && /^[a-z]{1,40}$/.test(parsed.method))
          method = parsed.method;
      }
    } catch {
      // not JSON: keep 'unknown'
    }
    const t0 = performance.now();
    try {
      const res = await base(input, init);
      m.rpcDuration.observe({ method, result: 'ok' }, (performance.now() - t0) / 1000);
      return res;
    } catch (err) {
      m.rpcDuration.observe({ method, result: 'error' }, (performance.now() - t0) / 1000);
      throw err;
    }
  };
}

// ---------------------------------------------------------------------------
// STOMP: registration outcomes

type SessionOf<A extends StompApplication> = Parameters<A['onSend']>[0];

/** Wraps the STOMP application to count REGISTER_INPUT outcomes (see module doc). */
export function instrumentStomp<A extends StompApplication>(app: A, m: InstanceMetrics): StompApplication {
  const pending = new Set<string>();
  const wrappers = new WeakMap<object, SessionOf<A>>();
  const settle = (id: string, outcome: string) => {
    if (pending.delete(id)) m.registerInputs.inc({ outcome });
  };
  const wrap = (session: SessionOf<A>): SessionOf<A> => {
    let w = wrappers.get(session);
    if (!w) {
      const sendPrivate: SessionOf<A>['sendPrivate'] = (name, payload) => {
        if (name === 'ErrorResponse') settle(session.id, 'refused');
        else if (name === 'ConfirmInputMixStatusNotification') settle(session.id, 'invited');
        session.sendPrivate(name, payload);
      };
      w = new Proxy(session, {
        get(target, prop) {
          if (prop === 'sendPrivate') return sendPrivate;
          const v = (target as unknown as Record<PropertyKey, unknown>)[prop];
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      wrappers.set(session, w);
    }
    return w;
  };
  return {
    onSubscribe(session, destination, headers) {
      app.onSubscribe(wrap(session), destination, headers);
    },
    onSend(session, destination, headers, body) {
      if (destination === WS_REGISTER_INPUT) {
        m.registerInputs.inc({ outcome: 'received' });
        pending.add(session.id);
      }
      return app.onSend(wrap(session), destination, headers, body);
    },
    onDisconnect(session) {
      settle(session.id, 'abandoned');
      app.onDisconnect(wrap(session));
    },
  };
}

// ---------------------------------------------------------------------------
// Mix phases

/** What {@link watchMixPhases} reads (a `MixEngine` fits). */
export interface PhaseSource {
  snapshot(): ReadonlyArray<{ poolId: string; mixId: string; mixStatus: string; served: boolean }>;
}

/**
 * Samples the engine's snapshot every `intervalMs` and observes, per pool,
 * how long each mix stayed in each phase (ended phases only). Returns `stop`.
 */
export function watchMixPhases(engine: PhaseSource, m: InstanceMetrics, intervalMs = 250): () => void {
  const current = new Map<string, { mixId: string; phase: string; since: number }>();
  const timer = setInterval(() => {
    const now = performance.now();
    let pools: ReturnType<PhaseSource['snapshot']>;
    try {
      pools = engine.snapshot();
    } catch {
      return;
    }
    for (const p of pools) {
      const prev = current.get(p.poolId);
      if (!p.served) {
        current.delete(p.poolId);
        continue;
      }
      if (!prev) {
        current.set(p.poolId, { mixId: p.mixId, phase: p.mixStatus, since: now });
        continue;
      }
      if (prev.mixId === p.mixId && prev.phase === p.mixStatus) continue;
      if (prev.phase !== 'SUCCESS' && prev.phase !== 'FAIL')
        m.mixPhaseDuration.observe({ pool: p.poolId, phase: prev.phase }, (now - prev.since) / 1000);
      current.set(p.poolId, { mixId: p.mixId, phase: p.mixStatus, since: now });
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
