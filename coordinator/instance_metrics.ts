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
 *   takeover latency ({@link instrumentClusterDb}: the cluster's database
 *   handle, recognising the three `pool_lease` UPDATEs of
 *   coordinator/cluster/lease_store.ts; before an acquisition it reads the
 *   row, so a successful one whose previous epoch belonged to another owner
 *   (expired) or to nobody (released) counts as a takeover, with latency =
 *   new `acquired_at` − previous `lease_until`, both on the database clock);
 *   the extra read runs inside the lease store's `acquire` call, after the
 *   keeper noted when it sent the acquisition, so it can only shorten the
 *   trust window of the new lease, never extend it; renewals get no extra
 *   read);
 * - database latency ({@link instrumentClusterDb} per cluster statement kind,
 *   {@link timeStore} per store operation) and bitcoin RPC latency
 *   ({@link instrumentRpcFetch}, the `fetch` given to `BitcoinRpc`, by method).
 *
 * Names and suggested alerts: docs/operations.md.
 *
 * @module
 */
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
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
      help: "Time from the previous lease's expiry or release to this instance's acquisition (database clock)",
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
type Statement =
  | { kind: 'lease'; operation: 'acquire' | 'renew' | 'release' }
  | { kind: 'other'; operation: string };

/** Classifies a statement: the three lease UPDATEs, else `<verb> <table>`. */
export function classifyStatement(sql: string): Statement {
  const s = sql.replace(/\s+/g, ' ').trim();
  if (/^UPDATE pool_lease SET owner = \?/i.test(s)) return { kind: 'lease', operation: 'acquire' };
  if (/^UPDATE pool_lease SET lease_until/i.test(s)) return { kind: 'lease', operation: 'renew' };
  if (/^UPDATE pool_lease SET owner = NULL/i.test(s)) return { kind: 'lease', operation: 'release' };
  const verb = (s.split(' ')[0] ?? 'query').toLowerCase();
  const table = /\b(?:FROM|INTO|UPDATE)\s+`?([A-Za-z_][A-Za-z0-9_]*)/i.exec(s)?.[1];
  return { kind: 'other', operation: table ? `${verb} ${table.toLowerCase()}` : verb };
}

function sqlOf(arg: QueryArg): string {
  return typeof arg === 'string' ? arg : arg.sql;
}

/**
 * Wraps the cluster's database handle (`Pick<Pool, 'query'>`): times every
 * statement, counts lease operations and detects takeovers (see module doc).
 */
export function instrumentClusterDb<D extends Pick<Pool, 'query'>>(db: D, m: InstanceMetrics): D {
  const query = async (arg: QueryArg, params?: unknown[]) => {
    const st = classifyStatement(sqlOf(arg));
    let previous: { owner: string | null; epoch: number; untilMs: number | null } | null = null;
    if (st.kind === 'lease' && st.operation === 'acquire' && Array.isArray(params)) {
      previous = await readLease(db, String(params[2])).catch(() => null);
    }
    const t0 = performance.now();
    try {
      const res = await (db.query as (a: QueryArg, p?: unknown[]) => Promise<unknown>)(arg, params);
      m.dbDuration.observe(
        { component: 'cluster', operation: st.operation },
        (performance.now() - t0) / 1000,
      );
      if (st.kind === 'lease') {
        const header = (res as [ResultSetHeader])[0];
        const ok = header?.affectedRows === 1;
        m.leaseOperations.inc({ operation: st.operation, result: ok ? 'ok' : 'refused' });
        if (ok && previous && Array.isArray(params))
          void recordTakeover(db, m, String(params[2]), String(params[0]), Number(header.insertId), previous);
      }
      return res;
    } catch (err) {
      m.dbDuration.observe(
        { component: 'cluster', operation: st.operation },
        (performance.now() - t0) / 1000,
      );
      if (st.kind === 'lease') m.leaseOperations.inc({ operation: st.operation, result: 'error' });
      throw err;
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

async function readLease(
  db: Pick<Pool, 'query'>,
  poolId: string,
): Promise<{ owner: string | null; epoch: number; untilMs: number | null } | null> {
  const [rows] = await db.query<RowDataPacket[]>(
    {
      sql: 'SELECT owner, epoch, UNIX_TIMESTAMP(lease_until) * 1000 AS until_ms FROM pool_lease WHERE pool_id = ?',
      timeout: 2000,
    },
    [poolId],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    owner: r.owner == null ? null : String(r.owner),
    epoch: Number(r.epoch),
    untilMs: r.until_ms == null ? null : Number(r.until_ms),
  };
}

async function recordTakeover(
  db: Pick<Pool, 'query'>,
  m: InstanceMetrics,
  poolId: string,
  instanceId: string,
  epoch: number,
  previous: { owner: string | null; epoch: number; untilMs: number | null },
): Promise<void> {
  // Epoch 0 → 1 is the pool's first owner; a gap means another acquisition happened in between.
  if (previous.epoch < 1 || epoch !== previous.epoch + 1 || previous.owner === instanceId) return;
  const kind = previous.owner === null ? 'released' : 'expired';
  m.takeovers.inc({ previous: kind });
  if (previous.untilMs === null) return;
  try {
    const [rows] = await db.query<RowDataPacket[]>(
      {
        sql: 'SELECT UNIX_TIMESTAMP(acquired_at) * 1000 AS acquired_ms FROM pool_lease WHERE pool_id = ? AND epoch = ?',
        timeout: 2000,
      },
      [poolId, epoch],
    );
    const acquired = rows[0]?.acquired_ms;
    if (acquired != null)
      m.takeoverLatency.observe({ previous: kind }, Math.max(0, Number(acquired) - previous.untilMs) / 1000);
  } catch {
    // the counter is what matters; a lost latency sample is acceptable
  }
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
        if (typeof parsed.method === 'string' && /^[a-z]{1,40}$/.test(parsed.method)) method = parsed.method;
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
      app.onSend(wrap(session), destination, headers, body);
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
