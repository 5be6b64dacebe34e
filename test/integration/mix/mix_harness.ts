/**
 * Harness for engine-level tests: a real btcd (regtest), a real MariaDB store
 * with the project's migrations, a {@link MixEngine} on them, and in-process
 * Whirlpool clients that speak the engine's STOMP application interface with
 * real protocol payloads (signed message, blinded bordereau, unblinded
 * signature over registerOutput, BIP143 witnesses). Clients can misbehave on
 * purpose (not sign, disconnect at a given status, skip registerOutput).
 *
 * @module
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { Transaction } from '@scure/btc-signer';
import { Client, type IMessage } from '@stomp/stompjs';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import WebSocket from 'ws';
import { MixEngine, type MixEngineOptions } from '#coordinator/mix/mix_engine.ts';
import type { MixSession } from '#coordinator/mix/mix_session.ts';
import { DEFAULT_ENGINE_TIMINGS, type MixEngineParams, type PoolConfig } from '#coordinator/mix/types.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { buildP2wpkhSpend } from '#devnet/regtest_wallet.ts';
import { addressToOutputScript, p2wpkhAddress } from '#shared/bitcoin/network.ts';
import { signMessage } from '#shared/bitcoin/signed_message.ts';
import { z85Decode, z85Encode } from '#shared/codec/z85.ts';
import { blindMessage, parseRsaSpki, type RsaPublicKey, unblindSignature } from '#shared/crypto/blind_rsa.ts';
import { MESSAGE_TYPES, type MessageTypeName } from '#shared/protocol/constants.ts';
import { encodeFeePayload } from '#shared/protocol/fee_payload.ts';
import { computeInputsHash } from '#shared/protocol/inputs_hash.ts';
import type { RegisterOutputRequest } from '#shared/protocol/messages.ts';
import { ecdhSharedX, serializeOutpoint, xorMask } from '#shared/protocol/xor_mask.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';

/** A test pool: denomination 1 000 000 sats, defaults of the reference. */
export function testPool(over: Partial<PoolConfig> = {}): PoolConfig {
  return {
    id: 'test0.01',
    denomination: 1_000_000,
    feeValue: 50_000,
    feeAccept: [],
    minerFeeMin: 102,
    minerFeeCap: 9500,
    minerFeeMax: 10_000,
    minerFeeMix: 510,
    mustMixMin: 1,
    liquidityMin: 0,
    anonymitySet: 3,
    minConfirmations: { mustMix: 0, liquidity: 0 },
    ...over,
  };
}

/** Engine parameters with short timers for tests. */
export function testParams(over: Partial<MixEngineParams> = {}): MixEngineParams {
  return {
    ...DEFAULT_ENGINE_TIMINGS,
    network: 'regtest',
    liquidityIntervalMs: 300,
    registerOutputTimeoutMs: 2500,
    revealOutputTimeoutMs: 1500,
    signingTimeoutMs: 2000,
    subscribeDelayMs: 20,
    ban: { blames: 2, periodSeconds: 100, expirationSeconds: 1000 },
    testMode: true,
    scodes: [],
    feeAddressSeed: new Uint8Array(64).fill(7),
    secretWalletNotificationPrivKey: hexToBytes(
      'db4a3cbae4ee4fb8ba34b55ced3d219131db917b21ff002f3a431d996f3f4449',
    ),
    ...over,
  };
}

/** Node, database and store shared by a suite. */
export interface MixEnv {
  node: BtcdNode;
  db: TestDatabase;
  pool: Pool;
  store: MySqlMixStore;
  close(): Promise<void>;
}

/** Starts btcd and a migrated per-suite database. */
export async function startMixEnv(label: string): Promise<MixEnv> {
  const [node, db] = await Promise.all([startBtcd(), createTestDatabase(label)]);
  await runMigrations(db.url);
  const pool = createDbPool(db.url);
  const store = new MySqlMixStore(pool);
  return {
    node,
    db,
    pool,
    store,
    async close() {
      await pool.end().catch(() => undefined);
      await Promise.all([node.stop(), db.drop()]);
    },
  };
}

/** Funds `n` UTXOs of `value` sats (distinct txids) and confirms them (one block). */
export async function fundConfirmedUtxos(node: BtcdNode, n: number, value: number): Promise<ClientUtxo[]> {
  const out: ClientUtxo[] = [];
  for (let i = 0; i < n; i++) out.push(await fundUtxo(node, value));
  await node.mine(1);
  return out;
}

/** Rows of a query on the env's database. */
export async function queryRows(env: MixEnv, sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
  const [r] = await env.pool.query<RowDataPacket[]>(sql, params);
  return r;
}

