/**
 * Mounts the dashboard on a coordinator's Hono app at `/dashboard`, reading
 * its settings from the environment (see dashboard_config.ts) and the whole
 * cluster's state from the shared database (cluster_view.ts).
 *
 * @module
 */
import type { Hono } from 'hono';
import type { Pool } from 'mysql2/promise';
import type { Logger } from '#coordinator/log.ts';
import type { PoolConfig } from '#coordinator/mix/types.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { readClusterView } from './cluster_view.ts';
import { type DashboardConfig, dashboardConfigFromEnv } from './dashboard_config.ts';
import { createDashboardRoutes } from './dashboard_routes.ts';

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
  app.route(
    '/dashboard',
    createDashboardRoutes({
      config,
      readView: () =>
        readClusterView({ db: opts.db, history, pools: opts.pools, instanceId: opts.instanceId }),
      unban: (identifier) => history.unban(identifier),
      logger: opts.logger,
      title: opts.instanceId ? `Whirlpool cluster — ${opts.instanceId}` : 'Whirlpool coordinator',
    }),
  );
  if (!config.enabled) opts.logger.info('dashboard disabled (no WHIRLPOOL_DASHBOARD_PASSWORD_HASH)');
  return config;
}
