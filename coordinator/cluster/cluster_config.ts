/**
 * Cluster settings read from `WHIRLPOOL_*` environment variables (zod), with
 * defaults chosen so an orphaned pool is served again within about 5 s:
 * lease TTL 4000 ms, renewal every 1000 ms, step-down 1000 ms before the TTL,
 * assignment poll every 1000 ms. See docs/configuration.md.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';

/** Timing of leases and of the assignment loop, in ms (or polls). */
export interface ClusterTiming {
  leaseTtlMs: number;
  renewIntervalMs: number;
  safetyMarginMs: number;
  pollIntervalMs: number;
  /** Consecutive polls a pool must be over this instance's share before it is given up. */
  rebalanceAfterPolls: number;
  /** A pool free for this long is taken by any active instance, even outside its share. */
  orphanGraceMs: number;
  /** Longest wait for a pool's mix to end when draining, before cutting it. */
  drainTimeoutMs: number;
}

/** Everything {@link clusterConfigFromEnv} yields. */
export interface ClusterConfig {
  enabled: boolean;
  instanceId: string;
  urlClear: string | null;
  urlOnion: string | null;
  timing: ClusterTiming;
  /** `WHIRLPOOL_RELAY_SECRET` (secret, ≥ 32 chars, same on every instance), null when unset. */
  relaySecret: string | null;
}

/** Default timing (see module doc). */
export const DEFAULT_CLUSTER_TIMING: ClusterTiming = {
  leaseTtlMs: 4000,
  renewIntervalMs: 1000,
  safetyMarginMs: 1000,
  pollIntervalMs: 1000,
  rebalanceAfterPolls: 3,
  orphanGraceMs: 4000,
  drainTimeoutMs: 120_000,
};

const intMs = z.coerce.number().int().positive();
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const EnvSchema = z.object({
  WHIRLPOOL_CLUSTER_ENABLED: bool.optional(),
  WHIRLPOOL_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)')
    .optional(),
  WHIRLPOOL_URL_CLEAR: z.url().optional(),
  WHIRLPOOL_URL_ONION: z.url().optional(),
  WHIRLPOOL_LEASE_TTL_MS: intMs.optional(),
  WHIRLPOOL_LEASE_RENEW_MS: intMs.optional(),
  WHIRLPOOL_LEASE_MARGIN_MS: intMs.optional(),
  WHIRLPOOL_CLUSTER_POLL_MS: intMs.optional(),
  WHIRLPOOL_REBALANCE_POLLS: intMs.optional(),
  WHIRLPOOL_ORPHAN_GRACE_MS: intMs.optional(),
  WHIRLPOOL_DRAIN_TIMEOUT_MS: intMs.optional(),
  WHIRLPOOL_RELAY_SECRET: z.string().min(32, 'at least 32 characters').optional(),
});

/** A fresh instance id: `<hostname>-<8 hex>` (unique per process start). */
export function defaultInstanceId(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 40);
  return `${host || 'coordinator'}-${randomBytes(4).toString('hex')}`;
}

/** Parses and checks the cluster variables of `env` (throws with the offending variable named). */
export function clusterConfigFromEnv(env: Record<string, string | undefined> = process.env): ClusterConfig {
  // An empty variable counts as unset (same rule as coordinator/config).
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''),
  );
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Invalid cluster setting '${String(issue?.path[0])}': ${issue?.message}`);
  }
  const e = parsed.data;
  const ttl = e.WHIRLPOOL_LEASE_TTL_MS ?? DEFAULT_CLUSTER_TIMING.leaseTtlMs;
  const timing: ClusterTiming = {
    leaseTtlMs: ttl,
    renewIntervalMs:
      e.WHIRLPOOL_LEASE_RENEW_MS ?? Math.min(DEFAULT_CLUSTER_TIMING.renewIntervalMs, Math.floor(ttl / 4)),
    safetyMarginMs:
      e.WHIRLPOOL_LEASE_MARGIN_MS ?? Math.min(DEFAULT_CLUSTER_TIMING.safetyMarginMs, Math.floor(ttl / 4)),
    pollIntervalMs: e.WHIRLPOOL_CLUSTER_POLL_MS ?? DEFAULT_CLUSTER_TIMING.pollIntervalMs,
    rebalanceAfterPolls: e.WHIRLPOOL_REBALANCE_POLLS ?? DEFAULT_CLUSTER_TIMING.rebalanceAfterPolls,
    orphanGraceMs: e.WHIRLPOOL_ORPHAN_GRACE_MS ?? ttl,
    drainTimeoutMs: e.WHIRLPOOL_DRAIN_TIMEOUT_MS ?? DEFAULT_CLUSTER_TIMING.drainTimeoutMs,
  };
  checkTiming(timing);
  return {
    enabled: e.WHIRLPOOL_CLUSTER_ENABLED ?? true,
    instanceId: e.WHIRLPOOL_INSTANCE_ID ?? defaultInstanceId(),
    urlClear: e.WHIRLPOOL_URL_CLEAR ?? null,
    urlOnion: e.WHIRLPOOL_URL_ONION ?? null,
    timing,
    relaySecret: e.WHIRLPOOL_RELAY_SECRET ?? null,
  };
}

/** Throws when the timing cannot keep the safety invariant (renewals must fit inside TTL − margin). */
export function checkTiming(t: ClusterTiming): void {
  if (t.safetyMarginMs >= t.leaseTtlMs) {
    throw new Error(
      `WHIRLPOOL_LEASE_MARGIN_MS (${t.safetyMarginMs}) must be below WHIRLPOOL_LEASE_TTL_MS (${t.leaseTtlMs})`,
    );
  }
  if (t.renewIntervalMs >= t.leaseTtlMs - t.safetyMarginMs) {
    throw new Error(
      `WHIRLPOOL_LEASE_RENEW_MS (${t.renewIntervalMs}) must be below TTL - margin (${t.leaseTtlMs - t.safetyMarginMs})`,
    );
  }
}
