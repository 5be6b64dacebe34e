/**
 * `startClusterNode`: the one call `coordinator/main.ts` makes to put an
 * instance into the cluster. With clustering enabled it registers the
 * instance and starts the lease loop (pools are activated as leases are
 * acquired); disabled, it activates every pool without a fence, as a single
 * 0.23 coordinator would.
 *
 * @module
 */
import type { Logger } from '#coordinator/log.ts';
import { type ClusterConfig, clusterConfigFromEnv } from './cluster_config.ts';
import { type ClusterEngine, ClusterNode } from './cluster_node.ts';
import type { LeaseEvent } from './lease_store.ts';
import type { Queryable } from './sql.ts';

/** Options of {@link startClusterNode}. */
export interface StartClusterOptions {
  db: Queryable;
  engine: ClusterEngine;
  /** Configured pool ids (or pool configs carrying an `id`). */
  pools: ReadonlyArray<string | { id: string }>;
  /** Cluster settings; default {@link clusterConfigFromEnv} on `process.env`. */
  config?: ClusterConfig;
  /** Software version recorded in the registry. */
  version: string;
  /** Told every lease operation's result and every takeover (metrics). */
  onLeaseEvent?: (e: LeaseEvent) => void;
  logger: Logger;
}

/** What {@link startClusterNode} returns. */
export interface ClusterHandle {
  /** The node, or null when clustering is disabled. */
  node: ClusterNode | null;
  /** Graceful stop (SIGTERM): finish mixes, release pools, mark stopped. */
  drain(): Promise<void>;
  /** Immediate stop: cut pools (no blame), release leases. */
  stop(): Promise<void>;
}

/** Joins the cluster (or, disabled, serves every pool alone). Resolves once the first polls ran. */
export async function startClusterNode(opts: StartClusterOptions): Promise<ClusterHandle> {
  const config = opts.config ?? clusterConfigFromEnv();
  const pools = opts.pools.map((p) => (typeof p === 'string' ? p : p.id));
  if (!config.enabled) {
    for (const p of pools) opts.engine.activatePool(p, null);
    opts.logger.info({ pools }, 'cluster disabled: serving every pool without leases');
    const cut = async (mode: 'immediate' | 'drain') => {
      await Promise.all(pools.map((p) => opts.engine.deactivatePool(p, mode)));
    };
    return { node: null, drain: () => cut('drain'), stop: () => cut('immediate') };
  }
  const node = new ClusterNode({
    db: opts.db,
    engine: opts.engine,
    pools,
    instance: {
      id: config.instanceId,
      urlClear: config.urlClear,
      urlOnion: config.urlOnion,
      version: opts.version,
    },
    timing: config.timing,
    logger: opts.logger,
    ...(opts.onLeaseEvent ? { onLeaseEvent: opts.onLeaseEvent } : {}),
  });
  await node.start();
  return { node, drain: () => node.drain(), stop: () => node.stop() };
}
