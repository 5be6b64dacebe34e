/**
 * The mix engine end to end on real parts: btcd regtest (inputs, gettxout,
 * broadcast, mining) and MariaDB (MySqlMixStore: mix results, mix_txid,
 * mix_output, blames, bans). Clients are in-process sessions speaking the
 * engine's STOMP application interface with real protocol payloads.
 *
 * Covered: a successful mix (tx accepted, mined, recorded; outputs exactly the
 * denomination), remix inputs from that mix as liquidities, disconnect in
 * REGISTER_OUTPUT (FAIL + blame), blames → ban → refusal, client that does
 * not sign (blame SIGNING + FAIL), REVEAL_OUTPUT blame phase, spent input after
 * start (FAIL SPENT), reused postmix address, REGISTER_INPUT refusals.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MixEngine } from '#coordinator/mix/mix_engine.ts';
import { buildP2wpkhSpend } from '#devnet/regtest_wallet.ts';
import {
  type ClientUtxo,
  fundConfirmedUtxos,
  type MixEnv,
  newKey,
  queryRows,
  scriptHex,
  startEngine,
  startMixEnv,
  TestClient,
  testParams,
  testPool,
  until,
} from './mix_harness.ts';

const D = 1_000_000;

let env: MixEnv;

async function rows(sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
  return queryRows(env, sql, params);
}

/** Funds `n` premix-sized UTXOs (distinct txids) and confirms them. */
async function premixes(n: number, value = D + 400): Promise<ClientUtxo[]> {
  return fundConfirmedUtxos(env.node, n, value);
}

function clients(engine: MixEngine, poolId: string, utxos: ClientUtxo[]): TestClient[] {
  return utxos.map((u) => new TestClient(engine, poolId, u));
}

beforeAll(async () => {
  env = await startMixEnv('mix_engine');
});

afterAll(async () => {
  await env?.close();
});

