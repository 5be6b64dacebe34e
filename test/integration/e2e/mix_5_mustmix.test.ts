/**
 * End to end: five wallets each fund a deposit, build a real Tx0 against the
 * real coordinator process (`node coordinator/main.ts` on btcd regtest +
 * MariaDB, Tx0 provenance check on), and mix their five premix outputs
 * together with the reference client — some over SockJS (Java style), some
 * over a raw WebSocket (Android style). The mix transaction is broadcast,
 * mined, pays each client its postmix output, and is recorded in MySQL. Then
 * one postmix output remixes as liquidity with four new must-mix UTXOs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MixOutcome, type MixPhase, type Tx0, WhirlpoolClient } from '#client/api.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { singlePoolFile } from '#devnet/pools_file.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { connectTestDb, createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { type Coordinator, startCoordinator } from './coordinator_process.ts';

const POOL_ID = '0.01btc';
const DENOMINATION = 1_000_000;

const POOLS_FILE = singlePoolFile({ id: POOL_ID, denomination: DENOMINATION, anonymitySet: 5 });

describe('five must-mix UTXOs from real Tx0s mix on the real coordinator', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let coordinator: Coordinator;
  let dir: string;
  let mixed: Array<{ client: WhirlpoolClient; outcome: Extract<MixOutcome, { status: 'SUCCESS' }> }> = [];

  beforeAll(async () => {
    [db, btcd, dir] = await Promise.all([
      createTestDatabase('client e2e'),
      startBtcd(),
      mkdtemp(join(tmpdir(), 'wp-e2e-')),
    ]);
    const poolsPath = join(dir, 'pools.json');
    await writeFile(poolsPath, JSON.stringify(POOLS_FILE));
    coordinator = await startCoordinator({
      ...baseCoordinatorEnv({
        dbUrl: db.url,
        rpcUrl: btcd.rpcUrl,
        poolsFile: poolsPath,
        secretWalletWords: Wallet.generateMnemonic(),
      }),
      WHIRLPOOL_SECRET_WALLET_PASSPHRASE: 'e2e',
      WHIRLPOOL_PORT: '0',
      WHIRLPOOL_TX0_DELAY_MS: '0',
      WHIRLPOOL_INSTANCE_ID: 'client-e2e',
      WHIRLPOOL_CLUSTER_ENABLED: 'false',
      WHIRLPOOL_LOG_LEVEL: 'info',
    });
  });
  afterAll(async () => {
    await coordinator?.stop();
    await btcd?.stop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('mixes, broadcasts, mines and records the mix', async () => {
    const clients = Array.from(
      { length: 5 },
      (_, i) =>
        new WhirlpoolClient({
          serverUrl: coordinator.url,
          wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' }),
          rpc: btcd.rpc,
          transport: i % 2 === 0 ? 'sockjs' : 'websocket',
          wsPath: i === 3 ? '/ws/connect' : undefined,
          reconnectDelayMs: 500,
          reconnectUntilMs: 10_000,
        }),
    );
    const pools = await clients[0]!.listPools();
    expect(pools.map((p) => p.poolId)).toEqual([POOL_ID]);

    // Fund one deposit per wallet, then one Tx0 each (distinct Tx0s: clients refuse prev-tx reuse).
    const deposits = clients.map((c) => c.wallet.account('deposit').nextKey(0).address);
    await btcd.wallet.fundMany(deposits.map((address) => ({ address, sats: 1_100_000n })));
    await btcd.mine(1);
    const tx0s: Tx0[] = [];
    for (const c of clients) {
      const utxos = await c.utxos('deposit');
      expect(utxos).toHaveLength(1);
      tx0s.push(await c.tx0({ poolId: POOL_ID, utxos, feeRate: 2, maxOutputs: 1 }));
    }
    await btcd.mine(1);
    expect(tx0s.every((t) => t.premixOutputs.length === 1)).toBe(true);

    const phases: MixPhase[][] = clients.map(() => []);
    const handles = clients.map((c, i) => {
      const [utxo] = c.premixUtxos(tx0s[i]!);
      const h = c.mix(utxo!, { poolId: POOL_ID, maxAttempts: 1 });
      h.on('phase', (p) => phases[i]!.push(p));
      return h;
    });
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () =>
          reject(
            new Error(
              `mix timed out; phases ${JSON.stringify(phases)}\n${coordinator.output().slice(-4000)}`,
            ),
          ),
        120_000,
      ),
    );
    const outcomes: MixOutcome[] = await Promise.race([Promise.all(handles.map((h) => h.done)), timeout]);

    for (const o of outcomes)
      expect(o, coordinator.output().slice(-4000)).toMatchObject({ status: 'SUCCESS' });
    const ok = outcomes.filter(
      (o): o is Extract<MixOutcome, { status: 'SUCCESS' }> => o.status === 'SUCCESS',
    );
    const mixIds = new Set(ok.map((o) => o.mixId));
    const txids = new Set(ok.map((o) => o.receiveUtxo.txid));
    expect(mixIds.size).toBe(1);
    expect(txids.size).toBe(1);
    expect(phases[0]).toEqual([
      'CONNECTING',
      'CONNECTED',
      'REGISTERING_INPUT',
      'REGISTERED_INPUT',
      'CONFIRMING_INPUT',
      'CONFIRMED_INPUT',
      'REGISTERING_OUTPUT',
      'REGISTERED_OUTPUT',
      'SIGNING',
      'SIGNED',
      'SUCCESS',
    ]);
    mixed = ok.map((outcome, i) => ({ client: clients[i]!, outcome }));
    const [mixTxid] = [...txids];
    const [mixId] = [...mixIds];

    // Broadcast by the coordinator, mined, outputs to each client's postmix address.
    const raw = await btcd.rpc.getRawTransaction(mixTxid!);
    expect(raw).not.toBeNull();
    await btcd.mine(1);
    for (const [i, o] of ok.entries()) {
      const c = clients[i]!;
      expect(c.wallet.keyForAddress(o.receiveUtxo.address)?.account).toBe('postmix');
      const postmix = await c.utxos('postmix');
      expect(postmix).toEqual([
        expect.objectContaining({
          txid: mixTxid,
          vout: o.receiveUtxo.vout,
          value: DENOMINATION,
          confirmations: 1,
        }),
      ]);
      expect(o.liquidity).toBe(false);
    }

    // Recorded in MySQL.
    const conn = await connectTestDb(db.url);
    try {
      const [mixes] = await conn.query<RowDataPacket[]>(
        'SELECT mix_id, mix_status, anonymity_set, nb_must_mix, nb_liquidities, denomination FROM mix',
      );
      expect(mixes).toEqual([
        expect.objectContaining({
          mix_id: mixId,
          mix_status: 'SUCCESS',
          anonymity_set: 5,
          nb_must_mix: 5,
          nb_liquidities: 0,
        }),
      ]);
      const [txidRows] = await conn.query<RowDataPacket[]>('SELECT txid, denomination FROM mix_txid');
      expect(txidRows.map((r) => [r.txid, Number(r.denomination)])).toEqual([[mixTxid, DENOMINATION]]);
      const [outputs] = await conn.query<RowDataPacket[]>('SELECT address FROM mix_output ORDER BY address');
      expect(outputs.map((r) => r.address)).toEqual(ok.map((o) => o.receiveUtxo.address).sort());
    } finally {
      await conn.end();
    }
  });

  it('remixes a postmix output as liquidity (liquidity=true) with four new must-mixes', async () => {
    // The five postmix outputs share one previous tx, so at most one of them fits in a mix
    // (max-inputs-same-hash = 1, and clients refuse prev-tx reuse): remix one with four fresh Tx0s.
    expect(mixed).toHaveLength(5);
    const fresh = Array.from(
      { length: 4 },
      (_, i) =>
        new WhirlpoolClient({
          serverUrl: coordinator.url,
          wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' }),
          rpc: btcd.rpc,
          transport: i % 2 === 0 ? 'websocket' : 'sockjs',
        }),
    );
    await btcd.wallet.fundMany(
      fresh.map((c) => ({ address: c.wallet.account('deposit').nextKey(0).address, sats: 1_100_000n })),
    );
    await btcd.mine(1);
    const tx0s: Tx0[] = [];
    for (const c of fresh) {
      tx0s.push(await c.tx0({ poolId: POOL_ID, utxos: await c.utxos('deposit'), feeRate: 2, maxOutputs: 1 }));
    }
    await btcd.mine(1);

    const { client: remixer, outcome: previous } = mixed[0]!;
    const liquidity = remixer.mix(remixer.mixUtxo(previous.receiveUtxo), { poolId: POOL_ID, maxAttempts: 1 });
    const mustMixes = fresh.map((c, i) =>
      c.mix(c.premixUtxos(tx0s[i]!)[0]!, { poolId: POOL_ID, maxAttempts: 1 }),
    );
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`remix timed out\n${coordinator.output().slice(-4000)}`)), 120_000),
    );
    const outcomes = await Promise.race([
      Promise.all([liquidity.done, ...mustMixes.map((h) => h.done)]),
      timeout,
    ]);
    for (const o of outcomes)
      expect(o, coordinator.output().slice(-3000)).toMatchObject({ status: 'SUCCESS' });
    const [remix, ...others] = outcomes as Array<Extract<MixOutcome, { status: 'SUCCESS' }>>;
    expect(remix).toMatchObject({ liquidity: true, receiveUtxo: { value: DENOMINATION } });
    expect(remix!.receiveUtxo.address).not.toBe(previous.receiveUtxo.address);
    for (const o of others) expect(o).toMatchObject({ liquidity: false, mixId: remix!.mixId });
    expect(remixer.wallet.keyForAddress(remix!.receiveUtxo.address)?.account).toBe('postmix');

    await btcd.mine(1);
    expect(await remixer.utxoSource!.confirmations(remix!.receiveUtxo.txid, remix!.receiveUtxo.vout)).toBe(1);
    const conn = await connectTestDb(db.url);
    try {
      const [rows] = await conn.query<RowDataPacket[]>(
        "SELECT nb_must_mix, nb_liquidities FROM mix WHERE mix_status = 'SUCCESS' ORDER BY id",
      );
      expect(rows.map((r) => [r.nb_must_mix, r.nb_liquidities])).toEqual([
        [5, 0],
        [4, 1],
      ]);
    } finally {
      await conn.end();
    }
  });
});