/** A silent engine on the env's node and store, serving `pools` (`random`: the engine's random source). */
export function startEngine(
  env: MixEnv,
  pools: PoolConfig[],
  params: MixEngineParams,
  opts: { random?: () => number; store?: MixEngineOptions['store'] } = {},
): MixEngine {
  const engine = new MixEngine({
    pools,
    params,
    store: opts.store ?? env.store,
    rpc: env.node.rpc,
    logger: pino({ level: process.env.MIX_TEST_LOG || 'silent' }),
    ...(opts.random ? { random: opts.random } : {}),
  });
  for (const p of pools) engine.activatePool(p.id, null);
  return engine;
}

/** What a {@link TestClient} talks to: the engine in-process, or a {@link WireEngine} over the network. */
export type EnginePort = Pick<MixEngine, 'onSubscribe' | 'onSend' | 'onDisconnect' | 'registerOutput'>;

/** A message the engine sent to a session. */
export interface Received {
  type: MessageTypeName;
  payload: Record<string, unknown>;
}

/** An in-process session: records what the engine sends, in order. */
export class TestSession implements MixSession {
  static #next = 0;
  readonly id = `s${++TestSession.#next}-${Math.random().toString(36).slice(2, 8)}`;
  readonly ip = '127.0.0.1';
  readonly received: Received[] = [];
  #closed = false;
  #listeners: Array<() => void> = [];
  onClose: (() => void) | null = null;

  get closed(): boolean {
    return this.#closed;
  }

  sendPrivate(type: MessageTypeName, payload: unknown): void {
    if (this.#closed) return;
    // what goes on the wire is JSON: round-trip to catch non-serialisable payloads
    this.received.push({ type, payload: JSON.parse(JSON.stringify(payload)) as Record<string, unknown> });
    for (const l of this.#listeners) l();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose?.();
  }

  /** Resolves with the first received message of `type` (past or future). */
  waitFor(type: MessageTypeName, timeoutMs = 15_000): Promise<Received> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.received.find((r) => r.type === type);
        if (m) resolve(m);
        return m !== undefined;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        reject(new Error(`${this.id}: no ${type} within ${timeoutMs} ms; got ${this.types().join(', ')}`));
      }, timeoutMs);
      this.#listeners.push(() => {
        if (check()) clearTimeout(timer);
      });
    });
  }

  types(): MessageTypeName[] {
    return this.received.map((r) => r.type);
  }
}

/** A UTXO a test client owns. */
export interface ClientUtxo {
  txid: string;
  index: number;
  value: number;
  privateKey: Uint8Array;
  address: string;
}

/** A fresh regtest P2WPKH key and address. */
export function newKey(): { privateKey: Uint8Array; address: string } {
  const privateKey = secp256k1.utils.randomSecretKey();
  return { privateKey, address: p2wpkhAddress(secp256k1.getPublicKey(privateKey, true), 'regtest') };
}

/** Funds `value` sats to a new key in its own transaction (distinct txids). Mine afterwards. */
export async function fundUtxo(node: BtcdNode, value: number): Promise<ClientUtxo> {
  const key = newKey();
  const funded = await node.wallet.fund(key.address, BigInt(value));
  return { txid: funded.txid, index: funded.vout, value, ...key };
}

/** How a client misbehaves. */
export interface ClientBehaviour {
  /** Never send SigningRequest. */
  noSign?: boolean;
  /** Never POST registerOutput. */
  noRegisterOutput?: boolean;
  /** Close the session on receiving this notification. */
  disconnectOn?: MessageTypeName;
  /** Receive address to use (default: a fresh one). */
  receiveAddress?: string;
  /** userHash pre-image (same value = same wallet). */
  userPreHash?: string;
  /** Runs when REGISTER_OUTPUT arrives, before the registerOutput POST (e.g. double-spend the input). */
  beforeRegisterOutput?: () => Promise<void>;
  /** When the server closes the session: register again at once on a new session. */
  rejoinOnClose?: boolean;
  /** Sign without checking that the transaction pays the client's receive address (a careless client). */
  signBlindly?: boolean;
  /** What the blind signature covers: the receive address (G0–G4, default) or a random 30-byte bordereau sent as `bordereau64` (G5+). */
  bordereau?: 'address' | 'random';
  /** Runs after the registerOutput POST succeeded, with the request posted (e.g. to re-post the token). */
  afterRegisterOutput?: (req: RegisterOutputRequest) => Promise<void>;
}

/**
 * A Whirlpool client for one UTXO driven by the engine's messages, as the
 * 0.23 client reacts (§9.3): confirm on invitation, unblind the signature,
 * register the output on REGISTER_OUTPUT, check the transaction and sign it.
 */
