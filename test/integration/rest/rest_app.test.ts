/**
 * The REST API against the real Hono app and a real MariaDB store:
 * `/rest/pools` (config + live fields), `/rest/tx0` (fee index from the MySQL
 * counter, fee address verifiable for the returned index, the 1 s delay,
 * scode cases of spec §8.7 and §2.5), `/rest/registerOutput` (empty 200,
 * NotifiableError text, `Error` for everything else, bad JSON, redirect),
 * `/rest/system/health`, and the `protocolVersion` header everywhere.
 */
import type { Hono } from 'hono';
import type { Pool } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveSecretWallet } from '#coordinator/config/secret_wallet.ts';
import { silentLogger } from '#coordinator/log.ts';
import { createMetrics } from '#coordinator/metrics.ts';
import { MixInternalError, NotifiableError } from '#coordinator/mix/errors.ts';
import { isTx0FeePaid } from '#coordinator/mix/tx0_fee_check.ts';
import type { PoolConfig } from '#coordinator/mix/types.ts';
import { HealthMonitor } from '#coordinator/rest/health.ts';
import type { LivePoolStatus } from '#coordinator/rest/pools_route.ts';
import { createRestApp, type RegisterOutputOutcome } from '#coordinator/rest/rest_app.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { feeAddressAt } from '#shared/bitcoin/fee_address.ts';
import { addressToOutputScript } from '#shared/bitcoin/network.ts';
import { z85Decode } from '#shared/codec/z85.ts';
import { shortFromScodePayload } from '#shared/protocol/fee_payload.ts';
import {
  HealthResponseSchema,
  PoolsResponseSchema,
  type RegisterOutputRequest,
  Tx0DataResponseSchema,
} from '#shared/protocol/messages.ts';
import type { ScodeConfig } from '#shared/protocol/scode.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';

/** The reference's test secret wallet (spec §7.1): words `all`×12, passphrase `whirlpool`. */
const WALLET = deriveSecretWallet(Array(12).fill('all').join(' '), 'whirlpool', 'regtest');

const POOLS: PoolConfig[] = [
  {
    id: '0.01btc',
    denomination: 1_000_000,
    feeValue: 50_000,
    feeAccept: [],
    minerFeeMin: 102,
    minerFeeCap: 9500,
    minerFeeMax: 10000,
    minerFeeMix: 510,
    mustMixMin: 1,
    liquidityMin: 1,
    anonymitySet: 5,
    minConfirmations: { mustMix: 0, liquidity: 0 },
  },
  {
    id: '0.001btc',
    denomination: 100_000,
    feeValue: 5_000,
    feeAccept: [],
    minerFeeMin: 170,
    minerFeeCap: 8000,
    minerFeeMax: 9000,
    minerFeeMix: 510,
    mustMixMin: 3,
    liquidityMin: 1,
    anonymitySet: 5,
    minConfirmations: { mustMix: 0, liquidity: 0 },
  },
];

/** Spec §8.7 scodes, plus an expired one and the §2.5 100 %-discount example. */
const SCODES: ScodeConfig[] = [
  { code: 'FOO', payload: 1234, feeValuePercent: 0, message: null },
  { code: 'BAR', payload: 5678, feeValuePercent: 25, message: 'bar message' },
  { code: 'MIN', payload: -32768, feeValuePercent: 50 },
  { code: 'MAX', payload: 32767, feeValuePercent: 80 },
  { code: 'OLD', payload: 42, feeValuePercent: 10, expiration: Date.now() - 1000 },
];

const INPUTS_HASH = 'ab'.repeat(64);
const OUTPUT_REQ = {
  inputsHash: INPUTS_HASH,
  unblindedSignedBordereau64: 'abc123',
  receiveAddress: 'bcrt1qxyz0000000000000000',
};

