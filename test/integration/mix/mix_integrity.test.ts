/**
 * Mix integrity against a hostile participant (issue 12), on real btcd and
 * MariaDB: the double-signature attack (confirm, disconnect in CONFIRM_INPUT,
 * register the same UTXO again, confirm again, then register every output
 * the signatures buy) and its fill-every-output variant, with honest clients
 * 300 ms slower at registerOutput (Tor-like). A signature must die with its
 * input: the mix restarts under a new key, the attacker gets one output, no
 * honest client is blamed. Also: the signature is checked before the
 * address-reuse lookup, and REGISTER_OUTPUT is notified in random order.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Transaction } from '@scure/btc-signer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MixEngine } from '#coordinator/mix/mix_engine.ts';
import { shuffled } from '#coordinator/mix/notify_order.ts';
import { buildP2wpkhSpend } from '#devnet/regtest_wallet.ts';
import { signMessage } from '#shared/bitcoin/signed_message.ts';
import { z85Decode, z85Encode } from '#shared/codec/z85.ts';
import { blindMessage, parseRsaSpki, unblindSignature } from '#shared/crypto/blind_rsa.ts';
import {
  type ClientUtxo,
  fundConfirmedUtxos,
  type MixEnv,
  newKey,
  queryRows,
  scriptHex,
  signMixInput,
  startEngine,
  startMixEnv,
  TestClient,
  TestSession,
  testParams,
  testPool,
  until,
} from './mix_harness.ts';

const D = 1_000_000;
/** How much later than the attacker an honest client POSTs registerOutput (Tor-like). */
const HONEST_DELAY_MS = 300;

let env: MixEnv;

beforeAll(async () => {
  env = await startMixEnv('mix_integrity');
});
afterAll(async () => {
  await env?.close();
});

/** A blind signature the attacker holds: the address it signs and the mix that issued it. */
interface HeldSignature {
  mixId: string;
  address: string;
  unblinded: Uint8Array;
}

/**
 * One UTXO, many sessions: each cycle registers the UTXO on a fresh session,
 * confirms the invitation with a fresh receive address and keeps the
 * unblinded signature; {@link registerAll} POSTs every signature it holds the
 * moment REGISTER_OUTPUT arrives.
 */
class Attacker {
  readonly held: HeldSignature[] = [];
  readonly accepted: string[] = [];
  readonly refused: string[] = [];
  session: TestSession | null = null;
  readonly #engine: MixEngine;
  readonly #poolId: string;
  readonly #utxo: ClientUtxo;

  constructor(engine: MixEngine, poolId: string, utxo: ClientUtxo) {
    this.#engine = engine;
    this.#poolId = poolId;
    this.#utxo = utxo;
  }

  /** Registers the UTXO on a new session and confirms its invitation; resolves once signed. */
  async joinAndConfirm(): Promise<void> {
    const session = new TestSession();
    session.onClose = () => this.#engine.onDisconnect(session);
    this.session = session;
    const headers = new Map([['protocolVersion', '0.23']]);
    this.#engine.onSubscribe(session, '/private/reply', new Map([['poolId', this.#poolId], ...headers]));
    this.#engine.onSend(
      session,
      '/ws/registerInput',
      headers,
      JSON.stringify({
        poolId: this.#poolId,
        utxoHash: this.#utxo.txid,
        utxoIndex: this.#utxo.index,
        signature: signMessage(this.#poolId, this.#utxo.privateKey),
        liquidity: false,
      }),
    );
    const invitation = await session.waitFor('ConfirmInputMixStatusNotification');
    const mixId = String(invitation.payload.mixId);
    const key = parseRsaSpki(z85Decode(String(invitation.payload.publicKey64)));
    const address = newKey().address;
    const { blinded, r } = blindMessage(new TextEncoder().encode(address), key);
    const userHash = bytesToHex(sha256(new TextEncoder().encode(`${mixId}${session.id}`)));
    this.#engine.onSend(
      session,
      '/ws/confirmInput',
      headers,
      JSON.stringify({ mixId, blindedBordereau64: z85Encode(blinded), userHash }),
    );
    const response = await session.waitFor('ConfirmInputResponse');
    this.held.push({
      mixId,
      address,
      unblinded: unblindSignature(z85Decode(String(response.payload.signedBordereau64)), r, key),
    });
  }

  /** Closes the current session (in CONFIRM_INPUT: its input leaves holding a signature). */
  leave(): void {
    this.session?.close();
  }

  /** Signs the attacker's input when the current session gets SIGNING (it wants the mix broadcast). */
  async signWhenAsked(): Promise<void> {
    const session = this.session!;
    const note = await session.waitFor('SigningMixStatusNotification', 30_000);
    const tx = Transaction.fromRaw(z85Decode(String(note.payload.transaction64)), {
      allowUnknownOutputs: true,
    });
    const idx = Array.from({ length: tx.inputsLength }, (_, i) => tx.getInput(i)).findIndex(
      (i) => bytesToHex(i.txid!) === this.#utxo.txid && i.index === this.#utxo.index,
    );
    this.#engine.onSend(
      session,
      '/ws/signing',
      new Map([['protocolVersion', '0.23']]),
      JSON.stringify({ mixId: note.payload.mixId, witnesses64: signMixInput(tx, idx, this.#utxo) }),
    );
  }

  /** On REGISTER_OUTPUT of the current session: every held signature, at once. */
  async registerAll(): Promise<void> {
    const note = await this.session!.waitFor('RegisterOutputMixStatusNotification', 30_000);
    await Promise.all(
      this.held.map(async (h) => {
        try {
          await this.#engine.registerOutput({
            inputsHash: String(note.payload.inputsHash),
            unblindedSignedBordereau64: z85Encode(h.unblinded),
            receiveAddress: h.address,
          });
          this.accepted.push(h.address);
        } catch (err) {
          this.refused.push(`${h.address}: ${(err as Error).message}`);
        }
      }),
    );
  }
}

