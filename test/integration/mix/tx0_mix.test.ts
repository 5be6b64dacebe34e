import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MixEngine } from '#coordinator/mix/mix_engine.ts';
import { feeAddressAt } from '#shared/bitcoin/fee_address.ts';
import { scodePayloadFromShort } from '#shared/protocol/fee_payload.ts';
import {
  type MixEnv,
  makeTx0,
  scriptHex,
  startEngine,
  startMixEnv,
  TestClient,
  testParams,
  testPool,
} from './mix_harness.ts';

const D = 1_000_000;
const FEE = 50_000;
const PARAMS = testParams({
  testMode: false,
  scodes: [{ code: 'FREE', payload: 12345, feeValuePercent: 0, expiration: null, message: 'welcome' }],
});
const feeAddress = (x: number) => feeAddressAt(PARAMS.feeAddressSeed, 'regtest', x);

let env: MixEnv;
let engine: MixEngine;
const pool = testPool({
  id: 'tx0pool',
  anonymitySet: 5,
  feeValue: FEE,
  feeAccept: [{ feeValue: 42_000, maxTx0TimeMs: Date.now() + 3_600_000 }],
});

beforeAll(async () => {
  env = await startMixEnv('mix_tx0');
  engine = startEngine(env, [pool], PARAMS);
});

afterAll(async () => {
  engine?.stop();
  await env?.close();
});

async function registerError(c: TestClient, liquidity = false): Promise<string> {
  c.register(liquidity);
  const m = await c.session.waitFor('ErrorResponse');
  return String(m.payload.message);
}

describe('Tx0 provenance (spec §4.8)', () => {
  it('mixes 5 mustMix inputs from 5 real Tx0s; the tx is mined and recorded, outputs are exactly D', async () => {
    const tx0s = [];
    for (let i = 0; i < 5; i++) {
      tx0s.push(
        await makeTx0(env.node, {
          feeIndice: 10 + i,
          fee: { address: feeAddress(10 + i), value: FEE },
          premixValue: D + 300,
          nbPremix: 2,
        }),
      );
    }
    await env.node.mine(1);
    const clients = tx0s.map((t) => new TestClient(engine, pool.id, t.premixes[0]!));
    for (const c of clients) c.register(false);
    await Promise.all(clients.map((c) => c.session.waitFor('SuccessMixStatusNotification', 30_000)));
    for (const c of clients) expect(c.errors).toEqual([]);

    const [pooled] = await env.pool.query<RowDataPacket[]>(
      "SELECT m.*, l.txid FROM mix m JOIN mix_log l ON l.mix_id = m.id WHERE m.pool_id = ? AND m.mix_status = 'SUCCESS'",
      [pool.id],
    );
    const mix = pooled[0]!;
    expect(Number(mix.anonymity_set)).toBe(5);
    expect(Number(mix.fees_amount)).toBe(5 * 300);
    const txid = String(mix.txid);
    await env.node.mine(1);
    const mined = await env.node.rpc.getRawTransaction(txid);
    expect(mined?.confirmations).toBe(1);
    const outs = await Promise.all([0, 1, 2, 3, 4].map((i) => env.node.rpc.getTxOut(txid, i, true)));
    expect(outs.map((o) => o?.value)).toEqual([D, D, D, D, D]);
    expect(new Set(outs.map((o) => o?.scriptPubKeyHex))).toEqual(
      new Set(clients.map((c) => scriptHex(c.receiveAddress))),
    );
    const [txids] = await env.pool.query<RowDataPacket[]>('SELECT * FROM mix_txid WHERE txid = ?', [txid]);
    expect(Number(txids[0]?.denomination)).toBe(D);
  });

  it('refuses a Tx0 paying a fee of the wrong amount, over-payment included', async () => {
    for (const value of [FEE - 1, FEE + 1]) {
      const tx0 = await makeTx0(env.node, {
        feeIndice: 3,
        fee: { address: feeAddress(3), value },
        premixValue: D + 300,
        nbPremix: 1,
      });
      await env.node.mine(1);
      expect(await registerError(new TestClient(engine, pool.id, tx0.premixes[0]!))).toBe(
        `Input rejected (invalid fee for tx0=${tx0.txid}, x=3, scodePayload=no)`,
      );
    }
  });

  it('refuses a Tx0 paying the fee to the address of another index', async () => {
    const tx0 = await makeTx0(env.node, {
      feeIndice: 643,
      fee: { address: feeAddress(642), value: FEE },
      premixValue: D + 300,
      nbPremix: 1,
    });
    await env.node.mine(1);
    expect(await registerError(new TestClient(engine, pool.id, tx0.premixes[0]!))).toBe(
      `Input rejected (invalid fee for tx0=${tx0.txid}, x=643, scodePayload=no)`,
    );
  });

  it('accepts a fee-accept amount and a 0 % scode; refuses an unknown scode without fee', async () => {
    const accepted = await makeTx0(env.node, {
      feeIndice: 5,
      fee: { address: feeAddress(5), value: 42_000 },
      premixValue: D + 300,
      nbPremix: 1,
    });
    const free = await makeTx0(env.node, {
      feeIndice: 0,
      fee: null,
      premixValue: D + 300,
      nbPremix: 1,
      scodePayload: scodePayloadFromShort(12345),
    });
    const unknown = await makeTx0(env.node, {
      feeIndice: 11,
      fee: null,
      premixValue: D + 300,
      nbPremix: 1,
      scodePayload: scodePayloadFromShort(12346),
    });
    await env.node.mine(1);
    for (const t of [accepted, free]) {
      const c = new TestClient(engine, pool.id, t.premixes[0]!);
      c.register(false);
      await c.session.waitFor('ConfirmInputMixStatusNotification');
      expect(c.errors).toEqual([]);
      c.disconnect();
    }
    expect(await registerError(new TestClient(engine, pool.id, unknown.premixes[0]!))).toBe(
      `Input rejected (invalid fee for tx0=${unknown.txid}, x=11, scodePayload=yes)`,
    );
  });

  it('refuses a Tx0 output registered as liquidity', async () => {
    const tx0 = await makeTx0(env.node, {
      feeIndice: 7,
      fee: { address: feeAddress(7), value: FEE },
      premixValue: D,
      nbPremix: 1,
    });
    await env.node.mine(1);
    expect(await registerError(new TestClient(engine, pool.id, tx0.premixes[0]!), true)).toBe(
      'Input rejected: joined as liquidity but is a mustMix',
    );
  });
});
