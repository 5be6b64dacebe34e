/**
 * Basic metrics: the instrumented store counts mix results, blames, bans,
 * fenced-out writes and failures without changing results; `/metrics`
 * serves the registry in Prometheus text format.
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { addMetricsRoute, createMetrics, instrumentStore } from '#coordinator/metrics.ts';
import type { MixResult } from '#coordinator/mix/types.ts';
import { FencedOutError, OutputAlreadyUsedError } from '#coordinator/store/errors.ts';
import type { MixStore } from '#coordinator/store/mix_store.ts';

const FENCE = { poolId: 'p', instanceId: 'i', epoch: 1 };

function fakeStore(over: Partial<MixStore> = {}): MixStore {
  return {
    inputFacts: async () => ({ ban: null, tx0Whitelisted: false, mixDenominations: [] }),
    isBanned: async () => null,
    isMixTxid: async () => false,
    isTx0Whitelisted: async () => false,
    isOutputUsed: async () => false,
    saveOutput: async () => undefined,
    blame: async () => ({ banned: true }),
    saveMixResult: async () => undefined,
    nextFeeIndex: async () => 7,
    ...over,
  };
}

async function value(metrics: ReturnType<typeof createMetrics>, name: string): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((sum, v) => sum + Number(v.value), 0);
}

describe('instrumentStore', () => {
  it('counts blames, bans and mix results and passes results through', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const store = instrumentStore(fakeStore(), metrics);
    expect(
      await store.blame(
        { identifier: 'x', reason: 'SIGNING', mixId: 'm', ip: 'i' },
        { blames: 1, periodSeconds: 1, expirationSeconds: 1 },
        null,
      ),
    ).toEqual({ banned: true });
    await store.saveMixResult({ poolId: 'p', status: 'SUCCESS' } as MixResult, null);
    expect(await store.nextFeeIndex()).toBe(7);
    expect(await value(metrics, 'whirlpool_blames_total')).toBe(1);
    expect(await value(metrics, 'whirlpool_bans_total')).toBe(1);
    expect(await value(metrics, 'whirlpool_mix_results_total')).toBe(1);
  });

  it('counts fenced-out writes and failures apart, and not address reuse', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const store = instrumentStore(
      fakeStore({
        saveOutput: async (a, f) => {
          throw f ? new FencedOutError('saveOutput', f) : new OutputAlreadyUsedError(a);
        },
        isBanned: async () => {
          throw new Error('ECONNREFUSED');
        },
      }),
      metrics,
    );
    await expect(store.saveOutput('a', FENCE)).rejects.toBeInstanceOf(FencedOutError);
    await expect(store.saveOutput('a', null)).rejects.toBeInstanceOf(OutputAlreadyUsedError);
    await expect(store.isBanned(['x'])).rejects.toThrow('ECONNREFUSED');
    expect(await value(metrics, 'whirlpool_fenced_writes_total')).toBe(1);
    expect(await value(metrics, 'whirlpool_store_errors_total')).toBe(1);
  });
});

describe('GET /metrics', () => {
  it('serves the registry as Prometheus text', async () => {
    const metrics = createMetrics();
    metrics.servedPools.set(3);
    const app = new Hono();
    addMetricsRoute(app, metrics);
    const res = await app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('whirlpool_served_pools 3');
    expect(text).toContain('whirlpool_process_cpu_user_seconds_total');
  });
});
