/**
 * Pool-level behaviour of the engine on real btcd and MariaDB: the snapshot
 * for /rest/pools (§2.5 counters), the liquidity timer and requeue rules of
 * the §8.7 "confirm-input queueing" vectors, mix-enabled=false, and
 * deactivation for the cluster (immediate and drain) without any blame.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClientUtxo,
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

beforeAll(async () => {
  env = await startMixEnv('mix_pool');
});
afterAll(async () => {
  await env?.close();
});

async function utxos(n: number, value = D + 400): Promise<ClientUtxo[]> {
  return fundConfirmedUtxos(env.node, n, value);
}

async function count(sql: string, params: unknown[]): Promise<number> {
  return (await queryRows(env, sql, params)).length;
}

describe('snapshot and queues', () => {
  it('reports confirmed, confirming and queued inputs (§2.5) and the mix status', async () => {
    const pool = testPool({ id: 'snap', anonymitySet: 4 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const [a, b, c, l] = await utxos(4);
      const confirmers = [a!, b!].map((u) => new TestClient(engine, pool.id, u));
      for (const x of confirmers) x.register(false);
      await Promise.all(confirmers.map((x) => x.session.waitFor('ConfirmInputResponse')));
      // an invited input that has not confirmed yet: register without reacting
      const pending = new TestClient(engine, pool.id, c!);
      pending.session.sendPrivate = (type, payload) => {
        pending.session.received.push({ type, payload: payload as Record<string, unknown> });
      };
      pending.register(false);
      await until(() => engine.snapshot()[0]!.nbConfirming === 1, 'confirming input');
      const liquidity = new TestClient(engine, pool.id, { ...l!, value: l!.value });
      liquidity.register(true); // test mode: provenance skipped, but the value is not D
      await liquidity.session.waitFor('ErrorResponse');
      const [snap] = engine.snapshot();
      expect(snap).toMatchObject({
        poolId: 'snap',
        denomination: D,
        mustMixBalanceMin: D + 102,
        mustMixBalanceCap: D + 9500,
        mustMixBalanceMax: D + 10_000,
        minAnonymitySet: 4,
        mixAnonymitySet: 4,
        mixStatus: 'CONFIRM_INPUT',
        nbConfirmed: 2,
        nbConfirming: 1,
        nbRegistered: 1,
        minerFeeAccumulated: 800,
        served: true,
      });
      expect(snap!.elapsedTime).toBeGreaterThan(0);
      pending.disconnect();
      await until(() => engine.snapshot()[0]!.nbConfirming === 0, 'disconnect removes the invited input');
    } finally {
      engine.stop();
    }
  });

  it('§8.7: anonSet 2 with liquidityMin 1 — second mustMix requeued, a liquidity is invited by the timer', async () => {
    const pool = testPool({ id: 'liq', anonymitySet: 2, liquidityMin: 1 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const [m1, m2] = await utxos(2, D + 600);
      const [l1] = await utxos(1, D);
      const a = new TestClient(engine, pool.id, m1!);
      const b = new TestClient(engine, pool.id, m2!);
      a.register(false);
      await a.session.waitFor('ConfirmInputResponse');
      b.register(false);
      await b.session.waitFor('ConfirmInputMixStatusNotification');
      // b confirmed → "Current mix is full for mustMix" → silently requeued
      await until(() => engine.snapshot()[0]!.nbMustMixQueued === 1, 'mustMix requeued');
      expect(b.session.types()).not.toContain('ConfirmInputResponse');
      expect(b.errors).toEqual([]);
      const liq = new TestClient(engine, pool.id, l1!);
      liq.register(true);
      await Promise.all([a, liq].map((c) => c.session.waitFor('SuccessMixStatusNotification', 20_000)));
      // b waits for the next mix: it is invited again when the new mix opens
      await until(
        () => b.session.types().filter((t) => t === 'ConfirmInputMixStatusNotification').length === 2,
        're-invitation in the next mix',
      );
    } finally {
      engine.stop();
    }
  });

  it('mix-enabled=false: a full mix stays in CONFIRM_INPUT', async () => {
    const pool = testPool({ id: 'off', anonymitySet: 2 });
    const engine = startEngine(env, [pool], testParams({ mixEnabled: false }));
    try {
      const clients = (await utxos(2)).map((u) => new TestClient(engine, pool.id, u));
      for (const c of clients) c.register(false);
      await Promise.all(clients.map((c) => c.session.waitFor('ConfirmInputResponse')));
      await new Promise((r) => setTimeout(r, 500));
      expect(engine.snapshot()[0]).toMatchObject({ mixStatus: 'CONFIRM_INPUT', nbConfirmed: 2 });
    } finally {
      engine.stop();
    }
  });
});

describe('deactivation for the cluster (no blame)', () => {
  it('immediate during REGISTER_OUTPUT: sessions closed, nothing persisted, nobody blamed', async () => {
    const pool = testPool({ id: 'cut', anonymitySet: 2 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const us = await utxos(2);
      const clients = us.map((u) => new TestClient(engine, pool.id, u, { noRegisterOutput: true }));
      for (const c of clients) c.register(false);
      await Promise.all(clients.map((c) => c.session.waitFor('RegisterOutputMixStatusNotification')));
      await engine.deactivatePool(pool.id, 'immediate');
      for (const c of clients) expect(c.session.closed).toBe(true);
      expect(engine.servedPools()).toEqual([]);
      expect(engine.snapshot()[0]!.served).toBe(false);
      await new Promise((r) => setTimeout(r, 300));
      expect(await count('SELECT * FROM blame WHERE identifier IN (?, ?)', [us[0]!.txid, us[1]!.txid])).toBe(
        0,
      );
      expect(await count("SELECT * FROM mix WHERE pool_id = 'cut'", [])).toBe(0);
      // a subscription to a pool no longer served
      const late = new TestClient(engine, pool.id, us[0]!);
      late.register(false);
      const m = await late.session.waitFor('ErrorResponse');
      expect(m.payload.message).toBe('Pool not found');
    } finally {
      engine.stop();
    }
  });

  it('drain in CONFIRM_INPUT resolves at once and closes the sessions without blame', async () => {
    const pool = testPool({ id: 'drain1', anonymitySet: 3 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const us = await utxos(2);
      const clients = us.map((u) => new TestClient(engine, pool.id, u));
      for (const c of clients) c.register(false);
      await Promise.all(clients.map((c) => c.session.waitFor('ConfirmInputResponse')));
      await engine.deactivatePool(pool.id, 'drain');
      for (const c of clients) {
        expect(c.session.closed).toBe(true);
        expect(c.session.types()).not.toContain('FailMixStatusNotification');
      }
      expect(engine.servedPools()).toEqual([]);
      await new Promise((r) => setTimeout(r, 300));
      expect(await count('SELECT * FROM blame WHERE identifier IN (?, ?)', [us[0]!.txid, us[1]!.txid])).toBe(
        0,
      );
      expect(await count("SELECT * FROM mix WHERE pool_id = 'drain1'", [])).toBe(0);
    } finally {
      engine.stop();
    }
  });

  it('drain during SIGNING lets the mix succeed, then stops without a next mix', async () => {
    const pool = testPool({ id: 'drain2', anonymitySet: 2 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const us = await utxos(3);
      const clients = us.slice(0, 2).map((u) => new TestClient(engine, pool.id, u));
      for (const c of clients) c.register(false);
      await Promise.all(clients.map((c) => c.session.waitFor('RegisterOutputMixStatusNotification')));
      const drained = engine.deactivatePool(pool.id, 'drain');
      // a newcomer during the drain is queued, not invited
      const newcomer = new TestClient(engine, pool.id, us[2]!);
      newcomer.register(false);
      await drained;
      for (const c of clients) expect(c.session.types()).toContain('SuccessMixStatusNotification');
      expect(newcomer.session.types()).not.toContain('ConfirmInputMixStatusNotification');
      expect(engine.servedPools()).toEqual([]);
      expect(await count("SELECT * FROM mix WHERE pool_id = 'drain2' AND mix_status = 'SUCCESS'", [])).toBe(
        1,
      );
    } finally {
      engine.stop();
    }
  });
});