function honest(engine: MixEngine, poolId: string, utxo: ClientUtxo, signBlindly = false): TestClient {
  return new TestClient(engine, poolId, utxo, {
    signBlindly,
    rejoinOnClose: true,
    beforeRegisterOutput: () => new Promise((resolve) => setTimeout(resolve, HONEST_DELAY_MS)),
  });
}

/** Number of confirmed inputs of the pool's current mix. */
function confirmed(engine: MixEngine, poolId: string): number {
  return engine.snapshot().find((p) => p.poolId === poolId)?.nbConfirmed ?? -1;
}

/** Id of the pool's current mix. */
function currentMixId(engine: MixEngine, poolId: string): string {
  return engine.snapshot().find((p) => p.poolId === poolId)?.mixId ?? '';
}

/** Output scripts (hex) of the pool's successful mix transaction, from the database. */
async function successOutputs(poolId: string): Promise<string[]> {
  const [row] = await until(
    () =>
      queryRows(
        env,
        "SELECT l.raw_tx FROM mix m JOIN mix_log l ON l.mix_id = m.id WHERE m.pool_id = ? AND m.mix_status = 'SUCCESS'",
        [poolId],
      ).then((r) => (r.length > 0 ? r : null)),
    'successful mix row',
  );
  const tx = Transaction.fromRaw(Buffer.from(String(row!.raw_tx), 'hex'), { allowUnknownOutputs: true });
  return Array.from({ length: tx.outputsLength }, (_, i) => bytesToHex(tx.getOutput(i).script!));
}

async function blamesOf(utxos: ClientUtxo[]): Promise<unknown[]> {
  return queryRows(env, 'SELECT identifier, reason FROM blame WHERE identifier IN (?)', [
    utxos.map((u) => u.txid),
  ]);
}