describe('REST API', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: MySqlMixStore;
  const live = new Map<string, LivePoolStatus>();
  let liveFails = false;
  let registerImpl: (req: RegisterOutputRequest) => Promise<RegisterOutputOutcome> = async () => undefined;
  const registered: RegisterOutputRequest[] = [];
  let healthProblem: string | null = null;

  function makeApp(opts: { delayMs?: number; scodes?: ScodeConfig[]; random?: () => number } = {}): Hono {
    return createRestApp({
      pools: POOLS,
      live: {
        livePools() {
          if (liveFails) throw new Error('db down');
          return live;
        },
      },
      tx0: {
        network: 'regtest',
        feeAddressSeed: WALLET.feeAddressSeed,
        feePaymentCode: WALLET.bip47.paymentCode,
        scodes: opts.scodes ?? SCODES,
        nextFeeIndex: () => store.nextFeeIndex(),
        delayMs: opts.delayMs ?? 0,
        random: opts.random,
      },
      registerOutput: async (req) => {
        registered.push(req);
        return registerImpl(req);
      },
      health: () =>
        new HealthMonitor(
          {
            db: async () => {
              await pool.query('SELECT 1');
            },
            node: async () => healthProblem,
          },
          { cacheMs: 0 },
        ).health(),
      logger: silentLogger(),
      metrics: createMetrics({ defaultMetrics: false }),
    });
  }

  let app: Hono;

  beforeAll(async () => {
    db = await createTestDatabase('rest');
    await runMigrations(db.url);
    pool = createDbPool(db.url);
    store = new MySqlMixStore(pool);
    app = makeApp();
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  async function tx0(query: string, a: Hono = app) {
    const res = await a.request(`/rest/tx0?${query}`);
    expect(res.headers.get('protocolVersion')).toBe('0.23');
    return res;
  }

  async function tx0Ok(query: string, a: Hono = app) {
    const res = await tx0(query, a);
    expect(res.status).toBe(200);
    return Tx0DataResponseSchema.parse(await res.json());
  }

  describe('GET /rest/pools', () => {
    it('lists the configured pools with their live fields', async () => {
      live.set('0.01btc', {
        mixStatus: 'REGISTER_OUTPUT',
        elapsedTime: 48213,
        nbConfirmed: 5,
        nbRegistered: 3,
      });
      const res = await app.request('/rest/pools');
      expect(res.status).toBe(200);
      expect(res.headers.get('protocolVersion')).toBe('0.23');
      const body = PoolsResponseSchema.parse(await res.json());
      expect(body.pools).toEqual([
        {
          poolId: '0.01btc',
          denomination: 1000000,
          feeValue: 50000,
          mustMixBalanceMin: 1000102,
          mustMixBalanceCap: 1009500,
          mustMixBalanceMax: 1010000,
          minAnonymitySet: 5,
          minMustMix: 1,
          tx0MaxOutputs: 70,
          nbRegistered: 3,
          mixAnonymitySet: 5,
          mixStatus: 'REGISTER_OUTPUT',
          elapsedTime: 48213,
          nbConfirmed: 5,
        },
        {
          poolId: '0.001btc',
          denomination: 100000,
          feeValue: 5000,
          mustMixBalanceMin: 100170,
          mustMixBalanceCap: 108000,
          mustMixBalanceMax: 109000,
          minAnonymitySet: 5,
          minMustMix: 3,
          tx0MaxOutputs: 70,
          nbRegistered: 0,
          mixAnonymitySet: 5,
          mixStatus: 'CONFIRM_INPUT',
          elapsedTime: 0,
          nbConfirmed: 0,
        },
      ]);
    });

    it('still answers from the configuration when live data fails', async () => {
      liveFails = true;
      try {
        const res = await app.request('/rest/pools');
        expect(res.status).toBe(200);
        const body = PoolsResponseSchema.parse(await res.json());
        expect(body.pools.map((p) => [p.poolId, p.mixStatus, p.nbRegistered])).toEqual([
          ['0.01btc', 'CONFIRM_INPUT', 0],
          ['0.001btc', 'CONFIRM_INPUT', 0],
        ]);
      } finally {
        liveFails = false;
      }
    });
  });

  describe('GET /rest/tx0', () => {
    it('without scode: full fee, fresh index from the MySQL counter, address verifiable for that index', async () => {
      const a = await tx0Ok('poolId=0.01btc');
      const b = await tx0Ok('poolId=0.01btc&scode=null');
      const c = await tx0Ok('poolId=0.001btc&scode=');
      for (const d of [a, b, c]) {
        expect(d).toMatchObject({
          feePaymentCode: WALLET.bip47.paymentCode,
          feeChange: 0,
          feeDiscountPercent: 0,
          message: null,
          feePayload64: null,
        });
        expect(d.feeAddress).toBe(feeAddressAt(WALLET.feeAddressSeed, 'regtest', d.feeIndice));
        expect(addressToOutputScript(d.feeAddress!, 'regtest')).toHaveLength(22); // P2WPKH
        expect(d.feeAddress).toMatch(/^bcrt1q/);
      }
      expect([a.feeValue, b.feeValue, c.feeValue]).toEqual([50000, 50000, 5000]);
      expect(b.feeIndice).toBe(a.feeIndice + 1);
      expect(c.feeIndice).toBe(a.feeIndice + 2);
      const [rows] = await pool.query("SELECT next_index FROM fee_index WHERE id = 'fee'");
      expect((rows as Array<{ next_index: number }>)[0]!.next_index).toBe(c.feeIndice);
      expect(WALLET.bip47.paymentCode).toMatch(/^PM8T/);
    });

    it('matches scodes case-insensitively and applies the percent (§8.7: MaX/max/MAX → 80 %)', async () => {
      for (const code of ['MaX', 'max', 'MAX']) {
        const d = await tx0Ok(`poolId=0.01btc&scode=${code}`);
        expect(d).toMatchObject({ feeValue: 40000, feeDiscountPercent: 20, feeChange: 0, message: null });
        expect(shortFromScodePayload(z85Decode(d.feePayload64!))).toBe(32767);
        expect(d.feeAddress).toBe(feeAddressAt(WALLET.feeAddressSeed, 'regtest', d.feeIndice));
      }
      const bar = await tx0Ok('poolId=0.01btc&scode=bar');
      expect(bar).toMatchObject({ feeValue: 12500, feeDiscountPercent: 75, message: 'bar message' });
      expect(shortFromScodePayload(z85Decode(bar.feePayload64!))).toBe(5678);
      const min = await tx0Ok('poolId=0.01btc&scode=min');
      expect(min.feeValue).toBe(25000);
      expect(shortFromScodePayload(z85Decode(min.feePayload64!))).toBe(-32768);
    });

    it('treats unknown and expired scodes as no scode', async () => {
      for (const code of ['invalid', 'old']) {
        const d = await tx0Ok(`poolId=0.01btc&scode=${code}`);
        expect(d).toMatchObject({
          feeValue: 50000,
          feeDiscountPercent: 0,
          feePayload64: null,
          message: null,
        });
        expect(d.feeIndice).toBeGreaterThan(0);
      }
    });

    it('a 0 % scode pays no fee: no address, index 0, feeChange of a random paying scode', async () => {
      const seen = new Set<number>();
      for (const r of [0, 0.5, 0.99]) {
        const d = await tx0Ok('poolId=0.01btc&scode=foo', makeApp({ random: () => r }));
        expect(d).toMatchObject({
          feeValue: 0,
          feeDiscountPercent: 100,
          feeAddress: null,
          feeIndice: 0,
          message: null,
        });
        expect(shortFromScodePayload(z85Decode(d.feePayload64!))).toBe(1234);
        seen.add(d.feeChange);
      }
      // paying scodes BAR 25 %, MIN 50 %, MAX 80 %, OLD 10 % (configured, even if expired)
      for (const v of seen) expect([12500, 25000, 40000, 5000]).toContain(v);
      expect(seen.size).toBeGreaterThan(1);
    });

    it('reproduces the §2.5 example: 100 % discount, payload 12345 → feePayload64 fGx, feeChange 12500', async () => {
      const a = makeApp({
        scodes: [
          { code: 'WELCOME', payload: 12345, feeValuePercent: 0, message: 'welcome' },
          { code: 'QUARTER', payload: 1, feeValuePercent: 25 },
        ],
      });
      const d = await tx0Ok('poolId=0.01btc&scode=welcome', a);
      expect(d).toEqual({
        feePaymentCode: WALLET.bip47.paymentCode,
        feeValue: 0,
        feeChange: 12500,
        feeDiscountPercent: 100,
        message: 'welcome',
        feePayload64: 'fGx',
        feeAddress: null,
        feeIndice: 0,
      });
      const none = makeApp({ scodes: [{ code: 'ZERO', payload: 7, feeValuePercent: 0 }] });
      expect((await tx0Ok('poolId=0.01btc&scode=zero', none)).feeChange).toBe(50000);
    });

    it('round trip: a Tx0 built from the answer passes the engine fee rule; a wrong index does not', async () => {
      const feeRule = { feeValue: 50_000, feeAccept: [] };
      const seedAddress = (i: number) => feeAddressAt(WALLET.feeAddressSeed, 'regtest', i);
      for (const query of [
        'poolId=0.01btc&scode=null',
        'poolId=0.01btc&scode=max',
        'poolId=0.01btc&scode=foo',
      ]) {
        const d = await tx0Ok(query);
        const scodePayload =
          d.feePayload64 === null ? null : shortFromScodePayload(z85Decode(d.feePayload64));
        const outputs = [
          { value: 1_000_170, address: 'bcrt1qpremix' },
          ...(d.feeValue > 0
            ? [{ value: d.feeValue, address: d.feeAddress }]
            : [{ value: d.feeChange, address: 'bcrt1qchange' }]),
        ];
        const facts = { outputs, feeIndice: d.feeIndice, scodePayload, tx0TimeMs: 0 };
        expect(isTx0FeePaid(facts, feeRule, SCODES, seedAddress), query).toBe(true);
        if (d.feeValue > 0) {
          expect(isTx0FeePaid({ ...facts, feeIndice: d.feeIndice + 1 }, feeRule, SCODES, seedAddress)).toBe(
            false,
          );
        }
      }
    });

    it('answers 400 with an empty body without poolId, 500 Pool not found for an unknown pool', async () => {
      const missing = await tx0('scode=null');
      expect(missing.status).toBe(400);
      expect(await missing.text()).toBe('');
      const unknown = await tx0('poolId=nope&scode=null');
      expect(unknown.status).toBe(500);
      expect(await unknown.json()).toEqual({ message: 'Pool not found' });
    });

    it('waits the anti brute-force delay before answering', async () => {
      const slow = makeApp({ delayMs: 1000 });
      const t0 = performance.now();
      await tx0Ok('poolId=0.01btc', slow);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(990);
      const t1 = performance.now();
      expect((await tx0('poolId=unknown', slow)).status).toBe(500);
      expect(performance.now() - t1).toBeGreaterThanOrEqual(990);
    });

    it('maps a store failure to 500 Error', async () => {
      const broken = createRestApp({
        pools: POOLS,
        live: { livePools: () => new Map() },
        tx0: {
          network: 'regtest',
          feeAddressSeed: WALLET.feeAddressSeed,
          feePaymentCode: WALLET.bip47.paymentCode,
          scodes: [],
          nextFeeIndex: () => Promise.reject(new Error('connect ECONNREFUSED secret-host')),
          delayMs: 0,
        },
        registerOutput: async () => undefined,
        health: async () => ({ status: 'OK', error: null }),
        logger: silentLogger(),
      });
      const res = await broken.request('/rest/tx0?poolId=0.01btc');
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ message: 'Error' });
    });
  });

  describe('POST /rest/registerOutput', () => {
    async function post(body: string) {
      const res = await app.request('/rest/registerOutput', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      expect(res.headers.get('protocolVersion')).toBe('0.23');
      return res;
    }

    it('answers 200 with an empty body and hands the parsed request (unknown fields dropped) to the engine', async () => {
      registerImpl = async () => undefined;
      registered.length = 0;
      const res = await post(JSON.stringify({ ...OUTPUT_REQ, extra: 'ignored' }));
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('');
      expect(registered).toEqual([OUTPUT_REQ]);
    });

    it('sends a NotifiableError text and hides every other error as Error', async () => {
      registerImpl = async () => {
        throw new NotifiableError('Invalid unblindedSignedBordereau');
      };
      let res = await post(JSON.stringify(OUTPUT_REQ));
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ message: 'Invalid unblindedSignedBordereau' });
      registerImpl = async () => {
        throw new MixInternalError('Mix failed: no current mix for inputsHash x');
      };
      res = await post(JSON.stringify(OUTPUT_REQ));
      expect(await res.json()).toEqual({ message: 'Error' });
      registerImpl = async () => {
        throw new TypeError('boom');
      };
      res = await post(JSON.stringify(OUTPUT_REQ));
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ message: 'Error' });
    });

    it('hands a malformed receiveAddress to the engine, whose check answers with the spec text', async () => {
      registered.length = 0;
      registerImpl = async () => {
        throw new NotifiableError('Invalid receiveAddress');
      };
      const res = await post(JSON.stringify({ ...OUTPUT_REQ, receiveAddress: 'not an address!' }));
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ message: 'Invalid receiveAddress' });
      expect(registered.map((r) => r.receiveAddress)).toEqual(['not an address!']);
    });

    it('answers bad JSON and schema mismatches with 500 Error without calling the engine', async () => {
      registered.length = 0;
      for (const body of ['{not json', '', '[]', JSON.stringify({ inputsHash: 'zz' })]) {
        const res = await post(body);
        expect(res.status).toBe(500);
        expect(await res.json()).toEqual({ message: 'Error' });
      }
      expect(registered).toEqual([]);
    });

    it('redirects with 307 when the mix lives on another instance', async () => {
      registerImpl = async () => ({ redirectTo: 'http://other:8080/rest/registerOutput' });
      const res = await post(JSON.stringify(OUTPUT_REQ));
      expect(res.status).toBe(307);
      expect(res.headers.get('Location')).toBe('http://other:8080/rest/registerOutput');
    });
  });

  describe('GET /rest/system/health', () => {
    it('is OK when the database and node answer, ERROR naming the failed check otherwise (no detail)', async () => {
      let res = await app.request('/rest/system/health');
      expect(res.headers.get('protocolVersion')).toBe('0.23');
      expect(HealthResponseSchema.parse(await res.json())).toEqual({ status: 'OK', error: null });
      healthProblem = 'node behind';
      res = await app.request('/rest/system/health');
      expect(await res.json()).toEqual({ status: 'ERROR', error: 'Unavailable: node' });
      healthProblem = null;
    });
  });

  it('HealthMonitor caches and times out checks', async () => {
    let calls = 0;
    const m = new HealthMonitor(
      {
        slow: () => new Promise(() => undefined),
        counted: async () => {
          calls++;
        },
      },
      { cacheMs: 60_000, timeoutMs: 50 },
    );
    const [a, b] = await Promise.all([m.health(), m.health()]);
    expect(a).toEqual({ status: 'ERROR', error: 'Unavailable: slow' });
    expect(b).toBe(a);
    await m.health();
    expect(calls).toBe(1);
  });
});
