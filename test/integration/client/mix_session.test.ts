/**
 * The client's mix session against a scripted fake coordinator (raw STOMP
 * over `ws` on a real socket): the full happy path with an early
 * REGISTER_OUTPUT (blind signature verified, witness verified), the checks
 * of spec §9.2/§9.3 (first message, protocolVersion on every MESSAGE,
 * ErrorResponse → INPUT_REJECTED, refusing a malicious mix tx), and the
 * reconnection and retry timing of §9.4/§9.5 with shortened delays.
 */
import { constants, generateKeyPairSync, type KeyObject, privateDecrypt } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Transaction } from '@scure/btc-signer';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { type MixOutcome, type MixPhase, WhirlpoolClient } from '#client/api.ts';
import { GENERATIONS } from '#client/generations.ts';
import { MixSession } from '#client/mix/mix_session.ts';
import type { MixUtxo, ReceiveAddress } from '#client/mix/mix_types.ts';
import { CoordinatorRest } from '#client/rest/coordinator_rest.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { sortInputsBip69, sortOutputsBip69 } from '#shared/bitcoin/bip69.ts';
import { addressToOutputScript, p2wpkhAddress } from '#shared/bitcoin/network.ts';
import { verifyMessageForAddress } from '#shared/bitcoin/signed_message.ts';
import { verifyP2wpkhWitness } from '#shared/bitcoin/witness_verify.ts';
import { z85Decode, z85Encode } from '#shared/codec/z85.ts';
import { parseRsaSpki, pssVerify } from '#shared/crypto/blind_rsa.ts';
import { MESSAGE_TYPES, type MessageTypeName } from '#shared/protocol/constants.ts';
import { computeInputsHash } from '#shared/protocol/inputs_hash.ts';
import { StompDecoder } from '#shared/stomp/decoder.ts';
import { encodeFrame, getHeader, type StompFrame } from '#shared/stomp/frame.ts';

const POOL = '0.01btc';
const D = 1_000_000;