export class TestClient {
  /** The current session (a new one after each rejoin). */
  session = new TestSession();
  /** Times the client registered again on a new session after the server closed its session. */
  rejoins = 0;
  readonly utxo: ClientUtxo;
  readonly receiveAddress: string;
  /** Key of {@link receiveAddress} (to remix the output later). */
  readonly receiveKey: { privateKey: Uint8Array; address: string };
  readonly errors: string[] = [];
  registerOutputError: string | null = null;
  /** Why the client refused to sign the mix transaction (its checks), or null. */
  signingRefused: string | null = null;
  readonly #engine: EnginePort;
  readonly #poolId: string;
  readonly #behaviour: ClientBehaviour;
  #rsa: { key: RsaPublicKey; r: bigint } | null = null;
  #unblinded: Uint8Array | null = null;
  #bordereau: Uint8Array | null = null;
  #inputsHash: string | null = null;
  #handled = 0;
  #liquidity = false;
  #leaving = false;

  constructor(engine: EnginePort, poolId: string, utxo: ClientUtxo, behaviour: ClientBehaviour = {}) {
    this.#engine = engine;
    this.#poolId = poolId;
    this.utxo = utxo;
    this.#behaviour = behaviour;
    this.receiveKey = newKey();
    this.receiveAddress = behaviour.receiveAddress ?? this.receiveKey.address;
    this.#bind(this.session);
  }

