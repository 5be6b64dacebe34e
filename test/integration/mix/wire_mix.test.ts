/**
 * Whole mixes over the wire: the mix engine behind the real HTTP/STOMP
 * transport (coordinator/transport) and REST app (coordinator/rest), on real
 * btcd and MariaDB, with the reference client's mix session (client/mix):
 * some clients through the SockJS websocket transport as the Java client
 * does (`/ws/connect/info`, then `/ws/connect/{server}/{session}/websocket`),
 * one through @stomp/stompjs over a raw WebSocket (`/ws/connect/websocket`,
 * as Android). registerOutput goes over REST. Failure paths run with raw
 * @stomp/stompjs sessions (WireEngine) that misbehave on purpose.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import type { RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MixSession } from '#client/mix/mix_session.ts';
import type { MixOutcome, MixTransport } from '#client/mix/mix_types.ts';
import { CoordinatorRest } from '#client/rest/coordinator_rest.ts';
import type { MixEngine } from '#coordinator/mix/mix_engine.ts';
import { engineLiveSource } from '#coordinator/rest/pools_route.ts';
import { createRestApp } from '#coordinator/rest/rest_app.ts';
import { type HttpServerHandle, startHttpServer } from '#coordinator/transport/http_server.ts';
import { feeAddressAt } from '#shared/bitcoin/fee_address.ts';
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
  WireEngine,
} from './mix_harness.ts';

const D = 1_000_000;
const PARAMS = testParams({ testMode: false, registerOutputTimeoutMs: 10_000, signingTimeoutMs: 10_000 });
const pool = testPool({ id: 'wire', anonymitySet: 3 });

let env: MixEnv;
let engine: MixEngine;
let server: HttpServerHandle;
let serverUrl: string;

beforeAll(async () => {
  env = await startMixEnv('mix_wire');
  engine = startEngine(env, [pool], PARAMS);
  const logger = pino({ level: 'silent' });
  const app = createRestApp({
    pools: [pool],
    live: engineLiveSource(engine),
    tx0: {
      network: 'regtest',
      feeAddressSeed: PARAMS.feeAddressSeed,
      feePaymentCode: 'unused',
      scodes: [],
      nextFeeIndex: () => env.store.nextFeeIndex(),
      delayMs: 0,
    },
    registerOutput: (req) => engine.registerOutput(req),
    health: async () => ({ status: 'OK', error: null }),
    logger,
  });
  server = await startHttpServer({ port: 0, host: '127.0.0.1', app, stomp: engine, logger });
  serverUrl = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server?.close();
  engine?.stop();
  await env?.close();
});

function session(
  utxo: ClientUtxo,
  transport: MixTransport,
): { run: Promise<MixOutcome>; receive: string; receiveKey: ReturnType<typeof newKey> } {
  const receiveKey = newKey();
  const receive = receiveKey.address;
  const s = new MixSession({
    serverUrl,
    network: 'regtest',
    poolId: pool.id,
    denomination: D,
    utxo: {
      txid: utxo.txid,
      vout: utxo.index,
      value: utxo.value,
      privateKey: utxo.privateKey,
      publicKey: secp256k1.getPublicKey(utxo.privateKey, true),
    },
    receiveAddress: () => ({ address: receive, confirm() {}, release() {} }),
    userPreHash: bytesToHex(randomBytes(32)),
    rest: new CoordinatorRest({ serverUrl }),
    transport,
    reconnectDelayMs: 500,
    reconnectUntilMs: 5000,
  });
  return { run: s.run(), receive, receiveKey };
}

/** Outputs of the first mix with their keys, for the remix. */
const postmix: ClientUtxo[] = [];

