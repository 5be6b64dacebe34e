/**
 * The least-privilege coordinator account of docs/operations.md §4, taken
 * from the document itself: on a database migrated by the admin account, a
 * real coordinator process running on an account with exactly those GRANTs
 * starts (migrations skipped), acquires its pool lease, publishes its
 * directory record, answers /rest/tx0, and records a real mix of two
 * clients (mix, mix_log, mix_output, mix_txid rows) — without one database
 * error — and drains on SIGTERM. A missing table in the grants fails it.
 * Its /metrics must show that mix (registrations, result, store and RPC
 * latency) as seen through the real transport.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Tx0, WhirlpoolClient } from '#client/api.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { mixPoolsFile } from '#devnet/pools_file.ts';
import { freePort } from '#devnet/ports.ts';
import { connectTestDb, createTestDatabase, runSql, type TestDatabase } from '#test/support/db.ts';
import { pollFor } from '#test/support/poll.ts';

const POOL_ID = '0.01btc';
const POOLS = mixPoolsFile([{ id: POOL_ID, denomination: 1_000_000, anonymitySet: 2 }], {
  liquidityInterval: 1,
  minConfirmationsMustMix: 1,
  subscribeDelayMs: 100,
});

/** The `GRANT … TO 'whirlpool_coordinator'…` statements of docs/operations.md. */
function documentedGrants(): string[] {
  const doc = readFileSync(join(process.cwd(), 'docs/operations.md'), 'utf8');
  const grants = doc
    .split('\n')
    .filter((l) => /^GRANT .* TO 'whirlpool_coordinator'@'10\.0\.0\.%';$/.test(l.trim()));
  if (grants.length < 10)
    throw new Error(`docs/operations.md lists only ${grants.length} coordinator grants`);
  return grants;
}