describe('successful mix and remix', () => {
  const pool = testPool({ id: 'ok', anonymitySet: 3 });
  let engine: MixEngine;
  let first: TestClient[] = [];
  let mixTxid = '';

  beforeAll(() => {
    engine = startEngine(env, [pool], testParams());
  });
  afterAll(() => engine.stop());

  it('mixes 3 mustMix inputs: tx accepted by btcd, mined, recorded in MySQL, outputs of exactly D', async () => {
    first = clients(engine, pool.id, await premixes(3));
    for (const c of first) c.register(false);
    await Promise.all(first.map((c) => c.session.waitFor('SuccessMixStatusNotification', 30_000)));

    for (const c of first) {
      expect(c.errors).toEqual([]);
      expect(c.registerOutputError).toBeNull();
      const types = c.session.types().filter((t) => t !== 'SubscribePoolResponse');
      expect(types).toEqual([
        'ConfirmInputMixStatusNotification',
        'ConfirmInputResponse',
        'RegisterOutputMixStatusNotification',
        'SigningMixStatusNotification',
        'SuccessMixStatusNotification',
      ]);
      const sub = c.session.received.find((r) => r.type === 'SubscribePoolResponse');
      expect(sub?.payload).toEqual({
        networkId: 'regtest',
        denomination: D,
        mustMixBalanceMin: D + 102,
        mustMixBalanceCap: D + 9500,
        mustMixBalanceMax: D + 10_000,
      });
    }

    const [mix] = await rows('SELECT * FROM mix WHERE pool_id = ?', [pool.id]);
    expect(mix).toBeDefined();
    expect(mix!.mix_status).toBe('SUCCESS');
    expect(Number(mix!.anonymity_set)).toBe(3);
    expect(Number(mix!.nb_must_mix)).toBe(3);
    expect(Number(mix!.amount_out)).toBe(3 * D);
    expect(Number(mix!.fees_amount)).toBe(3 * 400);
    const [log] = await rows('SELECT * FROM mix_log WHERE mix_id = ?', [mix!.id]);
    mixTxid = String(log!.txid);
    expect((await rows('SELECT * FROM mix_txid WHERE txid = ?', [mixTxid]))[0]?.denomination).toBeDefined();

    const inMempool = await env.node.rpc.getRawTransaction(mixTxid);
    expect(inMempool?.txid).toBe(mixTxid);
    await env.node.mine(1);
    const mined = await env.node.rpc.getRawTransaction(mixTxid);
    expect(mined?.confirmations).toBeGreaterThanOrEqual(1);

    for (const c of first) {
      const vout = await until(async () => {
        for (let i = 0; i < 3; i++) {
          const out = await env.node.rpc.getTxOut(mixTxid, i, true);
          if (out && out.scriptPubKeyHex === scriptHex(c.receiveAddress)) return { i, out };
        }
        return null;
      }, 'output of client');
      expect(vout.out.value).toBe(D);
    }
    const outputs = await rows('SELECT address FROM mix_output');
    expect(outputs.map((r) => r.address)).toEqual(expect.arrayContaining(first.map((c) => c.receiveAddress)));
  });

  it('mixes a whitelisted mustMix with a remix (liquidity) input from the previous mix', async () => {
    // remixes of one mix share its txid, and clients refuse two inputs of one tx: one remix per mix
    const remixEngine = startEngine(
      env,
      [testPool({ id: 'remix', anonymitySet: 2, liquidityMin: 1 })],
      testParams({ testMode: false }),
    );
    try {
      const [premix] = await premixes(1, D + 700);
      await env.pool.query('INSERT INTO tx0_whitelist (created, txid) VALUES (NOW(), ?)', [premix!.txid]);
      const owner = first[0]!;
      let remixUtxo: ClientUtxo | null = null;
      for (let i = 0; i < 3; i++) {
        const out = await env.node.rpc.getTxOut(mixTxid, i, true);
        if (out && out.scriptPubKeyHex === scriptHex(owner.receiveAddress)) {
          remixUtxo = { txid: mixTxid, index: i, value: D, ...owner.receiveKey };
        }
      }
      expect(remixUtxo).not.toBeNull();
      // a remix is refused when it claims to be a mustMix
      const liar = new TestClient(remixEngine, 'remix', remixUtxo!);
      liar.register(false);
      const refusal = await liar.session.waitFor('ErrorResponse');
      expect(refusal.payload).toEqual({
        mixId: null,
        errorCode: 610,
        message: 'Input rejected: joined as mustMix but is as a liquidity',
      });
      liar.disconnect();

      const remixer = new TestClient(remixEngine, 'remix', remixUtxo!);
      remixer.register(true);
      await until(() => remixEngine.snapshot()[0]!.nbLiquidityQueued === 1, 'liquidity queued');
      expect(remixer.session.types()).not.toContain('ConfirmInputMixStatusNotification');
      const mustMix = new TestClient(remixEngine, 'remix', premix!);
      mustMix.register(false);
      const all = [mustMix, remixer];
      await Promise.all(all.map((c) => c.session.waitFor('SuccessMixStatusNotification', 30_000)));
      for (const c of all) expect(c.errors).toEqual([]);
      const [mix] = await rows("SELECT * FROM mix WHERE pool_id = 'remix' AND mix_status = 'SUCCESS'");
      expect(Number(mix!.nb_liquidities)).toBe(1);
      expect(Number(mix!.nb_must_mix)).toBe(1);
      const [log] = await rows('SELECT * FROM mix_log WHERE mix_id = ?', [mix!.id]);
      await env.node.mine(1);
      expect((await env.node.rpc.getRawTransaction(String(log!.txid)))?.confirmations).toBeGreaterThanOrEqual(
        1,
      );
    } finally {
      remixEngine.stop();
    }
  });
});

