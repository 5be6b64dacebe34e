/**
 * The mix engine serving several client generations at once (addendum §10),
 * real btcd and MariaDB: one mix of three mustMix inputs — a G0–G4 premix
 * (V0 Tx0, the address as bordereau), a G5/G6 premix of a SPARROW Tx0 (80-byte
 * V1 OP_RETURN, partner 1, random `bordereau64`, `blockHeight` = tip) and a
 * G5/G6 SAMOURAI V1 premix — succeeds and is mined. Then: `blockHeight`
 * outside the spread → `invalid blockHeight` (602) before any other check;
 * `errorCode` on every ErrorResponse; a signed token re-posted with another
 * address → `Bordereau already registered`; a `bordereau64` the signature
 * does not cover → `Invalid unblindedSignedBordereau`; a V1 Tx0 paying the
 * fee to another partner's address → the 0.23.30+ fee-rejection text.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MixEngine } from '#coordinator/mix/mix_engine.ts';
import type { BtcdNode } from '#devnet/btcd.ts';
import { buildP2wpkhSpend } from '#devnet/regtest_wallet.ts';
import { bip47AccountFromSeed } from '#shared/bitcoin/bip47.ts';
import { feeAddressAt } from '#shared/bitcoin/fee_address.ts';
import { z85Encode } from '#shared/codec/z85.ts';
import { feeOpReturnScript, maskFeeOpReturnV1 } from '#shared/protocol/fee_op_return.ts';
import { encodeFeePayload, FEE_PAYLOAD_V1_LENGTH } from '#shared/protocol/fee_payload.ts';
import { serializeOutpoint } from '#shared/protocol/xor_mask.ts';
import {
  type ClientUtxo,
  type MixEnv,
  makeTx0,
  newKey,
  startEngine,
  startMixEnv,
  TestClient,
  testParams,
  testPool,
  until,
} from './mix_harness.ts';

const D = 1_000_000;
const FEE = 50_000;
const V1 = bip47AccountFromSeed(new Uint8Array(64).fill(9), 'regtest');
const PARAMS = testParams({
  testMode: false,
  secretWalletV1NotificationPrivKey: V1.notificationPrivKey,
  partners: [
    { id: 'SAMOURAI', payload: 0 },
    { id: 'SPARROW', payload: 1 },
  ],
  blockHeightMaxSpread: 10,
});
const feeAddress = (x: number, partner = 0) => feeAddressAt(PARAMS.feeAddressSeed, 'regtest', x, partner);
const pool = testPool({ id: 'gen0.01', anonymitySet: 3, mustMixMin: 3, liquidityMin: 0, feeValue: FEE });

/** A G5/G6 Tx0: 80-byte V1 OP_RETURN masked with a random key for the V1 payment code; broadcast. */
async function makeV1Tx0(
  node: BtcdNode,
  spec: { feeIndice: number; partner: number; feeTo: string; premixValue: number },
): Promise<ClientUtxo> {
  const deposit = newKey();
  const total = FEE + spec.premixValue + 3000;
  const funded = await node.wallet.fund(deposit.address, BigInt(total));
  const payload = encodeFeePayload(
    { feeIndice: spec.feeIndice, feePartner: spec.partner },
    FEE_PAYLOAD_V1_LENGTH,
  );
  const data = maskFeeOpReturnV1(
    payload,
    serializeOutpoint(funded.txid, funded.vout),
    V1.notificationPubKey,
    secp256k1.utils.randomSecretKey(),
  );
  const premix = newKey();
  const signed = buildP2wpkhSpend({
    inputs: [{ txid: funded.txid, vout: funded.vout, sats: BigInt(total), privateKey: deposit.privateKey }],
    outputs: [
      { script: feeOpReturnScript(data), sats: 0n },
      { address: spec.feeTo, sats: BigInt(FEE) },
      { address: premix.address, sats: BigInt(spec.premixValue) },
    ],
    fee: 3000n,
  });
  const txid = await node.rpc.sendRawTransaction(signed.hex);
  return { txid, index: 2, value: spec.premixValue, ...premix };
}

let env: MixEnv;
let engine: MixEngine;

beforeAll(async () => {
  env = await startMixEnv('mix_generations');
  engine = startEngine(env, [pool], PARAMS);
});
afterAll(async () => {
  engine?.stop();
  await env?.close();
});

async function firstError(c: TestClient) {
  const m = await c.session.waitFor('ErrorResponse');
  return m.payload;
}

