/**
 * Generation matrix (issue 11): every Whirlpool client generation of 2019–2024
 * makes its Tx0, mixes and remixes through a 3-instance cluster of real
 * coordinator processes on one MariaDB database and one btcd regtest node.
 *
 * One pool per generation (G0, G1–G2, G3, G4, G5, G6), all at once, plus one
 * pool where a 0.23.18-style (G0) input and a 0.24.3-style (G6) input mix
 * together. Per pool two wallets behave exactly like that generation
 * (`client/generations.ts`): one is an unmodified client talking to a
 * non-owner instance (relayed), the other a cluster-aware wallet of the same
 * generation on the other non-owner instance (follows the redirect). Each
 * wallet opens the generation's way (checkOutput where it calls it), makes
 * its Tx0 the generation's way (GET / POST /rest/tx0 / POST /rest/tx0/v1;
 * V0 or V1 OP_RETURN; broadcast itself + tx0Notify, or pushed), then: mix 1
 * = one premix of each wallet; mix 2 = the relayed wallet remixes its postmix
 * (liquidity) with the other wallet's second premix.
 *
 * What each wallet put on the wire is recorded from its own fetch and STOMP
 * debug sink (real requests to the real coordinators, nothing faked) and
 * checked against the generation. At the end: every mix recorded once,
 * mined, no FAIL row, no blame, no ban.
 *
 * The 0.23.28+ random connect retry (5–120 s) is scaled to 0.2–1 s here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GenerationId, type MixOutcome, WhirlpoolClient } from '#client/api.ts';
import { GENERATIONS } from '#client/generations.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { writePoolsFile } from '#devnet/pools_file.ts';
import { freePort } from '#devnet/ports.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { expectMixesRecordedOnce } from '#test/support/mix_records.ts';
import { ServeRecorder } from '#test/support/serve_recorder.ts';

const INSTANCES = ['a', 'b', 'c'] as const;
/** Pool of each generation, and the mixed-generation pool. */
const POOL_OF: Record<GenerationId, string> = {
  G0: '0.01btc',
  'G1-G2': '0.02btc',
  G3: '0.03btc',
  G4: '0.04btc',
  G5: '0.05btc',
  G6: '0.06btc',
};
const MIXED_POOL = '0.07btc';
const ALL_POOLS = [...Object.values(POOL_OF), MIXED_POOL];
/** Every generation. */
const MATRIX: readonly GenerationId[] = ['G0', 'G1-G2', 'G3', 'G4', 'G5', 'G6'];
/** The old and the young wallet of the mixed-generation pool (0.23.18 with 0.24.3). */
const MIXED: readonly [GenerationId, GenerationId] = ['G0', 'G6'];

type Success = Extract<MixOutcome, { status: 'SUCCESS' }>;

/** A request a wallet sent (from its own fetch). */
interface SentRequest {
  method: string;
  path: string;
  body: unknown;
}

/** A wallet behaving as one generation, with what it sent. */
interface GenWallet {
  gen: GenerationId;
  client: WhirlpoolClient;
  requests: SentRequest[];
  stompFrames: string[];
}

function recordingFetch(log: SentRequest[]): typeof fetch {
  return async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    let body: unknown = null;
    if (typeof init?.body === 'string') {
      try {
        body = JSON.parse(init.body);
      } catch {
        body = init.body;
      }
    }
    log.push({ method: init?.method ?? 'GET', path: `${url.pathname}${url.search}`, body });
    return fetch(input, init);
  };
}