describe('the documented least-privilege coordinator account', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let dir: string;
  let coordinator: CoordinatorProcess | null = null;
  const user = `wpt_coord_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(12).toString('hex');

  beforeAll(async () => {
    [db, btcd, dir] = await Promise.all([
      createTestDatabase('grants'),
      startBtcd(),
      mkdtemp(join(tmpdir(), 'wpt-grants-')),
    ]);
    await runMigrations(db.url);
    const statements = [`CREATE USER '${user}'@'localhost' IDENTIFIED BY '${password}'`];
    statements.push(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'`);
    for (const host of ['localhost', '127.0.0.1']) {
      for (const g of documentedGrants()) {
        statements.push(
          g
            .replace(/;$/, '')
            .replaceAll('`whirlpool`', `\`${db.name}\``)
            .replace(`'whirlpool_coordinator'@'10.0.0.%'`, `'${user}'@'${host}'`),
        );
      }
    }
    await runSql(db.url, `${statements.join(';\n')};`);
    await writeFile(join(dir, 'pools.json'), JSON.stringify(POOLS));
  });
  afterAll(async () => {
    coordinator?.signal('SIGKILL');
    await coordinator?.exit;
    await runSql(db.url, `DROP USER IF EXISTS '${user}'@'localhost', '${user}'@'127.0.0.1'`).catch(
      () => undefined,
    );
    await Promise.all([btcd?.stop(), db?.drop(), dir ? rm(dir, { recursive: true, force: true }) : null]);
  });

  it('runs a coordinator that leases, publishes, answers Tx0s, records a mix and drains', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const dbUrl = new URL(db.url);
    dbUrl.username = user;
    dbUrl.password = password;
    coordinator = spawnCoordinator({
      instanceId: 'grants-a',
      env: {
        WHIRLPOOL_DB_URL: dbUrl.toString(),
        WHIRLPOOL_BITCOIN_RPC_URL: btcd.rpcUrl,
        WHIRLPOOL_NETWORK: 'regtest',
        WHIRLPOOL_POOLS: join(dir, 'pools.json'),
        WHIRLPOOL_SECRET_WALLET_WORDS: Wallet.generateMnemonic(),
        WHIRLPOOL_PORT: String(port),
        WHIRLPOOL_HOST: '127.0.0.1',
        WHIRLPOOL_URL_CLEAR: url,
        WHIRLPOOL_TX0_DELAY_MS: '0',
        WHIRLPOOL_DIRECTORY_PRIVATE_KEY: randomBytes(32).toString('hex'),
        WHIRLPOOL_LOG_LEVEL: 'info',
      },
    });
    const c = coordinator;
    await c.waitFor((l) => l.msg === 'coordinator started', 90_000);
    await c.waitFor((l) => l.msg === 'pool lease acquired', 30_000);

    const instances = (await (await fetch(`${url}/instances`)).json()) as { pools: Record<string, unknown> };
    expect(Object.keys(instances.pools)).toEqual([POOL_ID]);

    // Two clients: fund, Tx0 (fee index), mix (mix, mix_log, mix_output, mix_txid).
    const clients = [0, 1].map(
      () =>
        new WhirlpoolClient({
          serverUrl: url,
          wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' }),
          rpc: btcd.rpc,
          transport: 'websocket',
          reconnectDelayMs: 500,
          reconnectUntilMs: 10_000,
        }),
    );
    await btcd.wallet.fundMany(
      clients.map((cl) => ({ address: cl.wallet.account('deposit').nextKey(0).address, sats: 1_100_000n })),
    );
    await btcd.mine(1);
    const tx0s: Tx0[] = [];
    for (const cl of clients) {
      tx0s.push(
        await cl.tx0({ poolId: POOL_ID, utxos: await cl.utxos('deposit'), feeRate: 2, maxOutputs: 1 }),
      );
    }
    await btcd.mine(1);
    const outcomes = await Promise.all(
      clients.map((cl, i) => cl.mix(cl.premixUtxos(tx0s[i]!)[0]!, { poolId: POOL_ID, maxAttempts: 1 }).done),
    );
    expect(
      outcomes.map((o) => o.status),
      c.output().slice(-3000),
    ).toEqual(['SUCCESS', 'SUCCESS']);

    // SUCCESS is notified without waiting for a slow save (each attempt is bounded, then
    // retried): wait for the saved result before reading the rows and the metrics.
    const total = (text: string, name: string, label: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`) && l.includes(label))
        .reduce((a, l) => a + Number(l.trim().split(/\s+/).pop()), 0);
    const metrics = await pollFor(
      'the mix result saved (a saveMixResult query observed)',
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        return total(text, 'whirlpool_db_query_duration_seconds_count', 'operation="saveMixResult"') >= 1
          ? text
          : null;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    const conn = await connectTestDb(db.url);
    try {
      const [mixes] = await conn.query<RowDataPacket[]>('SELECT mix_status FROM mix');
      expect(mixes.map((r) => r.mix_status)).toEqual(['SUCCESS']);
      const [outputs] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM mix_output');
      expect(Number(outputs[0]!.n)).toBe(2);
    } finally {
      await conn.end();
    }

    // The operational metrics saw the mix through the real transport (docs/operations.md §1).
    expect(total(metrics, 'whirlpool_register_input_total', 'outcome="received"')).toBe(2);
    expect(total(metrics, 'whirlpool_register_input_total', 'outcome="invited"')).toBe(2);
    expect(total(metrics, 'whirlpool_mix_results_total', 'status="SUCCESS"')).toBe(1);
    // one attempt, or more when one outlived its bound on a loaded machine (the rows above: saved once)
    expect(
      total(metrics, 'whirlpool_db_query_duration_seconds_count', 'operation="saveMixResult"'),
    ).toBeGreaterThanOrEqual(1);
    // the two Tx0s (pushed through /rest/tx0/push) and the mix
    expect(
      total(metrics, 'whirlpool_bitcoin_rpc_duration_seconds_count', 'method="sendrawtransaction"'),
    ).toBe(3);

    c.signal('SIGTERM');
    expect(await c.exit).toEqual({ code: 0, signal: null });
    const denied = c.lines.filter((l) => /denied|ER_\w+_DENIED/i.test(JSON.stringify(l)));
    expect(denied.map((l) => JSON.stringify(l).slice(0, 400))).toEqual([]);
    const problems = c.lines.filter((l) => Number(l.level) >= 50);
    expect(problems.map((l) => JSON.stringify(l).slice(0, 400))).toEqual([]);
  });
});