describe('one engine, every generation', () => {
  it('a V0/address-bordereau input and two V1/random-bordereau inputs (SAMOURAI, SPARROW) mix together', async () => {
    const g0 = await makeTx0(env.node, {
      feeIndice: 21,
      fee: { address: feeAddress(21), value: FEE },
      premixValue: D + 300,
      nbPremix: 1,
    });
    const sparrow = await makeV1Tx0(env.node, {
      feeIndice: 22,
      partner: 1,
      feeTo: feeAddress(22, 1),
      premixValue: D + 300,
    });
    const samourai = await makeV1Tx0(env.node, {
      feeIndice: 23,
      partner: 0,
      feeTo: feeAddress(23),
      premixValue: D + 300,
    });
    await env.node.mine(1);
    const tip = await env.node.rpc.getBlockCount();
    const old = new TestClient(engine, pool.id, g0.premixes[0]!);
    const g5 = new TestClient(engine, pool.id, sparrow, { bordereau: 'random' });
    const g6 = new TestClient(engine, pool.id, samourai, { bordereau: 'random' });
    old.register(false);
    g5.register(false, { blockHeight: tip });
    g6.register(false, { blockHeight: tip + 10 });
    await Promise.all(
      [old, g5, g6].map((c) => c.session.waitFor('SuccessMixStatusNotification', 30_000)),
    ).catch((err) => {
      throw new Error(
        `${(err as Error).message}; ${JSON.stringify([old, g5, g6].map((c) => [c.errors, c.registerOutputError, c.signingRefused]))}`,
      );
    });
    for (const c of [old, g5, g6]) {
      expect(c.errors).toEqual([]);
      expect(c.registerOutputError).toBeNull();
    }
    const [rows] = await env.pool.query<import('mysql2/promise').RowDataPacket[]>(
      "SELECT l.txid FROM mix m JOIN mix_log l ON l.mix_id = m.id WHERE m.pool_id = ? AND m.mix_status = 'SUCCESS'",
      [pool.id],
    );
    expect(rows.length).toBe(1);
    await env.node.mine(1);
    expect((await env.node.rpc.getRawTransaction(String(rows[0]!.txid)))?.confirmations).toBe(1);
  });

  it('blockHeight outside the spread: `invalid blockHeight` (602), checked before the UTXO', async () => {
    const tip = await env.node.rpc.getBlockCount();
    // the coordinator's tip is cached (refreshed every 120 s, addendum §6.1): stay clear of the boundary
    for (const blockHeight of [tip + 20, tip - 20]) {
      const c = new TestClient(engine, pool.id, { txid: 'ab'.repeat(32), index: 0, value: D, ...newKey() });
      c.register(false, { blockHeight });
      expect(await firstError(c)).toEqual({ mixId: null, errorCode: 602, message: 'invalid blockHeight' });
    }
    // 0 / absent: not checked → the next check speaks (unknown UTXO, 610)
    const c = new TestClient(engine, pool.id, { txid: 'ab'.repeat(32), index: 0, value: D, ...newKey() });
    c.register(false, { blockHeight: 0 });
    expect(await firstError(c)).toEqual({
      mixId: null,
      errorCode: 610,
      message: `UTXO not found: ${'ab'.repeat(32)}-0`,
    });
  });

  it('a V1 Tx0 paying the SAMOURAI address while its payload names SPARROW is refused', async () => {
    const utxo = await makeV1Tx0(env.node, {
      feeIndice: 31,
      partner: 1,
      feeTo: feeAddress(31, 0),
      premixValue: D + 300,
    });
    await env.node.mine(1);
    const c = new TestClient(engine, pool.id, utxo);
    c.register(false);
    expect(await firstError(c)).toEqual({
      mixId: null,
      errorCode: 610,
      message: `Input rejected (invalid fee for tx0=${utxo.txid}, x=31, scodePayload=no)`,
    });
  });

  it('a token re-posted with another address: `Bordereau already registered`; a bordereau64 the signature does not cover: `Invalid unblindedSignedBordereau`', async () => {
    const tx0s = await Promise.all(
      [41, 42, 43].map((x) =>
        makeTx0(env.node, {
          feeIndice: x,
          fee: { address: feeAddress(x), value: FEE },
          premixValue: D + 300,
          nbPremix: 1,
        }),
      ),
    );
    await env.node.mine(1);
    const errors: string[] = [];
    const reposted: string[] = [];
    const clients = tx0s.map(
      (t, i) =>
        new TestClient(engine, pool.id, t.premixes[0]!, {
          noRegisterOutput: i !== 1,
          bordereau: 'random',
          afterRegisterOutput: async (req) => {
            // the 200 was "lost": a G5+ client posts the same token again with its next address
            try {
              await engine.registerOutput({ ...req, receiveAddress: newKey().address });
              reposted.push('accepted');
            } catch (err) {
              reposted.push((err as Error).message);
            }
          },
        }),
    );
    for (const c of clients) c.register(false);
    const first = clients[0]!;
    const notice = await first.session.waitFor('RegisterOutputMixStatusNotification', 30_000);
    try {
      await engine.registerOutput({
        inputsHash: String(notice.payload.inputsHash),
        unblindedSignedBordereau64: z85Encode(new Uint8Array(256).fill(1)),
        receiveAddress: first.receiveAddress,
        bordereau64: z85Encode(new Uint8Array(30).fill(2)),
      });
    } catch (err) {
      errors.push((err as Error).message);
    }
    expect(errors).toEqual(['Invalid unblindedSignedBordereau']);
    await until(() => reposted.length > 0, 'the re-post');
    expect(reposted).toEqual(['Bordereau already registered']);
    expect(clients[1]!.registerOutputError).toBeNull();
    await until(() => first.session.types().includes('FailMixStatusNotification'), 'the mix to end', 30_000);
  });
});