/** One fake-coordinator connection. */
class Conn {
  readonly sends: Array<{ destination: string; headers: Map<string, string>; body: unknown }> = [];
  subscription = '';
  readonly ws: WsSocket;
  #waiters: Array<() => void> = [];
  constructor(ws: WsSocket) {
    this.ws = ws;
  }
  message(type: MessageTypeName, payload: unknown, version = '0.23'): void {
    const frame: StompFrame = {
      command: 'MESSAGE',
      headers: [
        ['destination', '/private/reply'],
        ['subscription', this.subscription],
        ['message-id', String(Math.random())],
        ['messageType', MESSAGE_TYPES[type]],
        ['protocolVersion', version],
        ['content-type', 'application/json;charset=UTF-8'],
      ],
      body: new TextEncoder().encode(JSON.stringify(payload)),
    };
    this.ws.send(new TextDecoder().decode(encodeFrame(frame, { contentLength: true })));
  }
  /** Resolves when the client has SENT to `destination` `n` times. */
  async sent(destination: string, n = 1): Promise<Record<string, unknown>> {
    for (;;) {
      const found = this.sends.filter((s) => s.destination === destination);
      if (found.length >= n) return found[n - 1]!.body as Record<string, unknown>;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }
  notify(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

/** A scripted raw-STOMP server at /ws/connect/websocket. */
class FakeCoordinator {
  readonly wss: WebSocketServer;
  readonly conns: Conn[] = [];
  onSubscribe: (c: Conn) => void = (c) => c.message('SubscribePoolResponse', subscribeResponse());
  onSend: (c: Conn, destination: string, body: Record<string, unknown>) => void = () => {};
  #connWaiters: Array<() => void> = [];

  constructor(wss: WebSocketServer) {
    this.wss = wss;
    wss.on('connection', (ws) => {
      const conn = new Conn(ws);
      this.conns.push(conn);
      for (const w of this.#connWaiters.splice(0)) w();
      const decoder = new StompDecoder();
      ws.on('message', (data) => {
        for (const item of decoder.push(new Uint8Array(data as Buffer))) {
          if (item.type !== 'frame') continue;
          const f = item.frame;
          if (f.command === 'CONNECT' || f.command === 'STOMP') {
            ws.send(
              new TextDecoder().decode(
                encodeFrame({
                  command: 'CONNECTED',
                  headers: [
                    ['version', '1.2'],
                    ['heart-beat', '0,0'],
                  ],
                  body: new Uint8Array(),
                }),
              ),
            );
          } else if (f.command === 'SUBSCRIBE') {
            conn.subscription = getHeader(f, 'id') ?? '';
            expect(getHeader(f, 'poolId')).toBe(POOL);
            expect(getHeader(f, 'protocolVersion')).toBe('0.23');
            setTimeout(() => this.onSubscribe(conn), 10);
          } else if (f.command === 'SEND') {
            const destination = getHeader(f, 'destination') ?? '';
            const body = JSON.parse(new TextDecoder().decode(f.body)) as Record<string, unknown>;
            conn.sends.push({ destination, headers: new Map(f.headers), body });
            expect(getHeader(f, 'protocolVersion')).toBe('0.23');
            conn.notify();
            this.onSend(conn, destination, body);
          }
        }
      });
    });
  }

  static async start(): Promise<FakeCoordinator> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws/connect/websocket' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    return new FakeCoordinator(wss);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  async connection(n: number): Promise<Conn> {
    while (this.conns.length < n) await new Promise<void>((r) => this.#connWaiters.push(r));
    return this.conns[n - 1]!;
  }

  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}

function subscribeResponse(over: Record<string, unknown> = {}) {
  return {
    networkId: 'regtest',
    denomination: D,
    mustMixBalanceMin: D + 102,
    mustMixBalanceCap: D + 9500,
    mustMixBalanceMax: D + 10_000,
    ...over,
  };
}

function randomKey() {
  const privateKey = secp256k1.utils.randomSecretKey();
  const publicKey = secp256k1.getPublicKey(privateKey, true);
  return { privateKey, publicKey, address: p2wpkhAddress(publicKey, 'regtest') };
}

function randomTxid(): string {
  return bytesToHex(secp256k1.utils.randomSecretKey());
}

interface Harness {
  utxo: MixUtxo & { address: string };
  receive: { reserved: string[]; confirmed: string[]; released: string[] };
  posted: Array<Record<string, unknown>>;
  session(opts?: Partial<ConstructorParameters<typeof MixSession>[0]>): MixSession;
}

function harness(server: FakeCoordinator, value = D + 300, restStatus = 200, restBody = ''): Harness {
  const k = randomKey();
  const utxo = {
    txid: randomTxid(),
    vout: 1,
    value,
    privateKey: k.privateKey,
    publicKey: k.publicKey,
    address: k.address,
  };
  const receive = { reserved: [] as string[], confirmed: [] as string[], released: [] as string[] };
  const posted: Array<Record<string, unknown>> = [];
  const url = server.url;
  const registerOutputFetch = (async (_url: string, init?: RequestInit) => {
    posted.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
    return new Response(restBody, { status: restStatus });
  }) as typeof fetch;
  return {
    utxo,
    receive,
    posted,
    session: (opts = {}) =>
      new MixSession({
        serverUrl: url,
        network: 'regtest',
        poolId: POOL,
        denomination: D,
        utxo,
        receiveAddress: (): ReceiveAddress => {
          const address = randomKey().address;
          receive.reserved.push(address);
          return {
            address,
            confirm: () => receive.confirmed.push(address),
            release: () => receive.released.push(address),
          };
        },
        userPreHash: 'ab'.repeat(32),
        rest: new CoordinatorRest({ serverUrl: url, registerOutputFetch }),
        transport: 'websocket',
        reconnectDelayMs: 100,
        reconnectUntilMs: 1000,
        // The fake speaks 0.23.18 (signature over the address); later generations are chosen per test.
        generation: GENERATIONS.G0,
        ...opts,
      }),
  };
}

/** RSA key of a fake mix, signing like the coordinator (raw m^d). */
function mixKey(): { spki: Uint8Array; sign(blinded: Uint8Array): Uint8Array; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicExponent: 65537,
  });
  return {
    spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    privateKey,
    sign: (blinded) =>
      new Uint8Array(privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, blinded)),
  };
}

/** An honest mix transaction containing `utxo` and paying `receiveAddress`. */
function mixTx(
  utxo: { txid: string; vout: number },
  receiveAddress: string,
  tamper?: (outs: Array<{ value: bigint; script: Uint8Array }>) => void,
) {
  const inputs = sortInputsBip69([
    { txid: utxo.txid, index: utxo.vout },
    ...Array.from({ length: 4 }, () => ({ txid: randomTxid(), index: 0 })),
  ]);
  const outputs = sortOutputsBip69([
    { value: BigInt(D), script: addressToOutputScript(receiveAddress, 'regtest') },
    ...Array.from({ length: 4 }, () => ({
      value: BigInt(D),
      script: addressToOutputScript(randomKey().address, 'regtest'),
    })),
  ]);
  tamper?.(outputs);
  const tx = new Transaction({ version: 1, lockTime: 0 });
  for (const i of inputs) tx.addInput({ txid: i.txid, index: i.index, sequence: 0xffffffff });
  for (const o of outputs) tx.addOutput({ script: o.script, amount: o.value });
  return { tx, raw: tx.unsignedTx, inputsHash: computeInputsHash(inputs) };
}

/** Every phase of a successful mix, in protocol order. */
const SUCCESSFUL_MIX_PHASES: MixPhase[] = [
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
];

let server: FakeCoordinator;
afterEach(async () => {
  await server?.close();
});

describe('MixSession against a fake coordinator', () => {
  it('runs a full mix with an early REGISTER_OUTPUT, a valid blind signature and a valid witness', async () => {
    server = await FakeCoordinator.start();
    const h = harness(server);
    const key = mixKey();
    const mixId = 'f'.repeat(32);
    let built: ReturnType<typeof mixTx> | null = null;
    server.onSend = (c, dest, body) => {
      if (dest === '/ws/registerInput') {
        expect(verifyMessageForAddress(POOL, String(body.signature), h.utxo.address, 'regtest')).toBe(true);
        expect(body).toMatchObject({ poolId: POOL, utxoHash: h.utxo.txid, utxoIndex: 1, liquidity: false });
        c.message('ConfirmInputMixStatusNotification', {
          status: 'CONFIRM_INPUT',
          mixId,
          publicKey64: z85Encode(key.spki),
        });
      } else if (dest === '/ws/confirmInput') {
        expect(body.userHash).toMatch(/^[0-9a-f]{64}$/);
        const signed = key.sign(z85Decode(String(body.blindedBordereau64)));
        built = mixTx(h.utxo, h.receive.reserved[0]!);
        // REGISTER_OUTPUT before ConfirmInputResponse (reordered, spec §1.5.3)
        c.message('RegisterOutputMixStatusNotification', {
          status: 'REGISTER_OUTPUT',
          mixId,
          inputsHash: built.inputsHash,
        });
        setTimeout(
          () => c.message('ConfirmInputResponse', { mixId, signedBordereau64: z85Encode(signed) }),
          20,
        );
      }
    };
    const phases: MixPhase[] = [];
    const s = h.session();
    s.on('phase', (p) => phases.push(p));
    const outcomeP = s.run();
    const conn = await server.connection(1);
    while (h.posted.length === 0) await new Promise((r) => setTimeout(r, 10));
    const post = h.posted[0]!;
    expect(post.inputsHash).toBe(built!.inputsHash);
    expect(post.receiveAddress).toBe(h.receive.reserved[0]);
    expect(h.receive.confirmed).toEqual([h.receive.reserved[0]]);
    const rsa = parseRsaSpki(key.spki);
    expect(
      pssVerify(
        new TextEncoder().encode(String(post.receiveAddress)),
        z85Decode(String(post.unblindedSignedBordereau64)),
        rsa,
      ),
    ).toBe(true);

    conn.message('SigningMixStatusNotification', {
      status: 'SIGNING',
      mixId,
      transaction64: z85Encode(built!.raw),
    });
    const signing = await conn.sent('/ws/signing');
    const witness = (signing.witnesses64 as string[]).map(z85Decode);
    const idx =
      built!.tx.getInput(0).txid &&
      [...Array(built!.tx.inputsLength).keys()].find(
        (i) => bytesToHex(built!.tx.getInput(i).txid!) === h.utxo.txid,
      )!;
    expect(
      verifyP2wpkhWitness(
        built!.tx,
        idx as number,
        addressToOutputScript(h.utxo.address, 'regtest'),
        BigInt(h.utxo.value),
        witness,
      ),
    ).toBe(true);
    conn.message('SuccessMixStatusNotification', { status: 'SUCCESS', mixId });
    const outcome = await outcomeP;
    expect(outcome).toMatchObject({
      status: 'SUCCESS',
      mixId,
      liquidity: false,
      receiveUtxo: { txid: built!.tx.id, value: D, address: h.receive.reserved[0] },
    });
    expect(phases).toEqual(SUCCESSFUL_MIX_PHASES);
  });

  it('keeps phases in protocol order when SIGNING arrives before the registerOutput HTTP answer', async () => {
    server = await FakeCoordinator.start();
    const h = harness(server);
    const key = mixKey();
    const mixId = 'd'.repeat(32);
    let built: ReturnType<typeof mixTx> | null = null;
    let answer: (() => void) | null = null;
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const posted: Array<Record<string, unknown>> = [];
    // The coordinator has the output (it moved on to SIGNING) but its HTTP answer is still on the way.
    const slowFetch = (async (_url: string, init?: RequestInit) => {
      posted.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
      await answered;
      return new Response('', { status: 200 });
    }) as typeof fetch;
    server.onSend = (c, dest, body) => {
      if (dest === '/ws/registerInput') {
        c.message('ConfirmInputMixStatusNotification', {
          status: 'CONFIRM_INPUT',
          mixId,
          publicKey64: z85Encode(key.spki),
        });
      } else if (dest === '/ws/confirmInput') {
        const signed = key.sign(z85Decode(String(body.blindedBordereau64)));
        built = mixTx(h.utxo, h.receive.reserved[0]!);
        c.message('ConfirmInputResponse', { mixId, signedBordereau64: z85Encode(signed) });
        c.message('RegisterOutputMixStatusNotification', {
          status: 'REGISTER_OUTPUT',
          mixId,
          inputsHash: built.inputsHash,
        });
      }
    };
    const phases: MixPhase[] = [];
    const s = h.session({
      rest: new CoordinatorRest({ serverUrl: server.url, registerOutputFetch: slowFetch }),
    });
    s.on('phase', (p) => phases.push(p));
    const outcomeP = s.run();
    const conn = await server.connection(1);
    while (posted.length === 0) await new Promise((r) => setTimeout(r, 10));
    conn.message('SigningMixStatusNotification', {
      status: 'SIGNING',
      mixId,
      transaction64: z85Encode(built!.raw),
    });
    await conn.sent('/ws/signing');
    answer!();
    await new Promise((r) => setTimeout(r, 50));
    conn.message('SuccessMixStatusNotification', { status: 'SUCCESS', mixId });
    expect(await outcomeP).toMatchObject({ status: 'SUCCESS', mixId });
    expect(phases).toEqual(SUCCESSFUL_MIX_PHASES);
  });

  it('reveals its receive address on REVEAL_OUTPUT, then ends MIX_FAILED on FAIL without signing', async () => {
    server = await FakeCoordinator.start();
    const h = harness(server);
    const key = mixKey();
    const mixId = 'c'.repeat(32);
    server.onSend = (c, dest, body) => {
      if (dest === '/ws/registerInput') {
        c.message('ConfirmInputMixStatusNotification', {
          status: 'CONFIRM_INPUT',
          mixId,
          publicKey64: z85Encode(key.spki),
        });
      } else if (dest === '/ws/confirmInput') {
        const signed = key.sign(z85Decode(String(body.blindedBordereau64)));
        c.message('ConfirmInputResponse', { mixId, signedBordereau64: z85Encode(signed) });
        c.message('RegisterOutputMixStatusNotification', {
          status: 'REGISTER_OUTPUT',
          mixId,
          inputsHash: mixTx(h.utxo, h.receive.reserved[0]!).inputsHash,
        });
      }
    };
    const phases: MixPhase[] = [];
    const s = h.session();
    s.on('phase', (p) => phases.push(p));
    const outcomeP = s.run();
    const conn = await server.connection(1);
    while (h.posted.length === 0) await new Promise((r) => setTimeout(r, 10));
    // Another input registered no output: the coordinator asks everyone to reveal (spec §3.7).
    conn.message('RevealOutputMixStatusNotification', { status: 'REVEAL_OUTPUT', mixId });
    const reveal = await conn.sent('/ws/revealOutput');
    expect(reveal).toEqual({ mixId, receiveAddress: h.receive.reserved[0] });
    conn.message('FailMixStatusNotification', { status: 'FAIL', mixId });
    expect(await outcomeP).toMatchObject({ status: 'FAIL', reason: 'MIX_FAILED' });
    expect(phases).toContain('REVEALED_OUTPUT');
    expect(phases).not.toContain('SIGNING');
    expect(phases.at(-1)).toBe('FAIL');
    // The address was registered (burnt on the coordinator): it stays used, never handed out again.
    expect(h.receive.confirmed).toEqual([h.receive.reserved[0]]);
    expect(h.receive.released).toEqual([]);
  });

  it('refuses to sign a mix tx that underpays its output (INTERNAL_ERROR, no SigningRequest)', async () => {
    server = await FakeCoordinator.start();
    const h = harness(server);
    const key = mixKey();
    const mixId = 'e'.repeat(32);
    let built: ReturnType<typeof mixTx> | null = null;
    server.onSend = (c, dest, body) => {
      if (dest === '/ws/registerInput') {
        c.message('ConfirmInputMixStatusNotification', {
          status: 'CONFIRM_INPUT',
          mixId,
          publicKey64: z85Encode(key.spki),
        });
      } else if (dest === '/ws/confirmInput') {
        built = mixTx(h.utxo, h.receive.reserved[0]!, (outs) => {
          const victim = outs.find(
            (o) =>
              bytesToHex(o.script) !== bytesToHex(addressToOutputScript(h.receive.reserved[0]!, 'regtest')),
          )!;
          victim.value = BigInt(D - 5000);
        });
        c.message('ConfirmInputResponse', {
          mixId,
          signedBordereau64: z85Encode(key.sign(z85Decode(String(body.blindedBordereau64)))),
        });
        c.message('RegisterOutputMixStatusNotification', {
          status: 'REGISTER_OUTPUT',
          mixId,
          inputsHash: built.inputsHash,
        });
        setTimeout(
          () =>
            c.message('SigningMixStatusNotification', {
              status: 'SIGNING',
              mixId,
              transaction64: z85Encode(built!.raw),
            }),
          50,
        );
      }
    };
    const outcome = await h.session().run();
    expect(outcome).toMatchObject({ status: 'FAIL', reason: 'INTERNAL_ERROR' });
    expect((outcome as { message: string }).message).toMatch(/OUTPUT_AMOUNT/);
    expect(server.conns[0]!.sends.some((s) => s.destination === '/ws/signing')).toBe(false);
  });

  it('stops with PROTOCOL_MISMATCH when a MESSAGE carries another protocolVersion', async () => {
    server = await FakeCoordinator.start();
    server.onSubscribe = (c) => c.message('SubscribePoolResponse', subscribeResponse(), '0.24');
    const outcome = await harness(server).session().run();
    expect(outcome).toMatchObject({ status: 'FAIL', reason: 'PROTOCOL_MISMATCH' });
  });

  it('ends with INTERNAL_ERROR when the first message is not a SubscribePoolResponse', async () => {
    server = await FakeCoordinator.start();
    server.onSubscribe = (c) => c.message('ErrorResponse', { mixId: null, message: 'Pool not found' });
    const outcome = await harness(server).session().run();
    expect(outcome).toMatchObject({ status: 'FAIL', reason: 'INTERNAL_ERROR' });
    expect((outcome as { message: string }).message).toMatch(/not a SubscribePoolResponse.*Pool not found/);
  });

  it('checks denomination, network and balance bounds before registering', async () => {
    server = await FakeCoordinator.start();
    server.onSubscribe = (c) => c.message('SubscribePoolResponse', subscribeResponse({ networkId: 'test' }));
    expect(await harness(server).session().run()).toMatchObject({
      reason: 'INTERNAL_ERROR',
      message: expect.stringMatching(/network/),
    });
    server.onSubscribe = (c) =>
      c.message('SubscribePoolResponse', subscribeResponse({ denomination: 2 * D }));
    expect(await harness(server).session().run()).toMatchObject({
      message: expect.stringMatching(/denomination/),
    });
    server.onSubscribe = (c) => c.message('SubscribePoolResponse', subscribeResponse());
    expect(
      await harness(server, D + 50)
        .session()
        .run(),
    ).toMatchObject({ message: expect.stringMatching(/outside/) });
    expect(server.conns.every((c) => c.sends.length === 0)).toBe(true);
  });

  it('registers a UTXO worth exactly the denomination as liquidity', async () => {
    server = await FakeCoordinator.start();
    server.onSend = (c, dest) => {
      if (dest === '/ws/registerInput')
        c.message('ErrorResponse', {
          mixId: null,
          message: 'Input rejected (not a premix or whirlpool input)',
        });
    };
    const h = harness(server, D);
    const outcome = await h.session().run();
    expect(server.conns[0]!.sends[0]!.body).toMatchObject({ liquidity: true });
    expect(outcome).toEqual({
      status: 'FAIL',
      reason: 'INPUT_REJECTED',
      message: 'Input rejected (not a premix or whirlpool input)',
      mixId: null,
    });
  });

  it('reports a registerOutput REST refusal as INPUT_REJECTED with the server message; the index stays used', async () => {
    server = await FakeCoordinator.start();
    const key = mixKey();
    const mixId = 'd'.repeat(32);
    const h = harness(server, D + 300, 500, '{"message":"receiveAddress already registered"}');
    server.onSend = (c, dest, body) => {
      if (dest === '/ws/registerInput') {
        c.message('ConfirmInputMixStatusNotification', {
          status: 'CONFIRM_INPUT',
          mixId,
          publicKey64: z85Encode(key.spki),
        });
      } else if (dest === '/ws/confirmInput') {
        c.message('ConfirmInputResponse', {
          mixId,
          signedBordereau64: z85Encode(key.sign(z85Decode(String(body.blindedBordereau64)))),
        });
        c.message('RegisterOutputMixStatusNotification', {
          status: 'REGISTER_OUTPUT',
          mixId,
          inputsHash: 'a'.repeat(128),
        });
      }
    };
    const outcome = await h.session().run();
    expect(outcome).toMatchObject({
      status: 'FAIL',
      reason: 'INPUT_REJECTED',
      message: 'receiveAddress already registered',
    });
    expect(h.receive.confirmed).toHaveLength(1);
    expect(h.receive.released).toHaveLength(0);
  });

  it('reconnects immediately after a lost connection, re-registers, and releases the reserved address', async () => {
    server = await FakeCoordinator.start();
    const key = mixKey();
    server.onSend = (c, dest) => {
      if (dest === '/ws/registerInput' && server.conns.length === 1) {
        c.message('ConfirmInputMixStatusNotification', {
          status: 'CONFIRM_INPUT',
          mixId: 'c'.repeat(32),
          publicKey64: z85Encode(key.spki),
        });
      }
      if (dest === '/ws/confirmInput') c.ws.terminate(); // coordinator drops the connection
    };
    const h = harness(server);
    const s = h.session({ reconnectDelayMs: 5000 });
    const reconnects: Array<{ delayMs: number; lost: boolean }> = [];
    s.on('reconnect', (r) => reconnects.push(r));
    void s.run();
    const first = await server.connection(1);
    await first.sent('/ws/confirmInput');
    const t0 = Date.now();
    const second = await server.connection(2);
    await second.sent('/ws/registerInput');
    expect(Date.now() - t0).toBeLessThan(2000); // not the 5 s connect-retry delay
    expect(reconnects[0]).toMatchObject({ delayMs: 0, lost: true });
    expect(h.receive.released).toEqual([h.receive.reserved[0]]);
    s.stop();
    expect(await s.run()).toMatchObject({ status: 'FAIL', reason: 'STOPPED' });
  });

  it('retries a failed connect every reconnectDelay and gives up with DISCONNECTED after reconnectUntil', async () => {
    server = await FakeCoordinator.start();
    const url = server.url;
    const h = harness(server);
    await server.close();
    // The 0.23.18 (G0) rule; from 0.23.28 on the retry is random and endless (next test).
    const s = h.session({
      serverUrl: url,
      reconnectDelayMs: 150,
      reconnectUntilMs: 700,
      generation: GENERATIONS.G0,
    });
    const reconnects: number[] = [];
    s.on('reconnect', (r) => reconnects.push(r.delayMs));
    const t0 = Date.now();
    const outcome = await s.run();
    const elapsed = Date.now() - t0;
    expect(outcome).toMatchObject({ status: 'FAIL', reason: 'DISCONNECTED' });
    expect(elapsed).toBeGreaterThanOrEqual(700);
    expect(elapsed).toBeLessThan(3000);
    expect(reconnects.length).toBeGreaterThanOrEqual(4);
    expect(reconnects.every((d) => d === 150)).toBe(true);
  });
});

describe('later client generations (addendum §6, client/generations.ts)', () => {
  it('0.23.28+: a failed connect is retried after a random delay of the window, past reconnectUntil', async () => {
    server = await FakeCoordinator.start();
    const url = server.url;
    const h = harness(server);
    await server.close();
    const s = h.session({
      serverUrl: url,
      reconnectUntilMs: 200,
      generation: GENERATIONS['G1-G2'],
      randomRetryWindow: { minMs: 50, maxMs: 120 },
    });
    const delays: number[] = [];
    s.on('reconnect', (r) => delays.push(r.delayMs));
    void s.run();
    const t0 = Date.now();
    while (delays.length < 6) await new Promise((r) => setTimeout(r, 20));
    expect(Date.now() - t0).toBeGreaterThan(200); // still retrying after reconnectUntil
    expect(delays.every((d) => d >= 50 && d < 120)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(1);
    s.stop();
    expect(await s.run()).toMatchObject({ status: 'FAIL', reason: 'STOPPED' });
  });

  it('G6: blockHeight in registerInput, a random 30-byte bordereau blind-signed and sent as bordereau64', async () => {
    server = await FakeCoordinator.start();
    const h = harness(server);
    const key = mixKey();
    const mixId = 'e'.repeat(32);
    let registerInput: Record<string, unknown> | null = null;
    server.onSend = (c, dest, body) => {
      if (dest === '/ws/registerInput') {
        registerInput = body;
        c.message('ConfirmInputMixStatusNotification', {
          status: 'CONFIRM_INPUT',
          mixId,
          publicKey64: z85Encode(key.spki),
        });
      } else if (dest === '/ws/confirmInput') {
        c.message('ConfirmInputResponse', {
          mixId,
          signedBordereau64: z85Encode(key.sign(z85Decode(String(body.blindedBordereau64)))),
        });
        c.message('RegisterOutputMixStatusNotification', {
          status: 'REGISTER_OUTPUT',
          mixId,
          inputsHash: 'b'.repeat(128),
        });
      }
    };
    const s = h.session({ generation: GENERATIONS.G6, blockHeight: () => 812 });
    void s.run();
    while (h.posted.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(Object.keys(registerInput!)).toEqual([
      'poolId',
      'utxoHash',
      'utxoIndex',
      'signature',
      'liquidity',
      'blockHeight',
    ]);
    expect(registerInput!.blockHeight).toBe(812);
    const post = h.posted[0]!;
    expect(Object.keys(post)).toEqual([
      'inputsHash',
      'unblindedSignedBordereau64',
      'receiveAddress',
      'bordereau64',
    ]);
    expect(String(post.bordereau64)).toHaveLength(38);
    const bordereau = z85Decode(String(post.bordereau64));
    expect(bordereau).toHaveLength(30);
    const rsa = parseRsaSpki(key.spki);
    const sig = z85Decode(String(post.unblindedSignedBordereau64));
    expect(pssVerify(bordereau, sig, rsa)).toBe(true);
    expect(pssVerify(new TextEncoder().encode(String(post.receiveAddress)), sig, rsa)).toBe(false);
    s.stop();
  });

  it('G6: a refused registerOutput is posted 11 times in all, each with a new address and the same bordereau', async () => {
    server = await FakeCoordinator.start();
    const key = mixKey();
    const mixId = '9'.repeat(32);
    const h = harness(server, D + 300, 500, '{"message":"Output already registered"}');
    server.onSend = (c, dest, body) => {
      if (dest === '/ws/registerInput') {
        c.message('ConfirmInputMixStatusNotification', {
          status: 'CONFIRM_INPUT',
          mixId,
          publicKey64: z85Encode(key.spki),
        });
      } else if (dest === '/ws/confirmInput') {
        c.message('ConfirmInputResponse', {
          mixId,
          signedBordereau64: z85Encode(key.sign(z85Decode(String(body.blindedBordereau64)))),
        });
        c.message('RegisterOutputMixStatusNotification', {
          status: 'REGISTER_OUTPUT',
          mixId,
          inputsHash: 'c'.repeat(128),
        });
      }
    };
    const outcome = await h.session({ generation: GENERATIONS.G6 }).run();
    expect(outcome).toMatchObject({
      status: 'FAIL',
      reason: 'INPUT_REJECTED',
      message: 'Output already registered',
    });
    expect(h.posted).toHaveLength(11);
    expect(new Set(h.posted.map((p) => p.receiveAddress)).size).toBe(11);
    expect(new Set(h.posted.map((p) => p.bordereau64)).size).toBe(1);
    expect(new Set(h.posted.map((p) => p.unblindedSignedBordereau64)).size).toBe(1);
    expect(h.receive.confirmed).toEqual(h.posted.map((p) => p.receiveAddress));
  });
});

describe('cluster redirect (addendum)', () => {
  it('follows a RedirectResponse to the owning instance when acceptRedirect is on', async () => {
    server = await FakeCoordinator.start();
    const owner = await FakeCoordinator.start();
    try {
      let acceptHeader: string | undefined;
      server.onSubscribe = (c) => {
        c.message('RedirectResponse', {
          poolId: POOL,
          instanceId: 'owner-1',
          urlClear: owner.url,
          urlOnion: null,
          epoch: 7,
        });
      };
      server.wss.on('connection', (ws) =>
        ws.on('message', (d) => {
          const m = /acceptRedirect:([^\n]*)/.exec(String(d));
          if (m) acceptHeader = m[1];
        }),
      );
      owner.onSend = (c, dest) => {
        if (dest === '/ws/registerInput')
          c.message('ErrorResponse', { mixId: null, message: 'owner got it' });
      };
      const h = harness(server);
      const s = h.session({ acceptRedirect: true });
      const redirects: Array<{ to: string; instanceId: string }> = [];
      s.on('redirect', (r) => redirects.push(r));
      const outcome = await s.run();
      expect(acceptHeader).toBe('true');
      expect(redirects).toEqual([
        expect.objectContaining({ to: owner.url, instanceId: 'owner-1', epoch: 7 }),
      ]);
      expect(s.serverUrl).toBe(owner.url);
      expect(outcome).toMatchObject({ reason: 'INPUT_REJECTED', message: 'owner got it' });
      expect(server.conns[0]!.sends).toHaveLength(0);
    } finally {
      await owner.close();
    }
  });

  it('behaves like a 0.23 client by default: a RedirectResponse is not a SubscribePoolResponse', async () => {
    server = await FakeCoordinator.start();
    server.onSubscribe = (c) =>
      c.message('RedirectResponse', {
        poolId: POOL,
        instanceId: 'x',
        urlClear: server.url,
        urlOnion: null,
        epoch: 1,
      });
    const outcome = await harness(server).session().run();
    expect(outcome).toMatchObject({
      reason: 'INTERNAL_ERROR',
      message: expect.stringMatching(/not a SubscribePoolResponse/),
    });
  });

  it('gives up after maxRedirects consecutive redirects', async () => {
    server = await FakeCoordinator.start();
    server.onSubscribe = (c) =>
      c.message('RedirectResponse', {
        poolId: POOL,
        instanceId: 'self',
        urlClear: server.url,
        urlOnion: null,
        epoch: 1,
      });
    const outcome = await harness(server).session({ acceptRedirect: true, maxRedirects: 2 }).run();
    expect(outcome).toMatchObject({
      reason: 'INTERNAL_ERROR',
      message: expect.stringMatching(/More than 2 consecutive redirects/),
    });
    expect(server.conns).toHaveLength(3);
  });
});

describe('MixHandle retries (spec §9.5)', () => {
  it('retries after MIX_FAILED with the configured delay, and not after INPUT_REJECTED', async () => {
    server = await FakeCoordinator.start();
    const key = mixKey();
    let registrations = 0;
    const registeredAt: number[] = [];
    server.onSend = (c, dest, body) => {
      if (dest !== '/ws/registerInput') return;
      registrations++;
      registeredAt.push(Date.now());
      if (registrations === 1) {
        const mixId = '1'.repeat(32);
        c.message('ConfirmInputMixStatusNotification', {
          status: 'CONFIRM_INPUT',
          mixId,
          publicKey64: z85Encode(key.spki),
        });
        setTimeout(() => c.message('FailMixStatusNotification', { status: 'FAIL', mixId }), 50);
      } else {
        c.message('ErrorResponse', { mixId: null, message: `rejected ${String(body.utxoIndex)}` });
      }
    };
    const wallet = Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' });
    const client = new WhirlpoolClient({
      serverUrl: server.url,
      wallet,
      transport: 'websocket',
      mixRetryDelayMs: 400,
    });
    const k = wallet.account('premix').nextKey(0);
    const handle = client.mix(
      { txid: randomTxid(), vout: 3, value: D + 500, privateKey: k.privateKey, publicKey: k.publicKey },
      { poolId: POOL, denomination: D },
    );
    const attempts: Array<{ at: number; outcome: MixOutcome }> = [];
    handle.on('attempt', (outcome) => attempts.push({ at: Date.now(), outcome }));
    const final = await handle.done;
    expect(attempts.map((a) => a.outcome.status === 'FAIL' && a.outcome.reason)).toEqual([
      'MIX_FAILED',
      'INPUT_REJECTED',
    ]);
    expect(final).toMatchObject({ reason: 'INPUT_REJECTED', message: 'rejected 3' });
    expect(server.conns).toHaveLength(2);
    expect(registrations).toBe(2);
    expect(registeredAt[1]! - attempts[0]!.at).toBeGreaterThanOrEqual(400);
    // the postmix index reserved for the failed mix was released and is handed out again
    expect(wallet.account('postmix').counter(0).next).toBe(0);
    expect(wallet.account('postmix').reserveKey(0).index).toBe(0);
  });
});