describe('generation matrix on a 3-instance cluster', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let dir: string;
  const recorder = new ServeRecorder();
  const procs: CoordinatorProcess[] = [];
  const ports = new Map<string, number>();
  const url = (id: string) => `http://127.0.0.1:${ports.get(id)}`;
  const logs = () => procs.map((p) => `--- ${p.instanceId}:\n${p.output().slice(-3000)}`).join('\n');

  beforeAll(async () => {
    [db, btcd, dir] = await Promise.all([
      createTestDatabase('generation matrix'),
      startBtcd(),
      mkdtemp(join(tmpdir(), 'wp-genmatrix-')),
    ]);
    const poolsFile = await writePoolsFile(dir, ALL_POOLS, {
      mustMixMin: 1,
      liquidityMin: 0,
      anonymitySet: 2,
      tx0MaxOutputs: 70,
    });
    const env = {
      ...baseCoordinatorEnv({ dbUrl: db.url, rpcUrl: btcd.rpcUrl, poolsFile }),
      WHIRLPOOL_TX0_DELAY_MS: '0',
      WHIRLPOOL_LOG_LEVEL: 'info',
    };
    for (const id of INSTANCES) ports.set(id, await freePort());
    for (const id of INSTANCES) {
      const p = spawnCoordinator({
        instanceId: id,
        env: { ...env, WHIRLPOOL_PORT: String(ports.get(id)), WHIRLPOOL_URL_CLEAR: url(id) },
        onLine: (_line, raw) => recorder.recordLogLine(raw),
      });
      procs.push(p);
    }
    await Promise.all(procs.map((p) => p.waitFor((l) => l.msg === 'coordinator started', 60_000)));
    // Wait for the balanced assignment (3/2/2 pools), unchanged for 3 s: pools handed over
    // after the wallets chose their instances would turn a relay or redirect into a direct session.
    const deadline = Date.now() + 90_000;
    let stableSince = 0;
    let last = '';
    for (;;) {
      const owners = ALL_POOLS.map((pool) => recorder.servingNow(pool));
      const counts = INSTANCES.map((i) => owners.filter((o) => o.length === 1 && o[0] === i).length);
      const now = owners.map((o) => o.join('+')).join(',');
      const balanced = owners.every((o) => o.length === 1) && Math.max(...counts) - Math.min(...counts) <= 1;
      if (now !== last) stableSince = Date.now();
      last = now;
      if (balanced && Date.now() - stableSince >= 3000) break;
      if (Date.now() > deadline) throw new Error(`Pools not balanced (${now}):\n${logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) p.signal('SIGKILL');
    await Promise.all(procs.map((p) => p.exit));
    await btcd?.stop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A wallet of generation `gen` on instance `instance`, relayed (plain) or following redirects. */
  function wallet(gen: GenerationId, instance: string, follows: boolean): GenWallet {
    const requests: SentRequest[] = [];
    const stompFrames: string[] = [];
    const f = recordingFetch(requests);
    const client = new WhirlpoolClient({
      serverUrl: url(instance),
      acceptRedirect: follows,
      generation: gen,
      wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' }),
      rpc: btcd.rpc,
      fetch: f,
      registerOutputFetch: f,
      transport: follows ? 'websocket' : 'sockjs',
      reconnectDelayMs: 500,
      reconnectUntilMs: 60_000,
      session: {
        debug: (m) => {
          if (m.startsWith('>>> ')) stompFrames.push(m.slice(4));
        },
        randomRetryWindow: { minMs: 200, maxMs: 1000 },
      },
    });
    return { gen, client, requests, stompFrames };
  }

  /** The two non-owner instances of a pool. */
  function nonOwners(pool: string): [string, string] {
    const owner = recorder.servingNow(pool)[0];
    const others = INSTANCES.filter((i) => i !== owner);
    return [others[0]!, others[1]!];
  }

  async function fund(ws: GenWallet[], sats: number): Promise<void> {
    await btcd.wallet.fundMany(
      ws.map((w) => ({ address: w.client.wallet.account('deposit').nextKey(0).address, sats: BigInt(sats) })),
    );
    await btcd.mine(1);
  }

  /** Opens the wallet and makes its Tx0 with `n` premix outputs; checks the Tx0 is on the node. */
  async function openAndTx0(w: GenWallet, pool: string, n: number) {
    const opened = await w.client.open();
    expect(opened, w.gen).toBe(GENERATIONS[w.gen].checkOutput === 'none' ? 'skipped' : 'ok');
    const tx0 = await w.client.tx0({
      poolId: pool,
      utxos: await w.client.utxos('deposit'),
      feeRate: 2,
      mixFeeRate: 3,
      maxOutputs: n,
    });
    expect(tx0.premixOutputs, w.gen).toHaveLength(n);
    expect(tx0.opReturnData.length, w.gen).toBe(GENERATIONS[w.gen].opReturn === 'V1' ? 80 : 64);
    expect(await btcd.rpc.getRawTransaction(tx0.txid), `${w.gen} Tx0 ${tx0.txid} on the node`).not.toBeNull();
    return w.client.premixUtxos(tx0);
  }

  /** Asserts the wallet's REST calls and STOMP CONNECT are exactly its generation's. */
  function expectWire(w: GenWallet, pool: string): void {
    const g = GENERATIONS[w.gen];
    const paths = w.requests.map((r) => `${r.method} ${r.path.replace(/\?.*$/, '')}`);
    const tx0Path = { get: 'GET /rest/tx0', post: 'POST /rest/tx0', 'post-v1': 'POST /rest/tx0/v1' }[
      g.tx0Data
    ];
    expect(paths.includes(tx0Path), `${w.gen}: ${paths.join(', ')}`).toBe(true);
    for (const other of ['GET /rest/tx0', 'POST /rest/tx0', 'POST /rest/tx0/v1'].filter(
      (p) => p !== tx0Path,
    )) {
      expect(paths.includes(other), `${w.gen} must not call ${other}`).toBe(false);
    }
    expect(paths.includes('POST /rest/checkOutput'), `${w.gen} checkOutput`).toBe(g.checkOutput !== 'none');
    expect(paths.includes('POST /rest/tx0/push'), `${w.gen} push`).toBe(g.broadcast === 'push');
    expect(paths.includes('POST /rest/tx0Notify'), `${w.gen} tx0Notify`).toBe(g.tx0Notify !== 'none');
    if (g.tx0Data === 'get') {
      expect(w.requests.find((r) => r.path.startsWith('/rest/tx0?'))?.path).toBe(
        `/rest/tx0?poolId=${pool}&scode=null`,
      );
    } else {
      const body = w.requests.find(
        (r) => r.path === (g.tx0Data === 'post' ? '/rest/tx0' : '/rest/tx0/v1'),
      )?.body;
      expect(body).toEqual(
        g.sendsCascading
          ? { scode: null, partnerId: 'SAMOURAI', cascading: false }
          : { scode: null, partnerId: 'SAMOURAI' },
      );
    }
    const notify = w.requests.find((r) => r.path === '/rest/tx0Notify');
    if (notify) expect(Object.keys(notify.body as object)).toEqual(['txid', 'poolId']);
    const outputs = w.requests.filter((r) => r.path === '/rest/registerOutput').map((r) => r.body as object);
    expect(outputs.length, `${w.gen} registerOutput`).toBeGreaterThanOrEqual(1);
    for (const o of outputs) {
      expect(Object.keys(o), w.gen).toEqual(
        g.bordereau === 'random'
          ? ['inputsHash', 'unblindedSignedBordereau64', 'receiveAddress', 'bordereau64']
          : ['inputsHash', 'unblindedSignedBordereau64', 'receiveAddress'],
      );
    }
    const connect = w.stompFrames.find((f) => f.startsWith('CONNECT'));
    expect(connect, `${w.gen} CONNECT frame`).toBeDefined();
    expect(/\npoolId:/.test(connect!), `${w.gen} CONNECT poolId`).toBe(g.connectPoolIdHeader);
    const registerInput = w.stompFrames.find((f) => f.includes('destination:/ws/registerInput'));
    expect(registerInput?.includes('"blockHeight":'), `${w.gen} blockHeight`).toBe(g.sendsBlockHeight);
  }

  /** Runs one generation's pool: Tx0s, mix 1, remix; returns the SUCCESS outcomes (2 per mix). */
  async function runGeneration(gen: GenerationId): Promise<Success[]> {
    const pool = POOL_OF[gen];
    const [relayVia, redirectVia] = nonOwners(pool);
    const relayed = wallet(gen, relayVia, false);
    const follower = wallet(gen, redirectVia, true);
    const denomination = Math.round(Number.parseFloat(pool) * 1e8);
    await fund([relayed, follower], 3 * denomination);
    const [premixA] = await openAndTx0(relayed, pool, 1);
    const [premixB1, premixB2] = await openAndTx0(follower, pool, 2);
    // Mix 1: one premix of each; the relayed wallet then remixes its output (liquidity).
    const remixing = relayed.client.mix(premixA!, {
      poolId: pool,
      mixsTarget: 2,
      remixMinConfirmations: 0,
      maxAttempts: 1,
    });
    const relayedAttempts: MixOutcome[] = [];
    remixing.on('attempt', (o) => relayedAttempts.push(o));
    let redirected = 0;
    const first = follower.client.mix(premixB1!, { poolId: pool, maxAttempts: 1 });
    first.on('redirect', () => redirected++);
    const firstOutcome = await first.done;
    expect(firstOutcome, `${gen} mix 1`).toMatchObject({ status: 'SUCCESS' });
    // Mix 2: the follower's second premix with the relayed wallet's postmix.
    const second = follower.client.mix(premixB2!, { poolId: pool, maxAttempts: 1 });
    const [remixOutcome, secondOutcome] = await Promise.all([remixing.done, second.done]);
    expect(remixOutcome, `${gen} remix`).toMatchObject({ status: 'SUCCESS', liquidity: true });
    expect(remixing.mixCount).toBe(2);
    expect(secondOutcome, `${gen} mix 2`).toMatchObject({ status: 'SUCCESS', liquidity: false });
    expect(redirected, `${gen} follower redirected`).toBeGreaterThanOrEqual(1);
    expect(relayedAttempts.map((o) => o.status)).toEqual(['SUCCESS', 'SUCCESS']);
    expect((relayedAttempts[0] as Success).mixId).toBe((firstOutcome as Success).mixId);
    expect((relayedAttempts[1] as Success).mixId).toBe((secondOutcome as Success).mixId);
    expectWire(relayed, pool);
    expectWire(follower, pool);
    return [...relayedAttempts, firstOutcome, secondOutcome] as Success[];
  }

  it('each generation makes its Tx0, mixes through a non-owner and remixes; old and young inputs mix together', async () => {
    const results = await Promise.all([
      ...MATRIX.map((g) => runGeneration(g)),
      (async (): Promise<Success[]> => {
        const [x, y] = nonOwners(MIXED_POOL);
        const old = wallet(MIXED[0], x, false);
        const young = wallet(MIXED[1], y, true);
        await fund([old, young], 2 * 7_000_000);
        const [u0] = await openAndTx0(old, MIXED_POOL, 1);
        const [u6] = await openAndTx0(young, MIXED_POOL, 1);
        const outs = await Promise.all([
          old.client.mix(u0!, { poolId: MIXED_POOL, maxAttempts: 1 }).done,
          young.client.mix(u6!, { poolId: MIXED_POOL, maxAttempts: 1 }).done,
        ]);
        expect(outs.map((o) => o.status)).toEqual(['SUCCESS', 'SUCCESS']);
        expect((outs[0] as Success).mixId).toBe((outs[1] as Success).mixId);
        expectWire(old, MIXED_POOL);
        expectWire(young, MIXED_POOL);
        return outs as Success[];
      })(),
    ]).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${logs()}`, { cause: err });
    });
    const successes = results.flat();
    const { mixIds, rows } = await expectMixesRecordedOnce({
      dbUrl: db.url,
      btcd,
      successes,
      perMix: 2,
      context: logs,
    });
    expect(mixIds).toHaveLength(MATRIX.length * 2 + 1);
    expect(rows.filter((m) => m.mix_status !== 'SUCCESS')).toEqual([]);
    expect(recorder.overlaps()).toEqual([]);
  }, 300_000);
});