describe('double-signature attack (issue 12)', () => {
  it('confirm, disconnect, re-register, confirm: the first signature dies with the restart; honest clients mix, unblamed', async () => {
    const pool = testPool({ id: 'dsig', anonymitySet: 3 });
    const engine = startEngine(env, [pool], testParams({ registerOutputTimeoutMs: 5000 }));
    try {
      const [mine, h1u, h2u] = await fundConfirmedUtxos(env.node, 3, D + 400);
      const attacker = new Attacker(engine, pool.id, mine!);
      await attacker.joinAndConfirm();
      const firstMix = attacker.held[0]!.mixId;
      attacker.leave();
      await until(() => confirmed(engine, pool.id) === 0, 'attacker input gone');
      await attacker.joinAndConfirm();
      // a new mix, a new key: the first signature belongs to a mix that no longer exists
      expect(attacker.held[1]!.mixId).not.toBe(firstMix);

      const h1 = honest(engine, pool.id, h1u!);
      const h2 = honest(engine, pool.id, h2u!);
      h1.register(false);
      h2.register(false);
      await attacker.registerAll();
      await attacker.signWhenAsked();
      await Promise.all([h1, h2].map((c) => c.session.waitFor('SuccessMixStatusNotification', 30_000)));

      expect(attacker.accepted).toEqual([attacker.held[1]!.address]);
      expect(attacker.refused).toEqual([`${attacker.held[0]!.address}: Invalid unblindedSignedBordereau`]);
      const outputs = await successOutputs(pool.id);
      expect(outputs.sort()).toEqual(
        [h1.receiveAddress, h2.receiveAddress, attacker.held[1]!.address].map(scriptHex).sort(),
      );
      for (const c of [h1, h2]) {
        expect(c.signingRefused).toBeNull();
        expect(c.registerOutputError).toBeNull();
      }
      expect(await blamesOf([mine!, h1u!, h2u!])).toEqual([]);
      const restarted = await queryRows(env, 'SELECT * FROM mix WHERE mix_id = ?', [firstMix]);
      expect(restarted).toHaveLength(1);
      expect(restarted[0]!.mix_status).toBe('FAIL');
      expect(restarted[0]!.fail_reason).toBe('DISCONNECT');
      expect(restarted[0]!.fail_info).toBe(`restart: ${mine!.txid}:${mine!.index}`);
    } finally {
      engine.stop();
    }
  });

  it('fill every output, honest client confirmed first, careless signers: each restart closes its session, it registers again; no output is stolen', async () => {
    const pool = testPool({ id: 'dsigfill', anonymitySet: 3 });
    const engine = startEngine(env, [pool], testParams({ registerOutputTimeoutMs: 5000 }));
    try {
      const [mine, h1u, h2u] = await fundConfirmedUtxos(env.node, 3, D + 400);
      const h1 = honest(engine, pool.id, h1u!, true);
      h1.register(false);
      await h1.session.waitFor('ConfirmInputResponse');
      const attacker = new Attacker(engine, pool.id, mine!);
      for (let cycle = 0; cycle < 2; cycle++) {
        await attacker.joinAndConfirm();
        attacker.leave();
        // a new mix (the restart) where only the honest client — closed, registered again — is confirmed
        const left = attacker.held.at(-1)!.mixId;
        await until(
          () => currentMixId(engine, pool.id) !== left && confirmed(engine, pool.id) === 1,
          'restarted mix with only the honest input confirmed',
        );
        expect(h1.rejoins).toBe(cycle + 1);
      }
      await attacker.joinAndConfirm(); // a third signature: as many as there are outputs
      expect(new Set(attacker.held.map((h) => h.mixId)).size).toBe(3);
      const h2 = honest(engine, pool.id, h2u!, true);
      h2.register(false);
      await attacker.registerAll();
      await attacker.signWhenAsked();
      await Promise.all([h1, h2].map((c) => c.session.waitFor('SuccessMixStatusNotification', 30_000)));

      expect(attacker.accepted).toEqual([attacker.held[2]!.address]);
      expect(attacker.refused).toHaveLength(2);
      const outputs = await successOutputs(pool.id);
      expect(outputs.sort()).toEqual(
        [h1.receiveAddress, h2.receiveAddress, attacker.held[2]!.address].map(scriptHex).sort(),
      );
      expect(await blamesOf([mine!, h1u!, h2u!])).toEqual([]);
      // h1's session was closed at each restart (no FAIL: no client back-off); it registered again and mixed
      expect(h1.rejoins).toBe(2);
      expect(h1.session.types()).not.toContain('FailMixStatusNotification');
      const restarts = await queryRows(
        env,
        "SELECT fail_info FROM mix WHERE pool_id = 'dsigfill' AND mix_status = 'FAIL'",
      );
      expect(restarts.map((r) => r.fail_info)).toEqual([
        `restart: ${mine!.txid}:${mine!.index}`,
        `restart: ${mine!.txid}:${mine!.index}`,
      ]);
    } finally {
      engine.stop();
    }
  });

  it('an input spent while in CONFIRM_INPUT restarts the mix without blame; the others mix', async () => {
    const pool = testPool({ id: 'cispent', anonymitySet: 2 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const [victim, h1u, h2u] = await fundConfirmedUtxos(env.node, 3, D + 400);
      const spender = new Attacker(engine, pool.id, victim!);
      await spender.joinAndConfirm();
      const firstMix = spender.held[0]!.mixId;
      const spend = buildP2wpkhSpend({
        inputs: [
          {
            txid: victim!.txid,
            vout: victim!.index,
            sats: BigInt(victim!.value),
            privateKey: victim!.privateKey,
          },
        ],
        outputs: [{ address: newKey().address, sats: BigInt(D) }],
      });
      await env.node.rpc.sendRawTransaction(spend.hex);
      await env.node.mine(1); // btcd's gettxout ignores mempool spends
      const h1 = honest(engine, pool.id, h1u!);
      h1.register(false); // completes the composition: the readiness check finds the spent input
      await until(async () => {
        const r = await queryRows(env, 'SELECT fail_reason, fail_info FROM mix WHERE mix_id = ?', [firstMix]);
        return r.length === 1 ? r : null;
      }, 'restart row').then((r) => {
        expect(r[0]!.fail_reason).toBe('SPENT');
        expect(r[0]!.fail_info).toBe(`restart: ${victim!.txid}:${victim!.index}`);
      });
      const h2 = honest(engine, pool.id, h2u!);
      h2.register(false);
      await Promise.all([h1, h2].map((c) => c.session.waitFor('SuccessMixStatusNotification', 30_000)));
      expect(await blamesOf([victim!, h1u!, h2u!])).toEqual([]);
    } finally {
      engine.stop();
    }
  });
});

describe('registerOutput checks the signature before the address-reuse lookup', () => {
  it('a used address with an invalid signature gets "Invalid unblindedSignedBordereau", not a reuse answer', async () => {
    const pool = testPool({ id: 'oracle', anonymitySet: 2 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const [used] = await queryRows(env, 'SELECT address FROM mix_output LIMIT 1');
      expect(used).toBeDefined();
      const utxos = await fundConfirmedUtxos(env.node, 2, D + 400);
      const cs = utxos.map((u) => new TestClient(engine, pool.id, u, { noRegisterOutput: true }));
      for (const c of cs) c.register(false);
      const note = await cs[0]!.session.waitFor('RegisterOutputMixStatusNotification');
      const attempt = {
        inputsHash: String(note.payload.inputsHash),
        unblindedSignedBordereau64: z85Encode(new Uint8Array(256).fill(3)),
        receiveAddress: String(used!.address),
      };
      await expect(engine.registerOutput(attempt)).rejects.toThrow('Invalid unblindedSignedBordereau');
      // the same invalid signature for a fresh address: the same answer, nothing to compare
      await expect(engine.registerOutput({ ...attempt, receiveAddress: newKey().address })).rejects.toThrow(
        'Invalid unblindedSignedBordereau',
      );
    } finally {
      engine.stop();
    }
  });

  it('a retried registerOutput (same address) is refused and the first registration still counts', async () => {
    const pool = testPool({ id: 'retry', anonymitySet: 2 });
    const engine = startEngine(env, [pool], testParams());
    try {
      const [au, bu] = await fundConfirmedUtxos(env.node, 2, D + 400);
      const a = new Attacker(engine, pool.id, au!);
      await a.joinAndConfirm();
      const b = new TestClient(engine, pool.id, bu!, {
        // b posts only after a's first POST and its retry were answered
        beforeRegisterOutput: () =>
          until(() => a.refused.length === 1, 'retry answered').then(() => undefined),
      });
      b.register(false);
      await a.registerAll(); // first POST: accepted
      await a.registerAll(); // the same POST again (a retry over a flaky circuit)
      expect(a.accepted).toEqual([a.held[0]!.address]);
      expect(a.refused).toEqual([
        `${a.held[0]!.address}: receiveAddress already registered: ${a.held[0]!.address}`,
      ]);
      // both outputs count: the mix reaches SIGNING (it would wait for a third output otherwise)
      await b.session.waitFor('SigningMixStatusNotification');
    } finally {
      engine.stop();
    }
  });
});

describe('REGISTER_OUTPUT is notified in random order', () => {
  it('follows the injected random source: a permutation of the confirmation order, not that order', async () => {
    const pool = testPool({ id: 'order', anonymitySet: 4 });
    const sequence = [0.1, 0.9, 0.4, 0.7];
    const source = (): (() => number) => {
      let calls = 0;
      return () => sequence[calls++ % sequence.length]!;
    };
    const engine = startEngine(env, [pool], testParams(), { random: source() });
    try {
      const utxos = await fundConfirmedUtxos(env.node, 4, D + 400);
      const cs = utxos.map((u) => new TestClient(engine, pool.id, u, { noRegisterOutput: true }));
      const notified: number[] = [];
      cs.forEach((c, i) => {
        const deliver = c.session.sendPrivate.bind(c.session);
        c.session.sendPrivate = (type, payload) => {
          if (type === 'RegisterOutputMixStatusNotification') notified.push(i);
          deliver(type, payload);
        };
      });
      // confirmation order = index order: each client registers after the previous one is confirmed
      for (const c of cs) {
        c.register(false);
        await c.session.waitFor('ConfirmInputResponse');
      }
      await Promise.all(cs.map((c) => c.session.waitFor('RegisterOutputMixStatusNotification')));
      const confirmationOrder = [0, 1, 2, 3];
      expect([...notified].sort()).toEqual(confirmationOrder);
      expect(notified).toEqual(shuffled(confirmationOrder, source()));
      expect(notified).not.toEqual(confirmationOrder);
    } finally {
      engine.stop();
    }
  });
});
