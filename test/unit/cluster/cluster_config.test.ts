/** Cluster settings from the environment: defaults, overrides, empty = unset, and refused unsafe timings. */
import { describe, expect, it } from 'vitest';
import { clusterConfigFromEnv, DEFAULT_CLUSTER_TIMING } from '#coordinator/cluster/cluster_config.ts';

describe('clusterConfigFromEnv', () => {
  it('uses the defaults (takeover ≈ 5 s) and a fresh instance id', () => {
    const c = clusterConfigFromEnv({});
    expect(c.enabled).toBe(true);
    expect(c.timing).toEqual(DEFAULT_CLUSTER_TIMING);
    expect(c.instanceId).toMatch(/^[A-Za-z0-9._-]+-[0-9a-f]{8}$/);
    expect(clusterConfigFromEnv({}).instanceId).not.toBe(c.instanceId);
  });

  it('reads every variable, treating empty ones as unset', () => {
    const c = clusterConfigFromEnv({
      WHIRLPOOL_CLUSTER_ENABLED: 'no',
      WHIRLPOOL_INSTANCE_ID: 'node-a',
      WHIRLPOOL_URL_CLEAR: 'http://a:8080',
      WHIRLPOOL_URL_ONION: '',
      WHIRLPOOL_LEASE_TTL_MS: '2000',
      WHIRLPOOL_CLUSTER_POLL_MS: '300',
      WHIRLPOOL_REBALANCE_POLLS: '5',
    });
    expect(c).toMatchObject({
      enabled: false,
      instanceId: 'node-a',
      urlClear: 'http://a:8080',
      urlOnion: null,
    });
    expect(c.timing).toMatchObject({
      leaseTtlMs: 2000,
      renewIntervalMs: 500,
      safetyMarginMs: 500,
      pollIntervalMs: 300,
      rebalanceAfterPolls: 5,
      orphanGraceMs: 2000,
    });
  });

  it('refuses timings where renewals cannot keep the lease, naming the variable', () => {
    expect(() =>
      clusterConfigFromEnv({ WHIRLPOOL_LEASE_TTL_MS: '4000', WHIRLPOOL_LEASE_RENEW_MS: '3500' }),
    ).toThrow(/WHIRLPOOL_LEASE_RENEW_MS/);
    expect(() => clusterConfigFromEnv({ WHIRLPOOL_LEASE_MARGIN_MS: '5000' })).toThrow(
      /WHIRLPOOL_LEASE_MARGIN_MS/,
    );
    expect(() => clusterConfigFromEnv({ WHIRLPOOL_INSTANCE_ID: 'bad id!' })).toThrow(/WHIRLPOOL_INSTANCE_ID/);
  });
});
