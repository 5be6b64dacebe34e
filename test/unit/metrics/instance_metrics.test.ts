/**
 * coordinator/instance_metrics.ts without I/O: statement classification,
 * REGISTER_INPUT outcomes through the STOMP wrapper, mix phase sampling,
 * RPC latency by method, store timing.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  classifyStatement,
  countLeaseEvents,
  createInstanceMetrics,
  instrumentRpcFetch,
  instrumentStomp,
  timeStore,
  watchMixPhases,
} from '#coordinator/instance_metrics.ts';
import type { ClientSession, StompApplication } from '#coordinator/transport/stomp_application.ts';

async function value(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

function fakeSession(id: string): ClientSession & { sent: string[] } {
  const sent: string[] = [];
  return {
    id,
    ip: '127.0.0.1',
    connectHeaders: new Map(),
    transport: 'websocket',
    closed: false,
    sent,
    sendPrivate(name) {
      sent.push(name);
    },
    close() {},
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('countLeaseEvents', () => {
  it('counts lease operations by result and takeovers with their latency', async () => {
    const registry = new Registry();
    const m = createInstanceMetrics(registry);
    const count = countLeaseEvents(m);
    count({ type: 'operation', poolId: 'p', operation: 'renew', result: 'ok' });
    count({ type: 'operation', poolId: 'p', operation: 'renew', result: 'ok' });
    count({ type: 'operation', poolId: 'p', operation: 'acquire', result: 'refused' });
    count({ type: 'takeover', poolId: 'p', previous: 'expired', latencyMs: 1500 });
    expect(
      await value(registry, 'whirlpool_lease_operations_total', { operation: 'renew', result: 'ok' }),
    ).toBe(2);
    expect(
      await value(registry, 'whirlpool_lease_operations_total', { operation: 'acquire', result: 'refused' }),
    ).toBe(1);
    expect(await value(registry, 'whirlpool_cluster_takeovers_total', { previous: 'expired' })).toBe(1);
    const latency = await registry.getSingleMetric('whirlpool_cluster_takeover_latency_seconds')?.get();
    const sum = latency?.values.find(
      (v) => (v as { metricName?: string }).metricName === 'whirlpool_cluster_takeover_latency_seconds_sum',
    );
    expect(sum?.value).toBeCloseTo(1.5);
  });
});

describe('classifyStatement', () => {
  it('names other statements by verb and table', () => {
    expect(classifyStatement('SELECT id FROM instance WHERE 1').operation).toBe('select instance');
    expect(classifyStatement('INSERT IGNORE INTO pool_lease (a) VALUES (?)').operation).toBe(
      'insert pool_lease',
    );
    expect(classifyStatement('UPDATE instance SET state = ?').operation).toBe('update instance');
  });
});

describe('instrumentStomp', () => {
  it('counts received, refused, invited and abandoned registrations', async () => {
    const registry = new Registry();
    const m = createInstanceMetrics(registry);
    const inner: StompApplication = {
      onSubscribe() {},
      onSend(session, _d, _h, body) {
        if (body === 'bad') session.sendPrivate('ErrorResponse', { message: 'no' });
        if (body === 'good') session.sendPrivate('ConfirmInputMixStatusNotification', {});
      },
      onDisconnect() {},
    };
    const app = instrumentStomp(inner, m);
    const [a, b, c] = [fakeSession('a'), fakeSession('b'), fakeSession('c')];
    app.onSend(a, '/ws/registerInput', new Map(), 'bad');
    app.onSend(b, '/ws/registerInput', new Map(), 'good');
    app.onSend(c, '/ws/registerInput', new Map(), 'queued');
    app.onDisconnect(c);
    app.onDisconnect(a); // already settled: not counted again
    app.onSend(a, '/ws/confirmInput', new Map(), 'bad'); // not a registration
    expect(a.sent).toEqual(['ErrorResponse', 'ErrorResponse']);
    const count = (outcome: string) => value(registry, 'whirlpool_register_input_total', { outcome });
    expect(await count('received')).toBe(3);
    expect(await count('refused')).toBe(1);
    expect(await count('invited')).toBe(1);
    expect(await count('abandoned')).toBe(1);
  });
});

describe('watchMixPhases', () => {
  it('observes the time spent in each ended phase', async () => {
    vi.useFakeTimers();
    const registry = new Registry();
    const m = createInstanceMetrics(registry);
    let state = { poolId: 'p', mixId: 'm1', mixStatus: 'CONFIRM_INPUT', served: true };
    const stop = watchMixPhases({ snapshot: () => [state] }, m, 250);
    await vi.advanceTimersByTimeAsync(250);
    state = { ...state, mixStatus: 'REGISTER_OUTPUT' };
    await vi.advanceTimersByTimeAsync(250);
    state = { ...state, mixStatus: 'SUCCESS' };
    await vi.advanceTimersByTimeAsync(250);
    state = { ...state, mixId: 'm2', mixStatus: 'CONFIRM_INPUT' };
    await vi.advanceTimersByTimeAsync(250);
    stop();
    const metric = await registry.getSingleMetric('whirlpool_mix_phase_duration_seconds')?.get();
    const counts = Object.fromEntries(
      (metric?.values ?? [])
        .filter(
          (v) => (v as { metricName?: string }).metricName === 'whirlpool_mix_phase_duration_seconds_count',
        )
        .map((v) => [v.labels.phase, v.value]),
    );
    expect(counts).toEqual({ CONFIRM_INPUT: 1, REGISTER_OUTPUT: 1 });
  });
});

describe('instrumentRpcFetch and timeStore', () => {
  it('times RPC calls by method and store calls by operation', async () => {
    const registry = new Registry();
    const m = createInstanceMetrics(registry);
    const f = instrumentRpcFetch(m, async () => new Response('{}'));
    await f('http://node', { method: 'POST', body: JSON.stringify({ method: 'getblockcount', params: [] }) });
    const failing = instrumentRpcFetch(m, async () => {
      throw new Error('down');
    });
    await expect(failing('http://node', { body: JSON.stringify({ method: 'gettxout' }) })).rejects.toThrow(
      'down',
    );
    const store = timeStore({ nextFeeIndex: async () => 7 }, m);
    expect(await store.nextFeeIndex()).toBe(7);
    const text = await registry.metrics();
    expect(text).toMatch(
      /whirlpool_bitcoin_rpc_duration_seconds_count\{method="getblockcount",result="ok"\} 1/,
    );
    expect(text).toMatch(
      /whirlpool_bitcoin_rpc_duration_seconds_count\{method="gettxout",result="error"\} 1/,
    );
    expect(text).toMatch(
      /whirlpool_db_query_duration_seconds_count\{component="store",operation="nextFeeIndex"\} 1/,
    );
  });
});

describe('whirlpool_mix_results_pending', () => {
  it('reads the pending mix results at scrape time (0 without a source)', async () => {
    const registry = new Registry();
    const m = createInstanceMetrics(registry);
    expect(await value(registry, 'whirlpool_mix_results_pending', {})).toBe(0);
    let pending = 3;
    m.setPendingResultsSource(() => pending);
    expect(await value(registry, 'whirlpool_mix_results_pending', {})).toBe(3);
    pending = 0;
    expect(await registry.metrics()).toContain('whirlpool_mix_results_pending 0');
  });
});
