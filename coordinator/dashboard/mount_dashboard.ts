/**
 * Mounts the dashboard on a coordinator's Hono app at `/dashboard`, reading
 * its settings from the environment (see dashboard_config.ts) and the whole
 * cluster's state from the shared database (cluster_view.ts).
 *
 * @module
 */
import type { Hono } from 'hono';
import type { Pool } from 'mysql2/promise';
import { clusterConfigFromEnv } from '#coordinator/cluster/cluster_config.ts';
import { InstanceRegistry } from '#coordinator/cluster/instance_registry.ts';
import type { Logger } from '#coordinator/log.ts';
import type { PoolConfig } from '#coordinator/mix/types.ts';
import { HistoryStore } from '#coordinator/store/history_store.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { readClusterView } from './cluster_view.ts';
import { type DashboardConfig, dashboardConfigFromEnv } from './dashboard_config.ts';
import { createDashboardRoutes } from './dashboard_routes.ts';
import { buildHistoryView, type HistoryView } from './history_view.ts';

/** What {@link mountDashboard} needs. */
export interface MountDashboardOptions {
  db: Pool;
  pools: readonly PoolConfig[];
  instanceId: string | null;
  logger: Logger;
  env?: Record<string, string | undefined>;
}

/** Adds `/dashboard/*` to `app`; returns the settings used (enabled or not). */
export function mountDashboard(app: Hono, opts: MountDashboardOptions): DashboardConfig {
  const config = dashboardConfigFromEnv(opts.env ?? process.env);
  const history = new MySqlMixStore(opts.db);
  const samples = new HistoryStore(opts.db);
  const registry = new InstanceRegistry(opts.db);
  // an instance whose heartbeat is older than the lease TTL is dead (its leases have expired)
  const deadAfterMs = clusterConfigFromEnv({ ...(opts.env ?? process.env) }).timing.leaseTtlMs;
  const readHistory = async (hours: number): Promise<HistoryView> => {
    const windowMs = Math.min(hours * 3600_000, config.historyRetentionMs);
    // about 60 bars per window, at least one per minute
    const bucketMs = Math.max(60_000, Math.round(windowMs / 60 / 60_000) * 60_000);
    const [read, instances] = await Promise.all([samples.read(windowMs, bucketMs), registry.listAll()]);
    return buildHistoryView(read, {
      poolIds: opts.pools.map((p) => p.id),
      registry: instances.map((i) => ({ id: i.id, state: i.state, heartbeatAgeMs: i.ageMs })),
      windowMs,
      bucketMs,
      gapMs: Math.round(config.historySampleMs * 2.5),
      deadAfterMs,
    });
  };
  app.route(
    '/dashboard',
    createDashboardRoutes({
      config,
      readView: () =>
        readClusterView({
          db: opts.db,
          history,
          pools: opts.pools,
          instanceId: opts.instanceId,
          deadAfterMs,
        }),
      readHistory,
      unban: (identifier) => history.unban(identifier),
      logger: opts.logger,
      title: opts.instanceId ? `Whirlpool cluster — ${opts.instanceId}` : 'Whirlpool coordinator',
    }),
  );
  if (!config.enabled) opts.logger.info('dashboard disabled (no WHIRLPOOL_DASHBOARD_PASSWORD_HASH)');
  return config;
}
