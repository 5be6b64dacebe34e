/**
 * Prometheus metrics of one coordinator instance (prom-client), in their own
 * registry so tests and several instances in one process do not collide:
 * HTTP requests, `/rest/tx0` and `/rest/registerOutput` outcomes, and the
 * store's mix results, blames, bans and fenced-out writes (counted by
 * {@link instrumentStore}, so the engine needs no metrics code). Other
 * streams add their own metrics to `registry`. Served at `GET /metrics`.
 *
 * @module
 */
import type { Hono } from 'hono';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { FencedOutError } from '#coordinator/store/errors.ts';
import type { MixStore } from '#coordinator/store/mix_store.ts';

/** The basic metrics; extend by registering more on `registry`. */
export interface CoordinatorMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  tx0Requests: Counter<'pool' | 'scode'>;
  registerOutputs: Counter<'result'>;
  mixResults: Counter<'pool' | 'status'>;
  blames: Counter<'reason'>;
  bans: Counter<string>;
  fencedWrites: Counter<'operation'>;
  storeErrors: Counter<'operation'>;
  servedPools: Gauge<string>;
  /** Pools of the pools file (so alerts compare served with configured pools). */
  configuredPools: Gauge<string>;
  /** Per pool: the epoch of the lease this instance serves it under, 0 while it does not serve it. */
  poolLeaseEpoch: Gauge<'pool'>;
}

/** Creates the registry and the basic metrics (`whirlpool_*`), with Node's default process metrics unless disabled. */
export function createMetrics(
  opts: { defaultMetrics?: boolean; labels?: Record<string, string> } = {},
): CoordinatorMetrics {
  const registry = new Registry();
  if (opts.labels) registry.setDefaultLabels(opts.labels);
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'whirlpool_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'whirlpool_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'whirlpool_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.02, 0.1, 0.5, 1, 1.5, 3, 10],
      registers,
    }),
    tx0Requests: new Counter({
      name: 'whirlpool_tx0_requests_total',
      help: 'GET /rest/tx0 answers by pool and scode outcome (none, valid, invalid)',
      labelNames: ['pool', 'scode'],
      registers,
    }),
    registerOutputs: new Counter({
      name: 'whirlpool_register_outputs_total',
      help: 'POST /rest/registerOutput outcomes (ok, redirect, error)',
      labelNames: ['result'],
      registers,
    }),
    mixResults: new Counter({
      name: 'whirlpool_mix_results_total',
      help: 'Finished mixes saved, by pool and status',
      labelNames: ['pool', 'status'],
      registers,
    }),
    blames: new Counter({
      name: 'whirlpool_blames_total',
      help: 'Blames recorded, by reason',
      labelNames: ['reason'],
      registers,
    }),
    bans: new Counter({ name: 'whirlpool_bans_total', help: 'Bans created by the ban policy', registers }),
    fencedWrites: new Counter({
      name: 'whirlpool_fenced_writes_total',
      help: 'Writes refused because the pool lease moved on',
      labelNames: ['operation'],
      registers,
    }),
    storeErrors: new Counter({
      name: 'whirlpool_store_errors_total',
      help: 'Store operations that failed (database errors), by operation',
      labelNames: ['operation'],
      registers,
    }),
    servedPools: new Gauge({
      name: 'whirlpool_served_pools',
      help: 'Pools served by this instance',
      registers,
    }),
    configuredPools: new Gauge({
      name: 'whirlpool_configured_pools',
      help: 'Pools of the pools file',
      registers,
    }),
    poolLeaseEpoch: new Gauge({
      name: 'whirlpool_pool_lease_epoch',
      help: 'Epoch of the lease under which this instance serves the pool (0 = not served here)',
      labelNames: ['pool'],
      registers,
    }),
  };
}

/** A MixStore that counts mix results, blames, bans, fenced-out writes and failures in `metrics`. */
export function instrumentStore<S extends MixStore>(store: S, metrics: CoordinatorMetrics): MixStore {
  async function track<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof FencedOutError) metrics.fencedWrites.inc({ operation });
      else if (!(err instanceof Error && err.name === 'OutputAlreadyUsedError'))
        metrics.storeErrors.inc({ operation });
      throw err;
    }
  }
  return {
    inputFacts: (txid, ids) => track('inputFacts', () => store.inputFacts(txid, ids)),
    isBanned: (ids) => track('isBanned', () => store.isBanned(ids)),
    isMixTxid: (txid, d) => track('isMixTxid', () => store.isMixTxid(txid, d)),
    isTx0Whitelisted: (txid) => track('isTx0Whitelisted', () => store.isTx0Whitelisted(txid)),
    isOutputUsed: (a) => track('isOutputUsed', () => store.isOutputUsed(a)),
    saveOutput: (a, f) => track('saveOutput', () => store.saveOutput(a, f)),
    nextFeeIndex: () => track('nextFeeIndex', () => store.nextFeeIndex()),
    async blame(b, policy, fence) {
      const r = await track('blame', () => store.blame(b, policy, fence));
      metrics.blames.inc({ reason: b.reason });
      if (r.banned) metrics.bans.inc();
      return r;
    },
    async saveMixResult(r, fence) {
      await track('saveMixResult', () => store.saveMixResult(r, fence));
      metrics.mixResults.inc({ pool: r.poolId, status: r.status });
    },
  };
}

/** Adds `GET /metrics` (Prometheus text format) to `app`. */
export function addMetricsRoute(app: Hono, metrics: CoordinatorMetrics, path = '/metrics'): void {
  app.get(path, async (c) => {
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { 'Content-Type': metrics.registry.contentType });
  });
}