describe('mix over the wire with the reference client', () => {
  it('3 Tx0 premixes (2 over SockJS, 1 over raw WebSocket) mix; tx mined and recorded', async () => {
    const utxos: ClientUtxo[] = [];
    for (let i = 0; i < 3; i++) {
      const tx0 = await makeTx0(env.node, {
        feeIndice: 20 + i,
        fee: { address: feeAddressAt(PARAMS.feeAddressSeed, 'regtest', 20 + i), value: pool.feeValue },
        premixValue: D + 400,
        nbPremix: 1,
      });
      utxos.push(tx0.premixes[0]!);
    }
    await env.node.mine(1);
    const sessions = [
      session(utxos[0]!, 'sockjs'),
      session(utxos[1]!, 'sockjs'),
      session(utxos[2]!, 'websocket'),
    ];
    const outcomes = await Promise.all(sessions.map((s) => s.run));
    for (const [i, o] of outcomes.entries()) {
      expect(o, JSON.stringify(o)).toMatchObject({ status: 'SUCCESS', liquidity: false });
      if (o.status === 'SUCCESS') {
        expect(o.receiveUtxo.address).toBe(sessions[i]!.receive);
        expect(o.receiveUtxo.value).toBe(D);
        postmix.push({
          txid: o.receiveUtxo.txid,
          index: o.receiveUtxo.vout,
          value: D,
          ...sessions[i]!.receiveKey,
        });
      }
    }
    const txid = outcomes[0]!.status === 'SUCCESS' ? outcomes[0]!.receiveUtxo.txid : '';
    await env.node.mine(1);
    expect((await env.node.rpc.getRawTransaction(txid))?.confirmations).toBe(1);
    const [rows] = await env.pool.query<RowDataPacket[]>(
      "SELECT m.mix_status, l.txid FROM mix m JOIN mix_log l ON l.mix_id = m.id WHERE m.pool_id = 'wire'",
    );
    expect(rows.map((r) => [r.mix_status, r.txid])).toEqual([['SUCCESS', txid]]);
  });

  it('remixes a postmix output of that mix as liquidity (SockJS) with 2 new Tx0 premixes', async () => {
    expect(postmix).toHaveLength(3);
    const utxos: ClientUtxo[] = [];
    for (let i = 0; i < 2; i++) {
      const tx0 = await makeTx0(env.node, {
        feeIndice: 30 + i,
        fee: { address: feeAddressAt(PARAMS.feeAddressSeed, 'regtest', 30 + i), value: pool.feeValue },
        premixValue: D + 400,
        nbPremix: 1,
      });
      utxos.push(tx0.premixes[0]!);
    }
    await env.node.mine(1);
    const sessions = [
      session(postmix[0]!, 'sockjs'),
      session(utxos[0]!, 'websocket'),
      session(utxos[1]!, 'sockjs'),
    ];
    const outcomes = await Promise.all(sessions.map((s) => s.run));
    expect(outcomes.map((o) => o.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    expect(outcomes[0]).toMatchObject({ liquidity: true });
    const txid = outcomes[0]!.status === 'SUCCESS' ? outcomes[0]!.receiveUtxo.txid : '';
    await env.node.mine(1);
    expect((await env.node.rpc.getRawTransaction(txid))?.confirmations).toBe(1);
    const [rows] = await env.pool.query<RowDataPacket[]>(
      'SELECT nb_must_mix, nb_liquidities FROM mix m JOIN mix_log l ON l.mix_id = m.id WHERE l.txid = ?',
      [txid],
    );
    expect(rows.map((r) => [Number(r.nb_must_mix), Number(r.nb_liquidities)])).toEqual([[2, 1]]);
  });
});

describe('failure paths over the wire (raw STOMP clients, REST registerOutput)', () => {
  let wire: WireEngine;
  let tx0: { txid: string; premixes: ClientUtxo[] };

  beforeAll(async () => {
    wire = new WireEngine(serverUrl);
    // one Tx0 whose premixes are blamed twice → its txid is banned (test policy: 2 blames)
    tx0 = await makeTx0(env.node, {
      feeIndice: 40,
      fee: { address: feeAddressAt(PARAMS.feeAddressSeed, 'regtest', 40), value: pool.feeValue },
      premixValue: D + 400,
      nbPremix: 3,
    });
    await env.node.mine(1);
  });
  afterAll(async () => {
    await wire?.close();
  });

  async function honest(n: number): Promise<TestClient[]> {
    const out: TestClient[] = [];
    for (let i = 0; i < n; i++) {
      const t = await makeTx0(env.node, {
        feeIndice: 50 + Math.floor(Math.random() * 1000),
        fee: null,
        premixValue: D + 400,
        nbPremix: 1,
      });
      await env.pool.query('INSERT INTO tx0_whitelist (created, txid) VALUES (NOW(), ?)', [t.txid]);
      out.push(new TestClient(wire, pool.id, t.premixes[0]!));
    }
    await env.node.mine(1);
    return out;
  }

  async function blames(txid: string): Promise<string[]> {
    const [rows] = await env.pool.query<RowDataPacket[]>(
      'SELECT reason FROM blame WHERE identifier = ? ORDER BY id',
      [txid],
    );
    return rows.map((r) => String(r.reason));
  }

  it('a client that disconnects during REGISTER_OUTPUT fails the mix and is blamed', async () => {
    const quitter = new TestClient(wire, pool.id, tx0.premixes[0]!, {
      disconnectOn: 'RegisterOutputMixStatusNotification',
      noRegisterOutput: true,
    });
    const others = await honest(2);
    for (const c of [quitter, ...others]) c.register(false);
    await Promise.all(others.map((c) => c.session.waitFor('FailMixStatusNotification', 20_000)));
    expect(await blames(tx0.txid)).toEqual(['DISCONNECT']);
  });

  it('a client that does not sign is blamed (SIGNING) and the mix FAILs; second blame → ban → refused', async () => {
    const lazy = new TestClient(wire, pool.id, tx0.premixes[1]!, { noSign: true });
    const others = await honest(2);
    for (const c of [lazy, ...others]) c.register(false);
    await Promise.all([lazy, ...others].map((c) => c.session.waitFor('FailMixStatusNotification', 30_000)));
    expect(await blames(tx0.txid)).toEqual(['DISCONNECT', 'SIGNING']);
    const banned = new TestClient(wire, pool.id, tx0.premixes[2]!);
    banned.register(false);
    const refusal = await banned.session.waitFor('ErrorResponse');
    expect(refusal.payload).toEqual({
      mixId: null,
      errorCode: 612,
      message: 'Banned from service. Contact us.',
    });
  });

  it('refuses a reused postmix address over REST', async () => {
    const reused = postmix[1]!.address;
    const [a, b, c] = await honest(3);
    const reuser = new TestClient(wire, pool.id, a!.utxo, { receiveAddress: reused });
    for (const x of [reuser, b!, c!]) x.register(false);
    await until(() => reuser.registerOutputError, 'registerOutput refusal', 20_000);
    expect(reuser.registerOutputError).toBe(`receiveAddress already registered: ${reused}`);
    await b!.session.waitFor('RevealOutputMixStatusNotification', 20_000);
  });

  it('refuses an input that is not from a Tx0 and a wrong amount; ignores the same input registered twice', async () => {
    const plainKey = newKey();
    const plain = await env.node.wallet.fund(plainKey.address, BigInt(D + 400));
    const odd = await makeTx0(env.node, { feeIndice: 1, fee: null, premixValue: D + 20, nbPremix: 2 });
    await env.node.mine(1);
    await env.pool.query('INSERT INTO tx0_whitelist (created, txid) VALUES (NOW(), ?)', [odd.txid]);

    const notTx0 = new TestClient(wire, pool.id, {
      txid: plain.txid,
      index: plain.vout,
      value: D + 400,
      ...plainKey,
    });
    notTx0.register(false);
    expect((await notTx0.session.waitFor('ErrorResponse')).payload.message).toBe(
      'Input rejected (not a premix or whirlpool input)',
    );

    const wrong = new TestClient(wire, pool.id, odd.premixes[0]!);
    wrong.register(false);
    expect((await wrong.session.waitFor('ErrorResponse')).payload.message).toBe(
      `Invalid input balance (expected: ${D + 102}-${D + 10_000}, actual:${D + 20})`,
    );

    const [first] = await honest(1);
    first!.register(false);
    await first!.session.waitFor('ConfirmInputMixStatusNotification', 20_000);
    const twice = new TestClient(wire, pool.id, first!.utxo);
    twice.register(false);
    await new Promise((r) => setTimeout(r, 1500));
    expect(twice.session.types()).toEqual(['SubscribePoolResponse']); // same input again: silently ignored
  });
});
