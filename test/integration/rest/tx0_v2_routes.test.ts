/**
 * The later generations' REST routes against the real Hono app and a real
 * MariaDB store (addendum §3.4, §3.5, §3.7): `POST /rest/tx0` (64-byte V0
 * payloads, V0 payment code), `POST /rest/tx0/v1` (46-byte payloads, V1
 * payment code, partner payload and per-partner fee address, cascading,
 * 0 % scode, `feeOutputSignature`), `POST /rest/tx0Notify`, `POST
 * /rest/checkOutput` (§9.9 vector, `Output already registered`), and bad
 * input on each: malformed JSON, wrong partner, oversized body — each a clear
 * status and `{"message"}` body, and nothing written (fee counter and
 * `mix_output` checked in the database).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { HDKey } from '@scure/bip32';
import { mnemonicToSeedSync } from '@scure/bip39';
import type { Hono } from 'hono';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveSecretWallet } from '#coordinator/config/secret_wallet.ts';
import { silentLogger } from '#coordinator/log.ts';
import type { PoolConfig } from '#coordinator/mix/types.ts';
import { createRestApp } from '#coordinator/rest/rest_app.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { Tx0AddressStore } from '#coordinator/store/tx0_address_store.ts';
import { feeAddressAt } from '#shared/bitcoin/fee_address.ts';
import type { NetworkName } from '#shared/bitcoin/network.ts';
import { signMessage } from '#shared/bitcoin/signed_message.ts';
import { z85Decode } from '#shared/codec/z85.ts';
import { signingAddress, verifyFeeOutputSignature } from '#shared/protocol/fee_output_signature.ts';
import { parseFeePayload, shortFromScodePayload } from '#shared/protocol/fee_payload.ts';
import { PoolsResponseSchema, Tx0DataResponseV2Schema } from '#shared/protocol/messages.ts';
import type { ScodeConfig } from '#shared/protocol/scode.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';

const NETWORK: NetworkName = 'testnet';
const V0 = deriveSecretWallet(Array(12).fill('all').join(' '), 'whirlpool', NETWORK);
const V1 = deriveSecretWallet(`${'test '.repeat(11)}junk`, 'test', NETWORK);
const SIGNING_KEY = HDKey.fromMasterSeed(
  mnemonicToSeedSync(
    'income wisdom battle label wolf confirm shoulder tumble ecology current news taste',
    'Test@K3y',
  ),
).derive("m/44'/1'/0'/0/0").privateKey!;
const SIGNING_ADDRESS = signingAddress(secp256k1.getPublicKey(SIGNING_KEY, true), NETWORK);

function pool(id: string, denomination: number, feeValue: number, tx0MaxOutputs?: number): PoolConfig {
  return {
    id,
    denomination,
    feeValue,
    feeAccept: [],
    minerFeeMin: 170,
    minerFeeCap: 9500,
    minerFeeMax: 19125,
    minerFeeMix: 510,
    mustMixMin: 2,
    liquidityMin: 1,
    anonymitySet: 5,
    minConfirmations: { mustMix: 0, liquidity: 0 },
    tx0MaxOutputs,
  };
}
const POOLS = [pool('0.01btc', 1_000_000, 42_500), pool('0.001btc', 100_000, 5_000, 25)];
const SCODES: ScodeConfig[] = [
  { code: 'FOO', payload: 1234, feeValuePercent: 0, message: 'free' },
  { code: 'HALF', payload: 77, feeValuePercent: 50, message: 'half' },
];

describe('REST routes of the later generations', () => {
  let db: TestDatabase;
  let dbPool: Pool;
  let app: Hono;

  beforeAll(async () => {
    db = await createTestDatabase('rest_v2');
    await runMigrations(db.url);
    dbPool = createDbPool(db.url);
    const store = new MySqlMixStore(dbPool);
    app = createRestApp({
      pools: POOLS,
      live: { livePools: () => new Map() },
      tx0: {
        network: NETWORK,
        feeAddressSeed: V0.feeAddressSeed,
        feePaymentCode: V0.bip47.paymentCode,
        scodes: SCODES,
        nextFeeIndex: () => store.nextFeeIndex(),
        delayMs: 0,
      },
      registerOutput: async () => undefined,
      health: async () => ({ status: 'OK', error: null }),
      tx0V2: {
        tx0: {
          network: NETWORK,
          feeAddressSeed: V0.feeAddressSeed,
          feePaymentCode: V0.bip47.paymentCode,
          feePaymentCodeV1: V1.bip47.paymentCode,
          partners: [
            { id: 'SAMOURAI', payload: 0 },
            { id: 'SPARROW', payload: 1 },
          ],
          signingKey: SIGNING_KEY,
          scodes: SCODES,
          nextFeeIndex: () => store.nextFeeIndex(),
          delayMs: 0,
          random: () => 0.99,
        },
        push: {
          rpc: {
            sendRawTransaction: async () => {
              throw new Error('not used in this suite');
            },
          },
          addresses: new Tx0AddressStore(dbPool),
          check: {
            network: NETWORK,
            keys: { v0: V0.bip47.notificationPrivKey, v1: V1.bip47.notificationPrivKey },
            scodes: SCODES,
            partners: [{ id: 'SAMOURAI', payload: 0 }],
            feeAddressAt: (i, p) => feeAddressAt(V0.feeAddressSeed, NETWORK, i, p),
          },
        },
      },
      checkOutput: { network: NETWORK, store },
      logger: silentLogger(),
    });
  });
  afterAll(async () => {
    await dbPool?.end();
    await db?.drop();
  });

  async function feeCounter(): Promise<number> {
    const [rows] = await dbPool.query<RowDataPacket[]>("SELECT next_index FROM fee_index WHERE id = 'fee'");
    return Number(rows[0]!.next_index);
  }

  function post(path: string, body: string | object, headers: Record<string, string> = {}) {
    return app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  it('GET /rest/pools carries tx0MaxOutputs (configured, else 70)', async () => {
    const body = PoolsResponseSchema.parse(await (await app.request('/rest/pools')).json());
    expect(body.pools.map((p) => p.tx0MaxOutputs)).toEqual([70, 25]);
  });

  it('POST /rest/tx0 (G3 body): one V0 entry per pool, 64-byte payload, V0 code, signed fee output', async () => {
    const res = await post('/rest/tx0', { scode: null, partnerId: 'SAMOURAI' });
    expect(res.status).toBe(200);
    expect(res.headers.get('protocolVersion')).toBe('0.23');
    const json = await res.json();
    expect(Object.keys(json.tx0Datas[0])).toEqual([
      'poolId',
      'feePaymentCode',
      'feeValue',
      'feeChange',
      'feeDiscountPercent',
      'message',
      'feePayload64',
      'feeAddress',
      'feeOutputSignature',
    ]);
    const { tx0Datas } = Tx0DataResponseV2Schema.parse(json);
    expect(tx0Datas.map((d) => d.poolId)).toEqual(['0.01btc', '0.001btc']);
    for (const d of tx0Datas) {
      expect(d.feePaymentCode).toBe(V0.bip47.paymentCode);
      const bytes = z85Decode(d.feePayload64);
      expect(bytes.length).toBe(64);
      const p = parseFeePayload(bytes);
      expect(p.feePartner).toBe(0);
      expect(p.scodePayload).toBeNull();
      expect(p.feeIndice).toBeGreaterThan(0);
      expect(d.feeAddress).toBe(feeAddressAt(V0.feeAddressSeed, NETWORK, p.feeIndice, 0));
      expect(d).toMatchObject({ feeChange: 0, feeDiscountPercent: 0, message: null });
      expect(
        verifyFeeOutputSignature(d.feeAddress!, d.feeValue, d.feeOutputSignature!, SIGNING_ADDRESS, NETWORK),
      ).toBe(true);
    }
    expect(tx0Datas.map((d) => d.feeValue)).toEqual([42_500, 5_000]);
  });

  it('POST /rest/tx0/v1 (G5 body, SPARROW): 46-byte payload with partner 1, V1 code, partner fee address', async () => {
    const res = await post('/rest/tx0/v1', { scode: null, partnerId: 'SPARROW' });
    expect(res.status).toBe(200);
    const { tx0Datas } = Tx0DataResponseV2Schema.parse(await res.json());
    for (const d of tx0Datas) {
      expect(d.feePaymentCode).toBe(V1.bip47.paymentCode);
      const bytes = z85Decode(d.feePayload64);
      expect(bytes.length).toBe(46);
      const p = parseFeePayload(bytes);
      expect(p.feePartner).toBe(1);
      expect(d.feeAddress).toBe(feeAddressAt(V0.feeAddressSeed, NETWORK, p.feeIndice, 1));
      expect(d.feeAddress).not.toBe(feeAddressAt(V0.feeAddressSeed, NETWORK, p.feeIndice, 0));
    }
  });

  it('absent, empty and "null" partnerId mean SAMOURAI; scode is case-insensitive', async () => {
    for (const body of [{}, { partnerId: '' }, { partnerId: 'null' }]) {
      const res = await post('/rest/tx0/v1', body);
      expect(res.status).toBe(200);
      const { tx0Datas } = Tx0DataResponseV2Schema.parse(await res.json());
      expect(parseFeePayload(z85Decode(tx0Datas[0]!.feePayload64)).feePartner).toBe(0);
    }
    const half = Tx0DataResponseV2Schema.parse(await (await post('/rest/tx0/v1', { scode: 'half' })).json());
    expect(half.tx0Datas[0]).toMatchObject({ feeValue: 21_250, feeDiscountPercent: 50, message: 'half' });
    expect(
      shortFromScodePayload(parseFeePayload(z85Decode(half.tx0Datas[0]!.feePayload64)).scodePayload!),
    ).toBe(77);
  });

  it('0 % scode: no fee, feeChange, index 0, no address or signature', async () => {
    const before = await feeCounter();
    const { tx0Datas } = Tx0DataResponseV2Schema.parse(
      await (await post('/rest/tx0', { scode: 'FOO' })).json(),
    );
    expect(tx0Datas[0]).toMatchObject({
      feeValue: 0,
      feeChange: 21_250, // the 50 % scode's fee (random → the only paying scode)
      feeDiscountPercent: 100,
      message: 'free',
      feeAddress: null,
      feeOutputSignature: null,
    });
    const p = parseFeePayload(z85Decode(tx0Datas[0]!.feePayload64));
    expect(p.feeIndice).toBe(0);
    expect(shortFromScodePayload(p.scodePayload!)).toBe(1234);
    expect(await feeCounter()).toBe(before);
  });

  it('G6 cascading: scode ignored, payload 22222, no fee, message null', async () => {
    const res = await post('/rest/tx0/v1', { scode: 'HALF', partnerId: 'SAMOURAI', cascading: true });
    const { tx0Datas } = Tx0DataResponseV2Schema.parse(await res.json());
    for (const d of tx0Datas) {
      expect(d).toMatchObject({ feeValue: 0, feeDiscountPercent: 100, message: null, feeAddress: null });
      const p = parseFeePayload(z85Decode(d.feePayload64));
      expect(shortFromScodePayload(p.scodePayload!)).toBe(22222);
      expect(p.feeIndice).toBe(0);
    }
    const notCascading = Tx0DataResponseV2Schema.parse(
      await (await post('/rest/tx0/v1', { scode: null, partnerId: 'SAMOURAI', cascading: false })).json(),
    );
    expect(notCascading.tx0Datas[0]!.feeValue).toBe(42_500);
  });

  it('bad input: unknown partner 500, malformed JSON 400, oversized body 413 — and no fee index spent', async () => {
    const before = await feeCounter();
    for (const path of ['/rest/tx0', '/rest/tx0/v1']) {
      const wrong = await post(path, { scode: null, partnerId: 'ashigaruterminal' });
      expect(wrong.status).toBe(500);
      expect(wrong.headers.get('protocolVersion')).toBe('0.23');
      expect(await wrong.json()).toEqual({ message: 'Partner not found: partnerId=ashigaruterminal' });
      const bad = await post(path, '{"scode":');
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ message: 'Invalid request body' });
      const wrongType = await post(path, { cascading: 'yes' });
      expect(wrongType.status).toBe(400);
      const big = await post(path, { scode: 'x'.repeat(10_000) });
      expect(big.status).toBe(413);
      expect(await big.json()).toEqual({ message: 'Request body too large' });
    }
    expect(await feeCounter()).toBe(before);
  });

  it('POST /rest/tx0Notify answers 200 with an empty body, whatever the body', async () => {
    for (const body of [
      { txid: 'ab'.repeat(32) },
      { txid: 'ab'.repeat(32), poolId: '0.01btc' },
      'not json',
    ]) {
      const res = await post('/rest/tx0Notify', body);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('');
    }
    expect((await post('/rest/tx0Notify', 'x'.repeat(10_000))).status).toBe(413);
  });

  describe('POST /rest/checkOutput (addendum §3.7, §9.9)', () => {
    const ADDRESS = 'tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g';
    const SIGNATURE =
      'H6YHl4LVJ8oOpd9bnLLOB7SZMiEtWLe4uohhWn8+5VzbLyDGeURj2ilT0gcOF4tRQpaqmy+45TWT9M/P5iijnxw=';

    it('the vector request succeeds on a fresh address, then `Output already registered`', async () => {
      const ok = await post('/rest/checkOutput', { receiveAddress: ADDRESS, signature: SIGNATURE });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('');
      await dbPool.query('INSERT INTO mix_output (address) VALUES (?)', [ADDRESS]);
      const used = await post('/rest/checkOutput', { receiveAddress: ADDRESS, signature: SIGNATURE });
      expect(used.status).toBe(500);
      expect(await used.json()).toEqual({ message: 'Output already registered' });
    });

    it('accepts any valid signature (not only the deterministic one)', async () => {
      const key = hexToBytes('725f8de3f2f5d6b064660309a398d0c4b193b53df8dc538ffdd4d279c43fa01f');
      const other = signMessage(ADDRESS, key);
      expect(other).toBe(SIGNATURE);
      const res = await post('/rest/checkOutput', { receiveAddress: ADDRESS, signature: other });
      expect(await res.json()).toEqual({ message: 'Output already registered' });
    });

    it('bad input: wrong or missing signature, non-segwit address, malformed JSON, oversized — nothing written', async () => {
      const [before] = await dbPool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM mix_output');
      const cases: Array<[object | string, number, string]> = [
        [{ receiveAddress: ADDRESS, signature: SIGNATURE.replace('H6', 'H7') }, 500, 'Invalid signature'],
        [{ receiveAddress: ADDRESS }, 500, 'Invalid signature'],
        [{ signature: SIGNATURE }, 500, 'Invalid signature'],
        [{}, 500, 'Invalid signature'],
        ['{"receiveAddress"', 400, 'Invalid request body'],
        [{ receiveAddress: 'x'.repeat(5000) }, 413, 'Request body too large'],
      ];
      for (const [body, status, message] of cases) {
        const res = await post('/rest/checkOutput', body);
        expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(status);
        expect(await res.json()).toEqual({ message });
      }
      // a legacy (P2PKH) address signed by its key: the signature is valid, the address is not a receive address
      const key = hexToBytes('725f8de3f2f5d6b064660309a398d0c4b193b53df8dc538ffdd4d279c43fa01f');
      const legacy = signingAddress(secp256k1.getPublicKey(key, true), NETWORK);
      const res = await post('/rest/checkOutput', {
        receiveAddress: legacy,
        signature: signMessage(legacy, key),
      });
      expect(await res.json()).toEqual({ message: 'Invalid receiveAddress' });
      const [after] = await dbPool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM mix_output');
      expect(after[0]!.n).toBe(before[0]!.n);
    });
  });
});
