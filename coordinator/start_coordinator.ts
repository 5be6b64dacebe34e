/**
 * Starts one coordinator instance from a loaded configuration, in order:
 * migrations → MySQL store → bitcoin node (chain checked against the
 * configured network) → secret wallet → mix engine → HTTP server (REST,
 * `/instances`, metrics, STOMP/SockJS) → cluster (pool leases, or every pool
 * alone when clustering is disabled) → directory publisher (when
 * `WHIRLPOOL_DIRECTORY_PRIVATE_KEY[_FILE]` is set). Waits for the database and the node while they
 * are unreachable at start (a container may start before them) instead of
 * failing; a wrong chain or a broken migration is fatal.
 *
 * `coordinator/main.ts` adds process concerns (signals, exit codes).
 *
 * @module
 */
import { Hono } from 'hono';
import type { Pool } from 'mysql2/promise';
import { Counter } from 'prom-client';
import { clusterConfigFromEnv } from '#coordinator/cluster/cluster_config.ts';
import { createClusterFrontend } from '#coordinator/cluster/cluster_frontend.ts';
import { type ClusterHandle, startClusterNode } from '#coordinator/cluster/start_cluster_node.ts';
import { type CoordinatorConfig, describeConfig, engineParams } from '#coordinator/config/load_config.ts';
import { deriveCoordinatorWallets } from '#coordinator/config/secret_wallet.ts';
import { loadNativeSecp256k1 } from '#coordinator/crypto/native_secp256k1.ts';
import { startHistoryRecorder } from '#coordinator/dashboard/history_recorder.ts';
import { mountDashboard } from '#coordinator/dashboard/mount_dashboard.ts';
import {
  type DirectoryPublisher,
  loadDirectoryCertificate,
  loadDirectoryPrivateKey,
  startDirectoryPublisher,
} from '#coordinator/directory/directory_publisher.ts';
import { createCoordinatorInstancesApp } from '#coordinator/directory/instances_route.ts';
import {
  countLeaseEvents,
  createInstanceMetrics,
  instrumentClusterDb,
  instrumentRpcFetch,
  instrumentStomp,
  timeStore,
  watchMixPhases,
} from '#coordinator/instance_metrics.ts';
import { rateLimit } from '#coordinator/limits/rate_limit_middleware.ts';
import { createRefusals } from '#coordinator/limits/refusals.ts';
import { limitRegisterInput } from '#coordinator/limits/register_input_limiter.ts';
import { type Logger, redactUrl } from '#coordinator/log.ts';
import {
  addMetricsRoute,
  type CoordinatorMetrics,
  createMetrics,
  instrumentStore,
} from '#coordinator/metrics.ts';
import { MixEngine } from '#coordinator/mix/mix_engine.ts';
import { HealthMonitor } from '#coordinator/rest/health.ts';
import { combineLiveSources, engineLiveSource } from '#coordinator/rest/pools_route.ts';
import { createRestApp } from '#coordinator/rest/rest_app.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { MigrationError } from '#coordinator/store/errors.ts';
import { HistoryStore } from '#coordinator/store/history_store.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
import {
  dbLiveSource,
  PoolStatusStore,
  startPoolStatusPublisher,
} from '#coordinator/store/pool_status_store.ts';
import { retryMixResults } from '#coordinator/store/result_retry.ts';
import { applySessionSettings, SESSION_SETTINGS } from '#coordinator/store/session_settings.ts';
import { Tx0AddressStore } from '#coordinator/store/tx0_address_store.ts';
import { type HttpServerHandle, startHttpServer } from '#coordinator/transport/http_server.ts';
import { feeAddressAt } from '#shared/bitcoin/fee_address.ts';
import type { NetworkName } from '#shared/bitcoin/network.ts';
import { nobleSecp256k1 } from '#shared/crypto/secp256k1.ts';
import { REST_TX0 } from '#shared/protocol/constants.ts';
import { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
import pkg from '../package.json' with { type: 'json' };

/** Connections of the cluster's own MySQL pool (lease renewals, heartbeat, assignment poll). */
const CLUSTER_DB_CONNECTIONS = 3;

/** Longest wait, at each step of a stop, for mix results still pending from a database outage. */
const RESULT_FLUSH_MS = 5000;

/** Software version (package.json), recorded in the instance registry. */
export const COORDINATOR_VERSION: string = pkg.version;

/** `getblockchaininfo.chain` values accepted per network (Bitcoin Core names, then btcd names). */
export const CHAIN_NAMES: Record<NetworkName, readonly string[]> = {
  mainnet: ['main', 'mainnet'],
  testnet: ['test', 'testnet3', 'testnet'],
  signet: ['signet'],
  regtest: ['regtest'],
};

/** Fatal startup problem (wrong chain, broken migration): retrying cannot help. */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** A running instance. */
export interface CoordinatorHandle {
  port: number;
  instanceId: string | null;
  engine: MixEngine;
  metrics: CoordinatorMetrics;
  db: Pool;
  /** The Hono app served over HTTP (other streams may add routes before requests arrive). */
  app: Hono;
  /** `drain`: finish mixes and release leases (SIGTERM); `immediate`: cut pools now. Idempotent. */
  stop(mode?: 'drain' | 'immediate'): Promise<void>;
}

/** Options of {@link startCoordinator}. */
export interface StartCoordinatorOptions {
  logger: Logger;
  /** Environment for the cluster settings (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Aborts the waits for the database / node (shutdown requested during start). */
  signal?: AbortSignal;
  /** Delay between connection attempts at start, ms (default 2000, doubling up to 15000). */
  retryDelayMs?: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `fn` until it succeeds; StartupError and aborts propagate, anything else is logged and retried. */
async function retrying<T>(what: string, fn: () => Promise<T>, opts: StartCoordinatorOptions): Promise<T> {
  let delay = opts.retryDelayMs ?? 2000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StartupError || opts.signal?.aborted) throw err;
      opts.logger.warn(
        { err: (err as Error).message, attempt, retryInMs: delay },
        `${what} unavailable; retrying`,
      );
      await sleep(delay, opts.signal);
      delay = Math.min(delay * 2, 15_000);
    }
  }
}