describe('failure paths', () => {
  it('disconnect during REGISTER_OUTPUT: mix fails (DISCONNECT), blame recorded, others get FAIL', async () => {
    const pool = testPool({ id: 'disc', anonymitySet: 3 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const utxos = await premixes(3);
      const [quitter, ...others] = [
        new TestClient(engine, pool.id, utxos[0]!, {
          disconnectOn: 'RegisterOutputMixStatusNotification',
          noRegisterOutput: true,
        }),
        ...clients(engine, pool.id, utxos.slice(1)),
      ];
      for (const c of [quitter!, ...others]) c.register(false);
      await Promise.all(others.map((c) => c.session.waitFor('FailMixStatusNotification')));
      const [mix] = await until(
        () => rows("SELECT * FROM mix WHERE pool_id = 'disc'").then((r) => (r.length ? r : null)),
        'mix row',
      );
      expect(mix!.mix_status).toBe('FAIL');
      expect(mix!.fail_reason).toBe('DISCONNECT');
      expect(mix!.fail_info).toBe(`${utxos[0]!.txid}:${utxos[0]!.index}`);
      const blames = await rows('SELECT * FROM blame WHERE identifier = ?', [utxos[0]!.txid]);
      expect(blames).toHaveLength(1);
      expect(blames[0]!.reason).toBe('DISCONNECT');
      expect(blames[0]!.mix_id).toBe(String(mix!.mix_id));
    } finally {
      engine.stop();
    }
  });

  it('enough blames → ban; the banned Tx0 is refused with the spec message', async () => {
    const pool = testPool({ id: 'ban', anonymitySet: 2 });
    const engine = startEngine(env, [pool], testParams());
    try {
      // three premix outputs of the same Tx0 (blame identifier = its txid)
      const keys = [newKey(), newKey(), newKey()];
      const tx0 = await env.node.wallet.fundMany(
        keys.map((k) => ({ address: k.address, sats: BigInt(D + 400) })),
      );
      await env.node.mine(1);
      const own = (i: number): ClientUtxo => ({
        txid: tx0.txid,
        index: tx0.vouts[i]!,
        value: D + 400,
        ...keys[i]!,
      });
      for (let round = 0; round < 2; round++) {
        const [other] = await premixes(1);
        const quitter = new TestClient(engine, pool.id, own(round), {
          disconnectOn: 'SigningMixStatusNotification',
        });
        const peer = new TestClient(engine, pool.id, other!);
        quitter.register(false);
        peer.register(false);
        await peer.session.waitFor('FailMixStatusNotification');
      }
      const blames = await rows('SELECT * FROM blame WHERE identifier = ?', [tx0.txid]);
      expect(blames.map((b) => b.reason)).toEqual(['DISCONNECT', 'DISCONNECT']);
      expect(await rows('SELECT * FROM ban WHERE identifier = ?', [tx0.txid])).toHaveLength(1);

      const banned = new TestClient(engine, pool.id, own(2));
      banned.register(false);
      const refusal = await banned.session.waitFor('ErrorResponse');
      expect(refusal.payload).toEqual({
        mixId: null,
        errorCode: 612,
        message: 'Banned from service. Contact us.',
      });
    } finally {
      engine.stop();
    }
  });

  it('a client that does not sign is blamed (SIGNING) and the mix FAILs', async () => {
    const pool = testPool({ id: 'nosign', anonymitySet: 3 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const utxos = await premixes(3);
      const lazy = new TestClient(engine, pool.id, utxos[0]!, { noSign: true });
      const others = clients(engine, pool.id, utxos.slice(1));
      for (const c of [lazy, ...others]) c.register(false);
      await Promise.all([lazy, ...others].map((c) => c.session.waitFor('FailMixStatusNotification', 20_000)));
      const [mix] = await rows("SELECT * FROM mix WHERE pool_id = 'nosign'");
      expect(mix!.fail_reason).toBe('FAIL_SIGNING');
      expect(mix!.fail_info).toBe(`${utxos[0]!.txid}:${utxos[0]!.index}`);
      const blames = await rows('SELECT * FROM blame WHERE identifier = ?', [utxos[0]!.txid]);
      expect(blames.map((b) => b.reason)).toEqual(['SIGNING']);
      // the partially signed transaction was kept, not broadcast
      const [log] = await rows('SELECT * FROM mix_log WHERE mix_id = ?', [mix!.id]);
      expect(await env.node.rpc.getRawTransaction(String(log!.txid))).toBeNull();
    } finally {
      engine.stop();
    }
  });

  it('an input that registers no output is blamed after REVEAL_OUTPUT (REGISTER_OUTPUT)', async () => {
    const pool = testPool({ id: 'reveal', anonymitySet: 3 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const utxos = await premixes(3);
      const silent = new TestClient(engine, pool.id, utxos[0]!, { noRegisterOutput: true });
      const others = clients(engine, pool.id, utxos.slice(1));
      for (const c of [silent, ...others]) c.register(false);
      await Promise.all(others.map((c) => c.session.waitFor('FailMixStatusNotification', 20_000)));
      for (const c of others) {
        expect(c.session.types()).toContain('RevealOutputMixStatusNotification');
        expect(c.errors).toEqual([]);
      }
      const [mix] = await rows("SELECT * FROM mix WHERE pool_id = 'reveal'");
      expect(mix!.fail_reason).toBe('FAIL_REGISTER_OUTPUTS');
      expect(mix!.fail_info).toBe(`${utxos[0]!.txid}:${utxos[0]!.index}`);
      const blames = await rows('SELECT * FROM blame WHERE identifier = ?', [utxos[0]!.txid]);
      expect(blames.map((b) => b.reason)).toEqual(['REGISTER_OUTPUT']);
    } finally {
      engine.stop();
    }
  });

  it('an input spent after the start fails the mix (SPENT) with a blame', async () => {
    const pool = testPool({ id: 'spent', anonymitySet: 2 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const utxos = await premixes(2);
      const victim = utxos[0]!;
      const cheater = new TestClient(engine, pool.id, victim, {
        beforeRegisterOutput: async () => {
          const spend = buildP2wpkhSpend({
            inputs: [
              {
                txid: victim.txid,
                vout: victim.index,
                sats: BigInt(victim.value),
                privateKey: victim.privateKey,
              },
            ],
            outputs: [{ address: newKey().address, sats: BigInt(D) }],
          });
          await env.node.rpc.sendRawTransaction(spend.hex);
          await env.node.mine(1); // btcd's gettxout ignores mempool spends (Core's does not)
        },
      });
      const honest = new TestClient(engine, pool.id, utxos[1]!);
      cheater.register(false);
      honest.register(false);
      await honest.session.waitFor('FailMixStatusNotification', 20_000);
      expect(honest.session.types()).not.toContain('SigningMixStatusNotification');
      const [mix] = await rows("SELECT * FROM mix WHERE pool_id = 'spent'");
      expect(mix!.fail_reason).toBe('SPENT');
      expect(mix!.fail_info).toBe(`${victim.txid}:${victim.index}`);
      const blames = await rows('SELECT * FROM blame WHERE identifier = ?', [victim.txid]);
      expect(blames.map((b) => b.reason)).toEqual(['SPENT']);
    } finally {
      engine.stop();
    }
  });

  it('a transaction the node refuses fails the mix with FAIL_BROADCAST and the node error', async () => {
    // two inputs paying 102 sats each: below btcd's minimum relay fee for a 2-in/2-out transaction
    const pool = testPool({ id: 'lowfee', anonymitySet: 2, minerFeeMix: 0 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const utxos = await premixes(2, D + 102);
      const cs = clients(engine, pool.id, utxos);
      for (const c of cs) c.register(false);
      await Promise.all(cs.map((c) => c.session.waitFor('FailMixStatusNotification', 20_000)));
      for (const c of cs) expect(c.session.types()).toContain('SigningMixStatusNotification');
      const [mix] = await rows("SELECT * FROM mix WHERE pool_id = 'lowfee'");
      expect(mix!.fail_reason).toBe('FAIL_BROADCAST');
      expect(String(mix!.fail_info)).toMatch(/sendrawtransaction/);
      expect(Number(mix!.fees_amount)).toBe(204);
      const [log] = await rows('SELECT * FROM mix_log WHERE mix_id = ?', [mix!.id]);
      expect(String(log!.raw_tx).length).toBeGreaterThan(400); // the fully signed transaction is kept
      expect(
        await rows('SELECT * FROM blame WHERE identifier IN (?, ?)', [utxos[0]!.txid, utxos[1]!.txid]),
      ).toEqual([]);
    } finally {
      engine.stop();
    }
  });

  it('refuses a reused postmix address at registerOutput', async () => {
    const pool = testPool({ id: 'reuse', anonymitySet: 2 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const [used] = await rows('SELECT address FROM mix_output LIMIT 1');
      expect(used).toBeDefined();
      const utxos = await premixes(2);
      const reuser = new TestClient(engine, pool.id, utxos[0]!, { receiveAddress: String(used!.address) });
      const other = new TestClient(engine, pool.id, utxos[1]!);
      reuser.register(false);
      other.register(false);
      await until(() => reuser.registerOutputError, 'registerOutput refusal');
      expect(reuser.registerOutputError).toBe(`receiveAddress already registered: ${String(used!.address)}`);
    } finally {
      engine.stop();
    }
  });

  it('refuses a receive address of another network and an invalid bordereau signature', async () => {
    const pool = testPool({ id: 'badout', anonymitySet: 2 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const utxos = await premixes(2);
      const a = new TestClient(engine, pool.id, utxos[0]!, { noRegisterOutput: true });
      const b = new TestClient(engine, pool.id, utxos[1]!, { noRegisterOutput: true });
      a.register(false);
      b.register(false);
      const note = await a.session.waitFor('RegisterOutputMixStatusNotification');
      const inputsHash = String(note.payload.inputsHash);
      expect(engine.findMixByInputsHash(inputsHash)).toEqual({ poolId: 'badout' });
      const { z85Encode } = await import('#shared/codec/z85.ts');
      const sig = z85Encode(new Uint8Array(256).fill(1));
      await expect(
        engine.registerOutput({
          inputsHash,
          unblindedSignedBordereau64: sig,
          receiveAddress: 'tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g',
        }),
      ).rejects.toThrow('Invalid receiveAddress');
      // a malformed address gets the spec's text too (not a schema `Error`)
      await expect(
        engine.registerOutput({
          inputsHash,
          unblindedSignedBordereau64: sig,
          receiveAddress: "tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55kn'; drop",
        }),
      ).rejects.toThrow('Invalid receiveAddress');
      await expect(
        engine.registerOutput({
          inputsHash,
          unblindedSignedBordereau64: sig,
          receiveAddress: newKey().address,
        }),
      ).rejects.toThrow('Invalid unblindedSignedBordereau');
      await expect(
        engine.registerOutput({
          inputsHash: 'ab'.repeat(64),
          unblindedSignedBordereau64: sig,
          receiveAddress: newKey().address,
        }),
      ).rejects.toMatchObject({ name: 'MixInternalError' });
    } finally {
      engine.stop();
    }
  });
});

describe('REGISTER_INPUT refusals (spec §5.1 texts)', () => {
  const pool = testPool({ id: 'refuse', anonymitySet: 5 });
  let engine: MixEngine;
  beforeAll(() => {
    engine = startEngine(env, [pool], testParams({ testMode: false }));
  });
  afterAll(() => engine.stop());

  async function firstError(c: TestClient): Promise<string> {
    const m = await c.session.waitFor('ErrorResponse');
    return String(m.payload.message);
  }

  it('input not from a valid Tx0 nor a mix', async () => {
    const [u] = await premixes(1);
    const c = new TestClient(engine, pool.id, u!);
    c.register(false);
    expect(await firstError(c)).toBe('Input rejected (not a premix or whirlpool input)');
  });

  it('wrong amount (whitelisted tx, so provenance is skipped)', async () => {
    const [u] = await premixes(1, D + 50);
    await env.pool.query('INSERT INTO tx0_whitelist (created, txid) VALUES (NOW(), ?)', [u!.txid]);
    const c = new TestClient(engine, pool.id, u!);
    c.register(false);
    expect(await firstError(c)).toBe(
      `Invalid input balance (expected: ${D + 102}-${D + 10_000}, actual:${D + 50})`,
    );
    const l = new TestClient(engine, pool.id, u!);
    l.register(true);
    expect(await firstError(l)).toBe(`Invalid input balance (expected: ${D}-${D}, actual:${D + 50})`);
  });

  it('same input twice: silently ignored; a second input on one session: refused', async () => {
    const [u, v] = await premixes(2);
    await env.pool.query('INSERT INTO tx0_whitelist (created, txid) VALUES (NOW(), ?), (NOW(), ?)', [
      u!.txid,
      v!.txid,
    ]);
    const first = new TestClient(engine, pool.id, u!);
    first.register(false);
    await first.session.waitFor('ConfirmInputMixStatusNotification');
    const again = new TestClient(engine, pool.id, u!);
    again.register(false);
    await new Promise((r) => setTimeout(r, 1500));
    expect(again.session.types()).toEqual(['SubscribePoolResponse']);
    // the same session registering another UTXO
    first.send('/ws/registerInput', {
      poolId: pool.id,
      utxoHash: v!.txid,
      utxoIndex: v!.index,
      signature: (await import('#shared/bitcoin/signed_message.ts')).signMessage(pool.id, v!.privateKey),
      liquidity: false,
    });
    await until(() => first.errors.length > 0, 'error');
    expect(first.errors).toEqual([`Username already registered another input: ${first.session.id}`]);
  });

  it('syntax, node and signature checks in order', async () => {
    const [u] = await premixes(1);
    const cases: Array<[Record<string, unknown>, string, string | null]> = [
      [{}, 'Version mismatch: server=0.23, client=unknown', null],
      [{}, 'Version mismatch: server=0.23, client=0.22', '0.22'],
      [{ utxoHash: 'healthCheck' }, 'Invalid utxoHash', '0.23'],
      [{ utxoHash: u!.txid.toUpperCase() }, 'Invalid utxoHash', '0.23'],
      [{ utxoIndex: -1 }, 'Invalid utxoIndex', '0.23'],
      [{ utxoHash: 'ee'.repeat(32), utxoIndex: 3 }, `UTXO not found: ${'ee'.repeat(32)}-3`, '0.23'],
      [{ utxoIndex: 99 }, 'Error', '0.23'],
      [
        {
          signature: (await import('#shared/bitcoin/signed_message.ts')).signMessage('other', u!.privateKey),
        },
        'Invalid signature',
        '0.23',
      ],
    ];
    for (const [over, expected, version] of cases) {
      const c = new TestClient(engine, pool.id, u!);
      c.send(
        '/ws/registerInput',
        {
          poolId: pool.id,
          utxoHash: u!.txid,
          utxoIndex: u!.index,
          signature: (await import('#shared/bitcoin/signed_message.ts')).signMessage(
            String(over.poolId ?? pool.id),
            u!.privateKey,
          ),
          liquidity: false,
          ...over,
        },
        version,
      );
      expect(await firstError(c)).toBe(expected);
    }
  });

  it('spent input and unknown pool', async () => {
    const [u] = await premixes(1);
    const spend = buildP2wpkhSpend({
      inputs: [{ txid: u!.txid, vout: u!.index, sats: BigInt(u!.value), privateKey: u!.privateKey }],
      outputs: [{ address: newKey().address, sats: BigInt(D) }],
    });
    await env.node.rpc.sendRawTransaction(spend.hex);
    await env.node.mine(1); // btcd's gettxout ignores mempool spends (Core's does not)
    const c = new TestClient(engine, pool.id, u!);
    c.register(false);
    expect(await firstError(c)).toBe('Input already spent');
    const [w] = await premixes(1);
    const p = new TestClient(engine, 'nope', w!);
    p.register(false);
    expect(await firstError(p)).toBe('Pool not found');
  });
});
