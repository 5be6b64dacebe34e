/**
 * The Tx0 endpoints through a cluster (addendum §3.4, §3.6, §4.11): two
 * in-process instances on one MariaDB and one regtest btcd. A G5/G6 client's
 * Tx0 (data from `POST /rest/tx0/v1` on one instance, 80-byte V1 OP_RETURN)
 * and a G4 client's (data from `POST /rest/tx0` on the other, 64-byte V0
 * OP_RETURN masked with input 0's key) are pushed to the *other* instance,
 * broadcast by the node and mined. Bad input, each with the body the Java
 * client parses and nothing broadcast or written: a Tx0 paying the wrong
 * fee, an address reused from an earlier Tx0, a double spend (node error),
 * garbage tx64, an unknown pool, malformed JSON, an oversized body.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '#coordinator/config/load_config.ts';
import { silentLogger } from '#coordinator/log.ts';
import { type CoordinatorHandle, startCoordinator } from '#coordinator/start_coordinator.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import {
  buildP2wpkhSpend,
  type OutputTarget,
  regtestOutputScript,
  regtestP2wpkhAddress,
} from '#devnet/regtest_wallet.ts';
import { notificationPubKeyFromPaymentCode } from '#shared/bitcoin/bip47.ts';
import { z85Decode, z85Encode } from '#shared/codec/z85.ts';
import { feeOpReturnScript, maskFeeOpReturnV0, maskFeeOpReturnV1 } from '#shared/protocol/fee_op_return.ts';
import { parseFeePayload } from '#shared/protocol/fee_payload.ts';
import {
  PushTxErrorResponseSchema,
  PushTxSuccessResponseSchema,
  type Tx0Data,
  Tx0DataResponseV2Schema,
} from '#shared/protocol/messages.ts';
import { serializeOutpoint } from '#shared/protocol/xor_mask.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';

const V1_WORDS = `${'test '.repeat(11)}junk`;
const POOL = '0.01btc';
const PREMIX = 1_000_300n;

describe('Tx0 endpoints through a two-instance cluster', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  const instances: CoordinatorHandle[] = [];
  const url = (i: number, path: string) => `http://127.0.0.1:${instances[i]!.port}${path}`;

  beforeAll(async () => {
    [db, btcd] = await Promise.all([createTestDatabase('tx0 push'), startBtcd()]);
    for (const id of ['tp-a', 'tp-b']) {
      const env = {
        ...baseCoordinatorEnv({ dbUrl: db.url, rpcUrl: btcd.rpcUrl }),
        WHIRLPOOL_PORT: '0',
        WHIRLPOOL_TX0_POST_DELAY_MS: '0',
        WHIRLPOOL_INSTANCE_ID: id,
        WHIRLPOOL_METRICS: 'false',
        WHIRLPOOL_SECRET_WALLET_V1_WORDS: V1_WORDS,
        WHIRLPOOL_SECRET_WALLET_V1_PASSPHRASE: 'test',
      };
      instances.push(await startCoordinator(loadConfig(env), { logger: silentLogger(), env }));
    }
  }, 120_000);
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop('immediate')));
    await btcd?.stop();
    await db?.drop();
  });

  async function post(i: number, path: string, body: string | object): Promise<Response> {
    return fetch(url(i, path), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  async function tx0Data(i: number, path: '/rest/tx0' | '/rest/tx0/v1'): Promise<Tx0Data> {
    const res = await post(i, path, { scode: null, partnerId: 'SAMOURAI' });
    expect(res.status).toBe(200);
    return Tx0DataResponseV2Schema.parse(await res.json()).tx0Datas.find((d) => d.poolId === POOL)!;
  }

  /** A funded P2WPKH UTXO of a fresh key (the client's deposit). */
  async function deposit(sats: bigint) {
    const privateKey = secp256k1.utils.randomSecretKey();
    const address = regtestP2wpkhAddress(secp256k1.getPublicKey(privateKey, true));
    const funded = await btcd.wallet.fund(address, sats);
    return { txid: funded.txid, vout: funded.vout, sats, privateKey };
  }

  function freshAddress(): string {
    return regtestP2wpkhAddress(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true));
  }

  /** A Tx0 as a client builds it: OP_RETURN (V0 or V1), fee output, premixes, change. */
  function buildTx0(
    input: Awaited<ReturnType<typeof deposit>>,
    data: Tx0Data,
    opts: { version: 0 | 1; feeValue?: number; premixAddresses?: string[] },
  ) {
    const outpoint = serializeOutpoint(input.txid, input.vout);
    const notification = notificationPubKeyFromPaymentCode(data.feePaymentCode);
    const payload = z85Decode(data.feePayload64);
    const opReturn =
      opts.version === 1
        ? maskFeeOpReturnV1(payload, outpoint, notification, secp256k1.utils.randomSecretKey())
        : maskFeeOpReturnV0(payload, outpoint, input.privateKey, notification);
    const premixes = opts.premixAddresses ?? [freshAddress(), freshAddress()];
    const outputs: OutputTarget[] = [
      { script: feeOpReturnScript(opReturn), sats: 0n },
      { address: data.feeAddress!, sats: BigInt(opts.feeValue ?? data.feeValue) },
      ...premixes.map((address) => ({ address, sats: PREMIX })),
    ];
    const tx = buildP2wpkhSpend({
      inputs: [input],
      outputs,
      changeScript: regtestOutputScript(freshAddress()),
    });
    return { ...tx, premixes };
  }

  async function push(i: number, hex: string, poolId = POOL): Promise<Response> {
    return post(i, '/rest/tx0/push', { tx64: z85Encode(Buffer.from(hex, 'hex')), poolId });
  }

  async function pushedRows(): Promise<number> {
    const [rows] = await instances[0]!.db.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM tx0_output_address',
    );
    return Number(rows[0]!.n);
  }

  async function pushError(res: Response) {
    expect(res.status).toBe(500);
    expect(res.headers.get('protocolVersion')).toBe('0.23');
    return PushTxErrorResponseSchema.parse(await res.json());
  }

  it('G5/G6: data from /rest/tx0/v1 on A, V1 Tx0 pushed to B, broadcast and mined', async () => {
    const data = await tx0Data(0, '/rest/tx0/v1');
    expect(z85Decode(data.feePayload64).length).toBe(46);
    const input = await deposit(2_200_000n);
    const tx0 = buildTx0(input, data, { version: 1 });
    const res = await push(1, tx0.hex);
    expect(res.status).toBe(200);
    expect(PushTxSuccessResponseSchema.parse(await res.json())).toEqual({ txid: tx0.txid });
    await btcd.mine(1);
    expect((await btcd.rpc.getRawTransaction(tx0.txid))?.confirmations).toBe(1);
    // the strict-mode outputs (premixes + change, not the OP_RETURN nor the fee) are recorded
    const [rows] = await instances[1]!.db.query<RowDataPacket[]>(
      'SELECT address FROM tx0_output_address WHERE txid = ? ORDER BY address',
      [tx0.txid],
    );
    expect(rows.length).toBe(3);
    for (const p of tx0.premixes) expect(rows.map((r) => r.address)).toContain(p);
  });

  it('G4: data from /rest/tx0 on B, V0 Tx0 (input-0 key) pushed to A', async () => {
    const data = await tx0Data(1, '/rest/tx0');
    expect(z85Decode(data.feePayload64).length).toBe(64);
    expect(parseFeePayload(z85Decode(data.feePayload64)).feeIndice).toBeGreaterThan(0);
    const input = await deposit(2_200_000n);
    const tx0 = buildTx0(input, data, { version: 0 });
    const res = await push(0, tx0.hex);
    expect(PushTxSuccessResponseSchema.parse(await res.json())).toEqual({ txid: tx0.txid });
  });

  it('a Tx0 paying the wrong fee: `Not a TX0`, not broadcast, nothing written', async () => {
    const data = await tx0Data(0, '/rest/tx0/v1');
    const before = await pushedRows();
    const tx0 = buildTx0(await deposit(2_200_000n), data, { version: 1, feeValue: data.feeValue - 1 });
    expect(await pushError(await push(1, tx0.hex))).toEqual({
      message: 'Not a TX0',
      pushTxErrorCode: 'Not a TX0',
      voutsAddressReuse: null,
    });
    expect(await btcd.rpc.getRawTransaction(tx0.txid)).toBeNull();
    expect(await pushedRows()).toBe(before);
  });

  it('a reused premix address: `address-reuse` with its output index, not broadcast, nothing written', async () => {
    const first = buildTx0(await deposit(2_200_000n), await tx0Data(0, '/rest/tx0/v1'), { version: 1 });
    expect((await push(0, first.hex)).status).toBe(200);
    const before = await pushedRows();
    const reused = first.premixes[1]!;
    const second = buildTx0(await deposit(2_200_000n), await tx0Data(1, '/rest/tx0/v1'), {
      version: 1,
      premixAddresses: [freshAddress(), reused],
    });
    // outputs: 0 OP_RETURN, 1 fee, 2 fresh premix, 3 reused premix, 4 change
    expect(await pushError(await push(1, second.hex))).toEqual({
      message: 'address-reuse',
      pushTxErrorCode: 'address-reuse',
      voutsAddressReuse: [3],
    });
    expect(await btcd.rpc.getRawTransaction(second.txid)).toBeNull();
    expect(await pushedRows()).toBe(before);
  });

  it('a double spend: the node’s error text as pushTxErrorCode, voutsAddressReuse null', async () => {
    const input = await deposit(2_200_000n);
    const data = await tx0Data(0, '/rest/tx0/v1');
    const a = buildTx0(input, data, { version: 1 });
    expect((await push(0, a.hex)).status).toBe(200);
    const before = await pushedRows();
    const b = buildTx0(input, await tx0Data(0, '/rest/tx0/v1'), { version: 1 });
    const err = await pushError(await push(1, b.hex));
    expect(err.pushTxErrorCode).not.toBe('Not a TX0');
    expect(err.pushTxErrorCode?.length).toBeGreaterThan(0);
    expect(err.message).toBe(err.pushTxErrorCode);
    expect(err.voutsAddressReuse).toBeNull();
    expect(await pushedRows()).toBe(before);
  });

  it('garbage, unknown pool, malformed JSON, oversized body', async () => {
    const before = await pushedRows();
    expect(await pushError(await post(0, '/rest/tx0/push', { tx64: '~~~', poolId: POOL }))).toMatchObject({
      pushTxErrorCode: 'Not a TX0',
    });
    expect(
      await pushError(await post(0, '/rest/tx0/push', { tx64: z85Encode(new Uint8Array(40)), poolId: POOL })),
    ).toMatchObject({ pushTxErrorCode: 'Not a TX0' });
    expect(await pushError(await post(0, '/rest/tx0/push', { poolId: POOL }))).toMatchObject({
      pushTxErrorCode: 'Not a TX0',
    });
    const unknown = await post(0, '/rest/tx0/push', { tx64: 'abc', poolId: 'nope' });
    expect(unknown.status).toBe(500);
    expect(await unknown.json()).toEqual({ message: 'Pool not found' });
    const malformed = await post(1, '/rest/tx0/push', '{"tx64":');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ message: 'Invalid request body' });
    const big = await post(1, '/rest/tx0/push', { tx64: '0'.repeat(200_000), poolId: POOL });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ message: 'Request body too large' });
    expect(await pushedRows()).toBe(before);
  });
});
