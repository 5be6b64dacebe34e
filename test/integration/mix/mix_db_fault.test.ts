/**
 * No participant is blamed for a database fault (issue 17): the mix engine's
 * store reaches MariaDB through a TCP proxy (test/support/tcp_proxy.ts) that
 * cuts (reset) or stalls (blackhole) the connections while the clients
 * register their outputs. The mix must end at once, without REVEAL_OUTPUT and
 * without a blame row, and its result is written once the database is back
 * (retryMixResults, as in production). Real btcd and MariaDB.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { retryMixResults } from '#coordinator/store/result_retry.ts';
import { startTcpProxy, type TcpProxy } from '#test/support/tcp_proxy.ts';
import {
  fundConfirmedUtxos,
  type MixEnv,
  queryRows,
  startEngine,
  startMixEnv,
  TestClient,
  testParams,
  testPool,
  until,
} from './mix_harness.ts';

const D = 1_000_000;
let env: MixEnv;
let proxy: TcpProxy;
let proxiedPool: ReturnType<typeof createDbPool>;

beforeAll(async () => {
  env = await startMixEnv('mix_db_fault');
  const u = new URL(env.db.url);
  proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 3306) });
  proxiedPool = createDbPool(proxy.rewriteUrl(env.db.url), { connectTimeoutMs: 2000 });
});
afterAll(async () => {
  proxy?.heal();
  await proxiedPool?.end().catch(() => undefined);
  await proxy?.close();
  await env?.close();
});

async function faultDuringRegisterOutput(poolId: string, fault: 'refuse' | 'blackhole'): Promise<void> {
  const store = retryMixResults(new MySqlMixStore(proxiedPool), {
    logger: pino({ level: 'silent' }),
    initialDelayMs: 100,
    maxDelayMs: 300,
    attemptTimeoutMs: 1000,
  });
  const pool = testPool({ id: poolId, anonymitySet: 2 });
  const engine = startEngine(env, [pool], testParams(), { store });
  try {
    const utxos = await fundConfirmedUtxos(env.node, 2, D + 400);
    const cs = utxos.map(
      (u) =>
        new TestClient(engine, pool.id, u, {
          // the fault starts when REGISTER_OUTPUT arrives, before any output is stored
          beforeRegisterOutput: async () => {
            if (fault === 'refuse') proxy.refuse();
            else proxy.blackhole();
          },
        }),
    );
    for (const c of cs) c.register(false);
    await Promise.all(cs.map((c) => c.session.waitFor('FailMixStatusNotification', 15_000)));
    // the database comes back once both clients were refused (a blame would now be written)
    await until(() => cs.every((c) => c.registerOutputError !== null), 'both registerOutput refused');
    proxy.heal();
    const [mix] = await until(
      () =>
        queryRows(env, 'SELECT * FROM mix WHERE pool_id = ?', [poolId]).then((r) =>
          r.length > 0 ? r : null,
        ),
      'mix result written after the database came back',
    );
    expect(mix!.mix_status).toBe('FAIL');
    expect(mix!.fail_reason).toBe('FAIL_REGISTER_OUTPUTS');
    expect(String(mix!.fail_info)).toMatch(/^database fault at registerOutput: /);
    for (const c of cs) {
      expect(c.session.types()).not.toContain('RevealOutputMixStatusNotification');
      expect(c.session.types()).not.toContain('SigningMixStatusNotification');
      expect(c.registerOutputError).toMatch(/^Mix failed/);
    }
    expect(
      await queryRows(env, 'SELECT * FROM blame WHERE identifier IN (?)', [utxos.map((u) => u.txid)]),
    ).toEqual([]);
    // the next mix of the pool works again on the healed database
    expect(engine.snapshot().find((p) => p.poolId === poolId)?.mixStatus).toBe('CONFIRM_INPUT');
  } finally {
    proxy.heal();
    engine.stop();
    store.close();
  }
}

describe('database faults at REGISTER_OUTPUT end the mix without blame', () => {
  it('connections cut (reset) while the outputs are stored', async () => {
    await faultDuringRegisterOutput('dbcut', 'refuse');
  });

  it('connections stalled (blackhole): saveOutput misses its deadline, the mix ends before its timers blame', async () => {
    await faultDuringRegisterOutput('dbstall', 'blackhole');
  });
});
