/**
 * The cluster's front: what the HTTP server and the REST app are given
 * instead of the bare engine, created BEFORE the cluster node exists (the
 * server starts first) and attached to it afterwards. Until attached, or
 * when clustering is disabled, everything goes straight to the engine.
 *
 * Usage in start_coordinator.ts:
 * ```ts
 * const front = createClusterFrontend({ engine, db, logger });
 * createRestApp({ ..., registerOutput: front.registerOutput });
 * startHttpServer({ ..., stomp: front.stomp });
 * front.attach((await startClusterNode({...})).node);
 * ```
 *
 * @module
 */
import type { Logger } from '#coordinator/log.ts';
import type { LeaseFence } from '#coordinator/mix/types.ts';
import type { StompApplication } from '#coordinator/transport/stomp_application.ts';
import type { RegisterOutputRequest } from '#shared/protocol/messages.ts';
import type { ClusterNode, PoolOwner } from './cluster_node.ts';
import {
  type ClusterRouting,
  ClusterStompApplication,
  clusterRegisterOutput,
  type RequestVia,
  type RoutedEngine,
} from './cluster_routing.ts';
import { MixInputsHashStore } from './mix_inputs_hash_store.ts';
import type { TxQueryable } from './sql.ts';

/** What {@link createClusterFrontend} returns. */
export interface ClusterFrontend {
  /** The STOMP application for the transport. */
  stomp: StompApplication;
  /** The REST app's `registerOutput` (HTTP 307 to the holder of the mix). */
  registerOutput(req: RegisterOutputRequest, via?: RequestVia): Promise<undefined | { redirectTo: string }>;
  /** Connects the front to the running cluster node (null: clustering disabled). */
  attach(node: ClusterNode | null): void;
}

/** Options of {@link createClusterFrontend}. */
export interface ClusterFrontendOptions {
  engine: RoutedEngine & {
    findMixByInputsHash(inputsHash: string): { poolId: string } | null;
    registerOutput(req: RegisterOutputRequest): Promise<void>;
  };
  db: TxQueryable;
  logger: Logger;
  /** Cluster-wide relay secret (WHIRLPOOL_RELAY_SECRET), null: relayed client IPs neither sent nor used. */
  relaySecret?: string | null;
  /** Called for every `mix_inputs_hash` lookup of a registerOutput (metrics). */
  onInputsHashLookup?: () => void;
}

/** Builds the front; see module doc. */
export function createClusterFrontend(opts: ClusterFrontendOptions): ClusterFrontend {
  let node: ClusterNode | null = null;
  /** attach() was called: until then the cluster node is still starting (owners unknown, not "no cluster"). */
  let attached = false;
  const routing: ClusterRouting = {
    get instanceId() {
      return node?.instanceId ?? '';
    },
    get clustered() {
      return attached ? node !== null : undefined;
    },
    fenceOf: (poolId: string): LeaseFence | null => node?.fenceOf(poolId) ?? null,
    ownerOf: (poolId: string): PoolOwner | null => node?.ownerOf(poolId) ?? null,
  };
  const inputsHashes = new MixInputsHashStore(opts.db);
  const stomp = new ClusterStompApplication({
    engine: opts.engine,
    routing,
    inputsHashes,
    logger: opts.logger,
    relaySecret: opts.relaySecret ?? null,
  });
  let clustered:
    | ((req: RegisterOutputRequest, via?: RequestVia) => Promise<undefined | { redirectTo: string }>)
    | null = null;
  return {
    stomp,
    async registerOutput(req, via) {
      if (clustered) return clustered(req, via);
      await opts.engine.registerOutput(req);
      return undefined;
    },
    attach(n) {
      attached = true;
      node = n;
      clustered = n
        ? clusterRegisterOutput({
            engine: opts.engine,
            instanceId: n.instanceId,
            inputsHashes,
            logger: opts.logger,
            onLookup: opts.onInputsHashLookup,
          })
        : null;
    },
  };
}
