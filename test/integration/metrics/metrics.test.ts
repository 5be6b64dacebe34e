/**
 * /metrics of real coordinator processes: two instances on one MariaDB
 * database and one btcd node; the owner of a pool is killed with SIGKILL and
 * the survivor's /metrics must show the takeover (counter with
 * previous="expired", latency histogram sample), its lease renewals, and the
 * operational metric families (STOMP sessions, registrations, mix phases,
 * database and RPC latency).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { freePorts } from '#devnet/ports.ts';
import { connectTestDb, createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { pollFor } from '#test/support/poll.ts';

const POOLS = {
  pools: [
    { id: '0.01btc', denomination: 1_000_000, feeValue: 50_000, anonymitySet: 2, liquidityMin: 0 },
    { id: '0.001btc', denomination: 100_000, feeValue: 5_000, anonymitySet: 2, liquidityMin: 0 },
  ],
};

/** Sum of the samples of `name` whose labels contain every `labels` pair. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  let found: number | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    found = (found ?? 0) + Number(line.trim().split(/\s+/).pop());
  }
  return found;
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  return res.text();
}

async function waitUntil<T>(what: string, fn: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  return pollFor(what, fn, { timeoutMs, intervalMs: 200 });
}

describe('coordinator /metrics across a kill -9 takeover', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let dir: string;
  const procs: CoordinatorProcess[] = [];
  let ports: number[];

  beforeAll(async () => {
    [db, btcd, dir, ports] = await Promise.all([
      createTestDatabase('metrics'),
      startBtcd({ matureBlocks: 1 }),
      mkdtemp(join(tmpdir(), 'wpt-metrics-')),
      freePorts(2),
    ]);
    await writeFile(join(dir, 'pools.json'), JSON.stringify(POOLS));
  });
  afterAll(async () => {
    for (const p of procs) p.signal('SIGKILL');
    await Promise.all(procs.map((p) => p.exit));
    await Promise.all([btcd?.stop(), db?.drop(), dir ? rm(dir, { recursive: true, force: true }) : null]);
  });

  function start(instanceId: string, port: number): CoordinatorProcess {
    const p = spawnCoordinator({
      instanceId,
      env: {
        WHIRLPOOL_DB_URL: db.url,
        WHIRLPOOL_BITCOIN_RPC_URL: btcd.rpcUrl,
        WHIRLPOOL_NETWORK: 'regtest',
        WHIRLPOOL_POOLS: join(dir, 'pools.json'),
        WHIRLPOOL_SECRET_WALLET_WORDS: WORDS,
        WHIRLPOOL_PORT: String(port),
        WHIRLPOOL_HOST: '127.0.0.1',
        WHIRLPOOL_URL_CLEAR: `http://127.0.0.1:${port}`,
        WHIRLPOOL_LOG_LEVEL: 'info',
      },
    });
    procs.push(p);
    return p;
  }
  const WORDS = Wallet.generateMnemonic();

  it('the survivor counts the takeover and exposes every operational metric', async () => {
    const [portA, portB] = ports as [number, number];
    const a = start('metrics-a', portA);
    await a.waitFor((l) => l.msg === 'coordinator started', 90_000);
    const b = start('metrics-b', portB);
    await b.waitFor((l) => l.msg === 'coordinator started', 90_000);

    const conn = await connectTestDb(db.url);
    try {
      const leases = async () =>
        (await conn.query<RowDataPacket[]>('SELECT pool_id, owner, epoch FROM pool_lease'))[0];
      // A took every pool first; kill it while it still holds at least one.
      const held = await waitUntil(
        'metrics-a to hold a pool',
        async () => {
          const rows = (await leases()).filter((r) => r.owner === 'metrics-a');
          return rows.length ? rows : null;
        },
        30_000,
      );
      const before = await scrape(portB);
      expect(sample(before, 'whirlpool_cluster_takeovers_total', { previous: 'expired' }) ?? 0).toBe(0);
      a.signal('SIGKILL');
      await a.exit;

      // B takes A's pools once their leases expire (TTL 4 s + one poll).
      await waitUntil(
        'metrics-b to own every pool of metrics-a',
        async () => {
          const rows = await leases();
          const ok = held.every((h) =>
            rows.some((r) => r.pool_id === h.pool_id && r.owner === 'metrics-b' && r.epoch > h.epoch),
          );
          return ok ? true : null;
        },
        30_000,
      );
      const text = await waitUntil(
        'the takeover in /metrics',
        async () => {
          const t = await scrape(portB);
          const takeovers = sample(t, 'whirlpool_cluster_takeovers_total', { previous: 'expired' }) ?? 0;
          const renewals =
            sample(t, 'whirlpool_lease_operations_total', { operation: 'renew', result: 'ok' }) ?? 0;
          return takeovers >= 1 && renewals >= 1 ? t : null;
        },
        10_000,
      );
      // Every pool A held at the kill (unless A handed one over just before) is an expired-lease takeover.
      const expired = sample(text, 'whirlpool_cluster_takeovers_total', { previous: 'expired' })!;
      expect(expired).toBeGreaterThanOrEqual(1);
      expect(expired).toBeLessThanOrEqual(held.length);
      expect(sample(text, 'whirlpool_cluster_takeover_latency_seconds_count', { previous: 'expired' })).toBe(
        expired,
      );
      // Latency from the dead lease's expiry to the acquisition: positive, below TTL + poll + slack.
      const latencySum = sample(text, 'whirlpool_cluster_takeover_latency_seconds_sum', {
        previous: 'expired',
      });
      expect(latencySum).not.toBeNull();
      expect(latencySum).toBeGreaterThanOrEqual(0);
      expect(latencySum! / expired).toBeLessThan(5);
      expect(
        sample(text, 'whirlpool_lease_operations_total', { operation: 'renew', result: 'ok' }),
      ).toBeGreaterThan(0);
      expect(
        sample(text, 'whirlpool_lease_operations_total', { operation: 'acquire', result: 'ok' }),
      ).toBeGreaterThan(0);
      expect(sample(text, 'whirlpool_stomp_sessions', { instance: 'metrics-b' })).toBe(0);
      expect(sample(text, 'whirlpool_mix_results_pending', { instance: 'metrics-b' })).toBe(0);
      expect(
        sample(text, 'whirlpool_db_query_duration_seconds_count', { component: 'cluster' }),
      ).toBeGreaterThan(0);
      expect(
        sample(text, 'whirlpool_bitcoin_rpc_duration_seconds_count', { method: 'getblockchaininfo' }),
      ).toBeGreaterThan(0);
      for (const family of [
        'whirlpool_register_input_total',
        'whirlpool_mix_phase_duration_seconds',
        'whirlpool_mix_results_total',
      ]) {
        expect(text).toContain(`# TYPE ${family} `);
      }
    } finally {
      await conn.end();
    }
  });
});
