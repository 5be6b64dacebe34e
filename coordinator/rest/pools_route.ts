/**
 * `GET /rest/pools` (spec §2.5): the pool list comes from the configuration
 * (every instance of a cluster knows every pool), the live fields (mix
 * status, elapsed time, counts) from a {@link LivePoolSource}: the local
 * engine for the pools this instance serves, and whatever the cluster stream
 * plugs in for the others (pools without live data show an idle
 * CONFIRM_INPUT mix).
 *
 * @module
 */
import type { PoolSnapshot } from '#coordinator/mix/mix_engine.ts';
import { DEFAULT_TX0_MAX_OUTPUTS, type MixStatus, type PoolConfig } from '#coordinator/mix/types.ts';
import type { PoolInfo, PoolsResponse } from '#shared/protocol/messages.ts';

/** The live part of a PoolInfo. */
export interface LivePoolStatus {
  mixStatus: MixStatus;
  /** ms since the current mix was created. */
  elapsedTime: number;
  nbConfirmed: number;
  /** Invited-but-unconfirmed + queued mustMix + queued liquidity. */
  nbRegistered: number;
}

/** Where the live fields come from (pool id → status; absent = no live data). */
export interface LivePoolSource {
  livePools(): Promise<ReadonlyMap<string, LivePoolStatus>> | ReadonlyMap<string, LivePoolStatus>;
}

/** Status shown for a pool nobody reports on (not served, or served elsewhere without data). */
export const IDLE_POOL_STATUS: LivePoolStatus = {
  mixStatus: 'CONFIRM_INPUT',
  elapsedTime: 0,
  nbConfirmed: 0,
  nbRegistered: 0,
};

/** Live source reading the local engine's snapshot: only the pools it serves. */
export function engineLiveSource(engine: { snapshot(): PoolSnapshot[] }): LivePoolSource {
  return {
    livePools() {
      const out = new Map<string, LivePoolStatus>();
      for (const s of engine.snapshot()) {
        if (!s.served) continue;
        out.set(s.poolId, {
          mixStatus: s.mixStatus,
          elapsedTime: s.elapsedTime,
          nbConfirmed: s.nbConfirmed,
          nbRegistered: s.nbRegistered,
        });
      }
      return out;
    },
  };
}

/** Live sources tried in order; the first that knows a pool wins (e.g. local engine, then cluster DB). */
export function combineLiveSources(...sources: LivePoolSource[]): LivePoolSource {
  return {
    async livePools() {
      const out = new Map<string, LivePoolStatus>();
      for (const source of sources) {
        for (const [poolId, status] of await source.livePools())
          if (!out.has(poolId)) out.set(poolId, status);
      }
      return out;
    },
  };
}

/** One PoolInfo from a pool's configuration and its live status (spec §2.5 table; `tx0MaxOutputs`, addendum §3.2). */
export function poolInfo(pool: PoolConfig, live: LivePoolStatus): PoolInfo {
  return {
    poolId: pool.id,
    denomination: pool.denomination,
    feeValue: pool.feeValue,
    mustMixBalanceMin: pool.denomination + pool.minerFeeMin,
    mustMixBalanceCap: pool.denomination + pool.minerFeeCap,
    mustMixBalanceMax: pool.denomination + pool.minerFeeMax,
    minAnonymitySet: pool.anonymitySet,
    minMustMix: pool.mustMixMin,
    tx0MaxOutputs: pool.tx0MaxOutputs ?? DEFAULT_TX0_MAX_OUTPUTS,
    nbRegistered: live.nbRegistered,
    mixAnonymitySet: pool.anonymitySet,
    mixStatus: live.mixStatus,
    elapsedTime: Math.max(0, Math.round(live.elapsedTime)),
    nbConfirmed: live.nbConfirmed,
  };
}

/** The PoolsResponse for every configured pool, in configuration order. */
export async function poolsResponse(
  pools: readonly PoolConfig[],
  source: LivePoolSource,
): Promise<PoolsResponse> {
  const live = await source.livePools();
  return { pools: pools.map((p) => poolInfo(p, live.get(p.id) ?? IDLE_POOL_STATUS)) };
}