  #bind(session: TestSession): void {
    this.session = session;
    this.#handled = 0;
    this.#rsa = null;
    this.#unblinded = null;
    this.#inputsHash = null;
    session.onClose = () => {
      this.#engine.onDisconnect(session);
      if (this.#behaviour.rejoinOnClose && !this.#leaving) {
        // as a real client does when the server closes a live connection: reconnect at once, register again
        this.rejoins++;
        this.#bind(new TestSession());
        this.register(this.#liquidity);
      }
    };
    const original = session.sendPrivate.bind(session);
    session.sendPrivate = (type, payload) => {
      original(type, payload);
      queueMicrotask(() => this.#drain(session));
    };
  }

  /** SUBSCRIBE then SEND registerInput. */
  register(liquidity = false, over: Record<string, unknown> = {}): void {
    this.#liquidity = liquidity;
    const headers = new Map([
      ['poolId', this.#poolId],
      ['protocolVersion', '0.23'],
    ]);
    this.#engine.onSubscribe(this.session, '/private/reply', headers);
    this.send('/ws/registerInput', {
      poolId: this.#poolId,
      utxoHash: this.utxo.txid,
      utxoIndex: this.utxo.index,
      signature: signMessage(this.#poolId, this.utxo.privateKey),
      liquidity,
      ...over,
    });
  }

  send(destination: string, body: unknown, version: string | null = '0.23'): void {
    const headers = new Map<string, string>();
    if (version !== null) headers.set('protocolVersion', version);
    this.#engine.onSend(this.session, destination, headers, JSON.stringify(body));
  }

  disconnect(): void {
    this.#leaving = true;
    this.session.close();
  }

  #drain(session: TestSession): void {
    if (session !== this.session) return; // a message to a session the client already replaced
    while (this.#handled < this.session.received.length) {
      const message = this.session.received[this.#handled++]!;
      void this.#react(message).catch((err: unknown) => {
        this.errors.push(`client: ${String(err)}`);
        if (process.env.MIX_TEST_LOG) console.error(err);
      });
    }
  }

  async #react({ type, payload }: Received): Promise<void> {
    if (this.session.closed) return;
    if (this.#behaviour.disconnectOn === type) {
      this.disconnect();
      return;
    }
    const mixId = String(payload.mixId);
    switch (type) {
      case 'ErrorResponse':
        this.errors.push(String(payload.message));
        return;
      case 'ConfirmInputMixStatusNotification': {
        const key = parseRsaSpki(z85Decode(String(payload.publicKey64)));
        this.#bordereau =
          this.#behaviour.bordereau === 'random' ? crypto.getRandomValues(new Uint8Array(30)) : null;
        const { blinded, r } = blindMessage(
          this.#bordereau ?? new TextEncoder().encode(this.receiveAddress),
          key,
        );
        this.#rsa = { key, r };
        const userHash = bytesToHex(
          new Uint8Array(
            await crypto.subtle.digest(
              'SHA-256',
              new TextEncoder().encode(mixId + (this.#behaviour.userPreHash ?? this.session.id)),
            ),
          ),
        );
        this.send('/ws/confirmInput', { mixId, blindedBordereau64: z85Encode(blinded), userHash });
        return;
      }
      case 'ConfirmInputResponse': {
        if (!this.#rsa) throw new Error('ConfirmInputResponse before invitation');
        this.#unblinded = unblindSignature(
          z85Decode(String(payload.signedBordereau64)),
          this.#rsa.r,
          this.#rsa.key,
        );
        return;
      }
      case 'RegisterOutputMixStatusNotification': {
        this.#inputsHash = String(payload.inputsHash);
        if (this.#behaviour.noRegisterOutput || !this.#unblinded) return;
        await this.#behaviour.beforeRegisterOutput?.();
        const req: RegisterOutputRequest = {
          inputsHash: this.#inputsHash,
          unblindedSignedBordereau64: z85Encode(this.#unblinded),
          receiveAddress: this.receiveAddress,
          ...(this.#bordereau ? { bordereau64: z85Encode(this.#bordereau) } : {}),
        };
        try {
          await this.#engine.registerOutput(req);
          await this.#behaviour.afterRegisterOutput?.(req);
        } catch (err) {
          this.registerOutputError = err instanceof Error ? err.message : String(err);
        }
        return;
      }
      case 'RevealOutputMixStatusNotification':
        if (!this.#behaviour.noRegisterOutput) {
          this.send('/ws/revealOutput', { mixId, receiveAddress: this.receiveAddress });
        }
        return;
      case 'SigningMixStatusNotification': {
        if (this.#behaviour.noSign) return;
        const tx = Transaction.fromRaw(z85Decode(String(payload.transaction64)), {
          allowUnknownOutputs: true,
        });
        const inputs = Array.from({ length: tx.inputsLength }, (_, i) => tx.getInput(i));
        const outpoints = inputs.map((i) => ({ txid: bytesToHex(i.txid!), index: i.index! }));
        // client checks of §4.11
        if (computeInputsHash(outpoints) !== this.#inputsHash) throw new Error('inputsHash mismatch');
        if (new Set(outpoints.map((o) => o.txid)).size !== outpoints.length) throw new Error('Prev-tx reuse');
        const idx = outpoints.findIndex((o) => o.txid === this.utxo.txid && o.index === this.utxo.index);
        if (idx < 0) throw new Error('own input missing');
        if (!this.#behaviour.signBlindly) {
          const own = scriptHex(this.receiveAddress);
          const outputs = Array.from({ length: tx.outputsLength }, (_, i) => tx.getOutput(i));
          if (!outputs.some((o) => o.script && bytesToHex(o.script) === own)) {
            this.signingRefused = 'own output missing';
            return;
          }
        }
        const witness = signMixInput(tx, idx, this.utxo);
        this.send('/ws/signing', { mixId, witnesses64: witness });
        return;
      }
      default:
        return;
    }
  }
}

/** Signs input `idx` of a mix transaction with the UTXO's key: the witness as `witnesses64` (z85). */
export function signMixInput(tx: Transaction, idx: number, utxo: ClientUtxo): string[] {
  tx.updateInput(idx, {
    witnessUtxo: { script: addressToOutputScript(utxo.address, 'regtest'), amount: BigInt(utxo.value) },
  });
  tx.signIdx(utxo.privateKey, idx);
  const [partial] = tx.getInput(idx).partialSig ?? [];
  if (!partial) throw new Error('no signature produced');
  return [partial[1], partial[0]].map((w) => z85Encode(w)); // [DER sig ‖ SIGHASH_ALL, pubkey]
}

/** Polls `fn` until it returns a truthy value. */
export async function until<T>(
  fn: () => T | Promise<T>,
  what: string,
  timeoutMs = 15_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Hex of a UTXO's output script (for assertions). */
export function scriptHex(address: string): string {
  return bytesToHex(addressToOutputScript(address, 'regtest'));
}

/** Notification private key of the test secret wallet (`all`×12 / `whirlpool`, spec §8.6). */
export const TEST_NOTIFICATION_PRIV = hexToBytes(
  'db4a3cbae4ee4fb8ba34b55ced3d219131db917b21ff002f3a431d996f3f4449',
);

/** What a test Tx0 pays. */
export interface Tx0Spec {
  feeIndice: number;
  /** Fee output (omitted when null). */
  fee: { address: string; value: number } | null;
  premixValue: number;
  nbPremix: number;
  scodePayload?: Uint8Array | null;
}

/**
 * Builds and broadcasts a Tx0 as the 0.23 client does (§4.7): one P2WPKH
 * deposit input, OP_RETURN with the fee payload masked with input 0 × the
 * coordinator's notification key, the fee output, the premix outputs. Mine
 * afterwards.
 */
export async function makeTx0(
  node: BtcdNode,
  spec: Tx0Spec,
): Promise<{ txid: string; premixes: ClientUtxo[] }> {
  const deposit = newKey();
  const total = (spec.fee?.value ?? 0) + spec.nbPremix * spec.premixValue + 3000;
  const funded = await node.wallet.fund(deposit.address, BigInt(total));
  const payload = encodeFeePayload({ feeIndice: spec.feeIndice, scodePayload: spec.scodePayload ?? null });
  const notificationPub = secp256k1.getPublicKey(TEST_NOTIFICATION_PRIV, true);
  const masked = xorMask(
    payload,
    ecdhSharedX(deposit.privateKey, notificationPub),
    serializeOutpoint(funded.txid, funded.vout),
  );
  const premixKeys = Array.from({ length: spec.nbPremix }, () => newKey());
  const outputs = [
    { script: new Uint8Array([0x6a, 0x40, ...masked]), sats: 0n },
    ...(spec.fee ? [{ address: spec.fee.address, sats: BigInt(spec.fee.value) }] : []),
    ...premixKeys.map((k) => ({ address: k.address, sats: BigInt(spec.premixValue) })),
  ];
  const signed = buildP2wpkhSpend({
    inputs: [{ txid: funded.txid, vout: funded.vout, sats: BigInt(total), privateKey: deposit.privateKey }],
    outputs,
    version: 1,
    fee: 3000n,
  });
  const txid = await node.rpc.sendRawTransaction(signed.hex);
  const first = spec.fee ? 2 : 1;
  return {
    txid,
    premixes: premixKeys.map((k, i) => ({ txid, index: first + i, value: spec.premixValue, ...k })),
  };
}

/** messageType header → payload name. */
const PAYLOAD_BY_CLASS = new Map<string, MessageTypeName>(
  Object.entries(MESSAGE_TYPES).map(([name, cls]) => [cls, name as MessageTypeName]),
);

/**
 * An {@link EnginePort} over the wire: each test session becomes a
 * @stomp/stompjs client on a raw WebSocket (`/ws/connect/websocket`);
 * MESSAGE frames are fed back to the session by their `messageType`;
 * registerOutput is a REST POST (500 → the error message thrown).
 */
export class WireEngine implements EnginePort {
  readonly #baseUrl: string;
  readonly #clients = new Map<string, { client: Client; ready: Promise<void> }>();

  constructor(baseUrl: string) {
    this.#baseUrl = baseUrl;
  }

  #client(session: MixSession): { client: Client; ready: Promise<void> } {
    let entry = this.#clients.get(session.id);
    if (entry) return entry;
    const wsUrl = `${this.#baseUrl.replace(/^http/, 'ws')}/ws/connect/websocket`;
    const client = new Client({
      webSocketFactory: () => new WebSocket(wsUrl, ['v12.stomp']),
      connectHeaders: {},
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      reconnectDelay: 0,
    });
    const ready = new Promise<void>((resolve) => {
      client.onConnect = () => resolve();
    });
    client.onWebSocketClose = () => {
      if (!session.closed) session.close();
    };
    client.activate();
    entry = { client, ready };
    this.#clients.set(session.id, entry);
    return entry;
  }

  onSubscribe(session: MixSession, destination: string, headers: ReadonlyMap<string, string>): void {
    const { client, ready } = this.#client(session);
    void ready.then(() => {
      client.subscribe(
        destination,
        (m: IMessage) => {
          const type = PAYLOAD_BY_CLASS.get(m.headers.messageType ?? '');
          if (type) session.sendPrivate(type, JSON.parse(m.body));
        },
        Object.fromEntries(headers),
      );
    });
  }

  onSend(
    session: MixSession,
    destination: string,
    headers: ReadonlyMap<string, string>,
    body: string,
  ): Promise<void> {
    const { client, ready } = this.#client(session);
    return ready.then(() => client.publish({ destination, headers: Object.fromEntries(headers), body }));
  }

  onDisconnect(session: MixSession): void {
    const entry = this.#clients.get(session.id);
    this.#clients.delete(session.id);
    void entry?.client.deactivate();
  }

  async registerOutput(req: RegisterOutputRequest): Promise<void> {
    const res = await fetch(`${this.#baseUrl}/rest/registerOutput`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(req),
    });
    if (res.status !== 200) throw new Error(((await res.json()) as { message: string }).message);
  }

  /** Closes every client. */
  async close(): Promise<void> {
    await Promise.all([...this.#clients.values()].map((e) => e.client.deactivate()));
    this.#clients.clear();
  }
}