/** Starts the instance described by `config` (see module doc). */
export async function startCoordinator(
  config: CoordinatorConfig,
  opts: StartCoordinatorOptions,
): Promise<CoordinatorHandle> {
  const log = opts.logger;
  log.info({ config: describeConfig(config), version: COORDINATOR_VERSION }, 'coordinator starting');
  const env = opts.env ?? process.env;
  let directoryKey: Uint8Array | null;
  let directoryCertificate: ReturnType<typeof loadDirectoryCertificate>;
  try {
    directoryKey = loadDirectoryPrivateKey({ ...env });
    directoryCertificate = loadDirectoryCertificate({ ...env });
    if (directoryCertificate && !directoryKey)
      throw new Error(
        'WHIRLPOOL_DIRECTORY_CERTIFICATE needs WHIRLPOOL_DIRECTORY_PRIVATE_KEY (the certified key)',
      );
  } catch (err) {
    throw new StartupError((err as Error).message, { cause: err });
  }

  // 1. schema
  await retrying(
    `database ${redactUrl(config.dbUrl)}`,
    async () => {
      try {
        const report = await runMigrations(config.dbUrl, { logger: log });
        log.info(report, 'database schema up to date');
      } catch (err) {
        if (err instanceof MigrationError) throw new StartupError(err.message, { cause: err });
        throw err;
      }
    },
    opts,
  );

  // 2. store
  const db = createDbPool(config.dbUrl, { connectionLimit: config.dbConnectionLimit });
  // leases, heartbeats and assignment get their own small pool: a flood of registrations
  // waiting for app connections must not delay a renewal into a step-down
  const clusterDb = createDbPool(config.dbUrl, { connectionLimit: CLUSTER_DB_CONNECTIONS });
  // a partitioned instance must not hold lease-row locks for hours, nor block renewals (session_settings.ts)
  applySessionSettings(db, SESSION_SETTINGS.app, log.child({ module: 'store' }));
  applySessionSettings(clusterDb, SESSION_SETTINGS.cluster, log.child({ module: 'cluster' }));
  const metrics = createMetrics({ labels: config.instanceId ? { instance: config.instanceId } : undefined });
  // operational metrics (coordinator/instance_metrics.ts): sessions, registrations, phases, leases, latencies
  const ops = createInstanceMetrics(metrics.registry);
  // abuse limits: whirlpool_limit_refusals_total{limit} and sampled debug lines (coordinator/limits/)
  const refusals = createRefusals(metrics.registry, log.child({ module: 'limits' }));
  // a mix result that meets a database outage is retried in the background (coordinator/store/result_retry.ts)
  const store = retryMixResults(instrumentStore(timeStore(new MySqlMixStore(db), ops), metrics), {
    logger: log.child({ module: 'store' }),
  });
  ops.setPendingResultsSource(() => store.pendingResults);
  let engine: MixEngine | null = null;
  let server: HttpServerHandle | null = null;
  let cluster: ClusterHandle | null = null;
  let publisher: DirectoryPublisher | null = null;
  try {
    // 3. bitcoin node
    const rpc = new BitcoinRpc({
      url: config.rpcUrl,
      timeoutMs: config.rpcTimeoutMs,
      batchMaxCalls: config.rpcBatchMaxCalls,
      fetch: instrumentRpcFetch(ops),
    });
    const info = await retrying(
      `bitcoin node ${redactUrl(config.rpcUrl)}`,
      async () => {
        const i = await rpc.getBlockchainInfo();
        if (!CHAIN_NAMES[config.network].includes(i.chain)) {
          throw new StartupError(
            `Bitcoin node is on chain '${i.chain}' but WHIRLPOOL_NETWORK is '${config.network}' (expected ${CHAIN_NAMES[config.network].map((c) => `'${c}'`).join(' or ')})`,
          );
        }
        return i;
      },
      opts,
    );
    log.info({ chain: info.chain, blocks: info.blocks }, 'bitcoin node connected');

    // 4. secret wallet and engine
    const wallets = deriveCoordinatorWallets(config, config.network);
    const wallet = wallets.v0;
    log.info(
      {
        feePaymentCode: wallet.bip47.paymentCode,
        feePaymentCodeV1: wallets.v1.paymentCode,
        signingAddress: wallets.signing?.address ?? null,
      },
      'secret wallets loaded',
    );
    const params = engineParams(config, {
      feeAddressSeed: wallet.feeAddressSeed,
      notificationPrivKey: wallet.bip47.notificationPrivKey,
      v1NotificationPrivKey: wallets.v1.notificationPrivKey,
    });
    const mixEngine = new MixEngine({
      pools: config.pools,
      params,
      store,
      rpc,
      logger: log.child({ module: 'mix' }),
      secp256k1: config.secp256k1 === 'noble' ? nobleSecp256k1 : loadNativeSecp256k1(),
    });
    engine = mixEngine;

    // 5. HTTP: REST + metrics (+ STOMP through the transport)
    const health = new HealthMonitor(
      {
        database: async () => {
          await db.query('SELECT 1');
        },
        bitcoinNode: async () => {
          await rpc.getBlockCount();
        },
      },
      { logger: log.child({ module: 'health' }) },
    );
    // Cluster routing (redirects, registerOutput 307): attached to the cluster node in step 6.
    const clusterConfig = clusterConfigFromEnv({ ...env });
    const inputsHashLookups = new Counter({
      name: 'whirlpool_inputs_hash_lookups_total',
      help: 'mix_inputs_hash queries made for POST /rest/registerOutput of a mix not held here',
      registers: [metrics.registry],
    });
    const clusterFront = createClusterFrontend({
      engine: mixEngine,
      db,
      logger: log.child({ module: 'cluster' }),
      relaySecret: clusterConfig.relaySecret,
      onInputsHashLookup: () => inputsHashLookups.inc(),
    });
    const poolStatus = new PoolStatusStore(db);
    const app = new Hono();
    // /rest/tx0* rate-limited per address and per instance (fee indices, scode guesses)
    const tx0Limit = rateLimit({
      perAddressPerMinute: config.limits.tx0PerMinutePerAddress,
      perMinute: config.limits.tx0PerMinute,
      exempt: config.limits.addressLimitsExempt,
      refusals,
      names: { address: 'tx0_address_rate', total: 'tx0_rate' },
    });
    app.use(`${REST_TX0}/*`, tx0Limit); // matches /rest/tx0 itself too (once per request)
    app.route(
      '/',
      createRestApp({
        pools: config.pools,
        // live fields: this instance's engine for the pools it serves, else what their owner published
        live: combineLiveSources(engineLiveSource(mixEngine), dbLiveSource(poolStatus)),
        tx0: {
          network: config.network,
          feeAddressSeed: wallet.feeAddressSeed,
          feePaymentCode: wallet.bip47.paymentCode,
          scodes: config.scodes,
          nextFeeIndex: () => store.nextFeeIndex(),
          delayMs: config.tx0DelayMs,
        },
        registerOutput: (req, via) => clusterFront.registerOutput(req, via),
        // later generations (addendum §3): state only in the shared database, any instance answers
        tx0V2: {
          tx0: {
            network: config.network,
            feeAddressSeed: wallet.feeAddressSeed,
            feePaymentCode: wallet.bip47.paymentCode,
            feePaymentCodeV1: wallets.v1.paymentCode,
            partners: config.partners,
            signingKey: wallets.signing?.privateKey ?? null,
            scodes: config.scodes,
            nextFeeIndex: () => store.nextFeeIndex(),
            delayMs: config.tx0PostDelayMs,
          },
          push: {
            rpc,
            addresses: new Tx0AddressStore(db),
            check: {
              network: config.network,
              keys: { v0: wallet.bip47.notificationPrivKey, v1: wallets.v1.notificationPrivKey },
              scodes: config.scodes,
              partners: config.partners,
              feeAddressAt: (index, partner) =>
                feeAddressAt(wallet.feeAddressSeed, config.network, index, partner),
            },
          },
        },
        checkOutput: { network: config.network, store },
        health: () => health.health(),
        logger: log.child({ module: 'rest' }),
        metrics,
      }),
    );
    // GET /instances: every instance is a bootstrap node too (directory stream)
    const instancesRoute = createCoordinatorInstancesApp(db);
    app.route('/', instancesRoute.app);
    // dashboard at /dashboard (enabled by WHIRLPOOL_DASHBOARD_PASSWORD_HASH)
    const dashboardConfig = mountDashboard(app, {
      db,
      pools: config.pools,
      instanceId: config.instanceId ?? null,
      logger: log.child({ module: 'dashboard' }),
      env: { ...env },
    });
    if (config.metricsEnabled) addMetricsRoute(app, metrics);
    const lim = config.limits;
    server = await startHttpServer({
      port: config.port,
      host: config.host,
      app,
      // registerInput bounds inside the instrumentation: a refusal counts as received then refused
      stomp: instrumentStomp(
        limitRegisterInput(
          clusterFront.stomp,
          {
            burstPerSession: lim.registerInputBurstPerSession,
            refillMsPerSession: lim.registerInputRefillMsPerSession,
            perSecond: lim.registerInputPerSecond,
            concurrency: lim.registerInputConcurrency,
          },
          refusals,
        ),
        ops,
      ),
      logger: log.child({ module: 'transport' }),
      maxSessions: lim.maxSessions,
      connectTimeoutMs: lim.stompConnectTimeoutMs,
      refusals,
      limits: {
        body: {
          output: lim.bodyOutputBytes,
          tx0: lim.bodyTx0Bytes,
          dashboard: lim.bodyDashboardBytes,
          default: lim.bodyDefaultBytes,
        },
        headersTimeoutMs: lim.httpHeadersTimeoutMs,
        requestTimeoutMs: lim.httpRequestTimeoutMs,
        keepAliveTimeoutMs: lim.httpKeepAliveTimeoutMs,
        maxSessionsPerAddress: lim.maxSessionsPerAddress,
        maxConnections: lim.maxConnections,
        maxConnectionsPerAddress: lim.maxConnectionsPerAddress,
        addressLimitsExempt: lim.addressLimitsExempt,
        idleTimeoutMs: lim.stompIdleTimeoutMs,
        maxSendsInFlight: lim.stompSendsInFlight,
      },
    });
    log.info({ port: server.port, host: config.host }, 'HTTP server listening');
    const httpServer = server;
    ops.setSessionSource(() => httpServer.sessions());

    // 6. cluster (or every pool alone when WHIRLPOOL_CLUSTER_ENABLED=false)
    cluster = await startClusterNode({
      db: instrumentClusterDb(clusterDb, ops),
      engine: mixEngine,
      pools: config.pools,
      config: clusterConfig,
      version: COORDINATOR_VERSION,
      logger: log.child({ module: 'cluster' }),
      onLeaseEvent: countLeaseEvents(ops),
    });
    clusterFront.attach(cluster.node);
    // 7. signed directory record (when a directory key is configured and the instance is in a cluster)
    if (directoryKey && clusterConfig.enabled) {
      publisher = startDirectoryPublisher({
        db,
        instanceId: clusterConfig.instanceId,
        privateKey: directoryKey,
        certificate: directoryCertificate,
        logger: log.child({ module: 'directory' }),
      });
      // the directory follows pool moves at once instead of at the next tick, and this
      // instance's own /instances answers only after the new record is read back: a client
      // asking right after a lease change (even before the record is written) sees it
      const dirPublisher = publisher;
      cluster.node?.onServeEvent(() => {
        const published = dirPublisher.publishNow();
        instancesRoute.cache.invalidate(published);
        void published.catch((err: unknown) => log.warn({ err }, 'directory publish failed'));
      });
    } else if (directoryKey) {
      log.warn(
        'WHIRLPOOL_DIRECTORY_PRIVATE_KEY is set but clustering is disabled: no directory record published',
      );
    }
    metrics.servedPools.set(mixEngine.servedPools().length);
    metrics.configuredPools.set(config.pools.length);
    // lease epochs per pool: the pools already served, then every serve/unserve event
    const clusterNode = cluster.node;
    for (const pool of config.pools) {
      metrics.poolLeaseEpoch.set({ pool: pool.id }, clusterNode?.fenceOf(pool.id)?.epoch ?? 0);
    }
    clusterNode?.onServeEvent((e) => {
      metrics.poolLeaseEpoch.set({ pool: e.poolId }, e.type === 'serve' ? e.epoch : 0);
    });
    const servedTimer = setInterval(() => metrics.servedPools.set(mixEngine.servedPools().length), 5000);
    servedTimer.unref();
    const stopPhaseWatch = watchMixPhases(mixEngine, ops);
    log.info(
      {
        instanceId: clusterConfig.enabled ? clusterConfig.instanceId : null,
        served: mixEngine.servedPools(),
      },
      'coordinator started',
    );

    let stopping: Promise<void> | null = null;
    const startedServer = server;
    const startedCluster = cluster;
    const statusPublisher = startPoolStatusPublisher({
      store: poolStatus,
      engine: mixEngine,
      who: startedCluster.node ? startedCluster.node : null,
      logger: log.child({ module: 'pool-status' }),
    });
    const startedPublisher = publisher;
    // history samples for the dashboard's pictures (every instance of a cluster records its own)
    const historyRecorder = clusterNode
      ? startHistoryRecorder({
          store: new HistoryStore(db),
          instanceId: clusterNode.instanceId,
          state: () => clusterNode.state,
          served: () =>
            mixEngine
              .snapshot()
              .filter((p) => p.served)
              .map((p) => ({
                poolId: p.poolId,
                epoch: clusterNode.fenceOf(p.poolId)?.epoch ?? 0,
                mixStatus: p.mixStatus,
                nbMustMixQueued: p.nbMustMixQueued,
                nbLiquidityQueued: p.nbLiquidityQueued,
                nbConfirmed: p.nbConfirmed,
              })),
          onServeChange: (listener) => clusterNode.onServeEvent(listener),
          sampleMs: dashboardConfig.historySampleMs,
          retentionMs: dashboardConfig.historyRetentionMs,
          logger: log.child({ module: 'history' }),
        })
      : null;
    return {
      port: server.port,
      instanceId: clusterConfig.enabled ? clusterConfig.instanceId : null,
      engine: mixEngine,
      metrics,
      db,
      app,
      stop(mode = 'drain') {
        stopping ??= (async () => {
          clearInterval(servedTimer);
          stopPhaseWatch();
          historyRecorder?.stop();
          log.info({ mode }, 'coordinator stopping');
          try {
            // results still pending from a database outage are written before the leases go
            await store.flush(RESULT_FLUSH_MS);
            if (mode === 'drain') await startedCluster.drain();
            else await startedCluster.stop();
          } catch (err) {
            log.error({ err }, 'cluster stop failed');
          }
          await store.flush(RESULT_FLUSH_MS);
          store.close();
          await startedPublisher
            ?.stop({ withdraw: true })
            .catch((err: unknown) => log.error({ err }, 'directory withdraw failed'));
          await startedServer.close().catch((err: unknown) => log.error({ err }, 'HTTP server close failed'));
          await statusPublisher.stop();
          mixEngine.stop();
          await db.end().catch((err: unknown) => log.error({ err }, 'database pool close failed'));
          await clusterDb
            .end()
            .catch((err: unknown) => log.error({ err }, 'cluster database pool close failed'));
          log.info('coordinator stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    // Partial start: undo what was started, then report.
    await publisher?.stop({ withdraw: true }).catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    await server?.close().catch(() => undefined);
    engine?.stop();
    await db.end().catch(() => undefined);
    await clusterDb.end().catch(() => undefined);
    throw err;
  }
}
