/**
 * Abuse suite (issue 13) against one real coordinator process (`node
 * coordinator/main.ts`, MariaDB, btcd regtest) with low limits, while two
 * honest wallets (reference clients on 127.0.0.1) mix all the time. Each test
 * runs one attack from its own loopback address and asserts the bound holds
 * (status code, connection closed, RSS growth under a stated figure, query or
 * refusal counters) and, for the heavy ones, that an honest mix completes
 * while the attack runs. The abuse limits' own logic has unit tests in
 * test/unit/limits/ and test/unit/transport/stomp_session.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { singlePoolFile } from '#devnet/pools_file.ts';
import { freePort } from '#devnet/ports.ts';
import {
  httpPost,
  measure,
  metricValue,
  rawPost,
  slowClient,
  stompProbe,
} from '#test/support/abuse_attacks.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { type HonestMixer, prepareHonestMixer } from '#test/support/honest_mixer.ts';

const POOL_ID = '0.01btc';
const DENOMINATION = 1_000_000;
const MB = 1024 * 1024;
/** The limits of the coordinator under attack (low, so the suite is quick). */
const LIMITS = {
  WHIRLPOOL_HTTP_HEADERS_TIMEOUT_MS: '2000',
  WHIRLPOOL_HTTP_REQUEST_TIMEOUT_MS: '4000',
  WHIRLPOOL_LIMIT_SESSIONS_PER_ADDRESS: '10',
  WHIRLPOOL_LIMIT_CONNECTIONS_PER_ADDRESS: '20',
  WHIRLPOOL_LIMIT_STOMP_IDLE_TIMEOUT_MS: '3000',
  WHIRLPOOL_LIMIT_STOMP_CONNECT_TIMEOUT_MS: '3000',
  WHIRLPOOL_LIMIT_TX0_PER_MINUTE_PER_ADDRESS: '10',
};

describe('abuse: one client cannot exhaust an instance', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let dir: string;
  let proc: CoordinatorProcess;
  let port: number;
  let honest: HonestMixer;
  let baseEnv: Record<string, string>;
  const pid = () => proc.child.pid!;
  const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

  /** Runs `attack` while the honest wallets mix one UTXO each; both must succeed. */
  async function duringHonestMix<T>(attack: () => Promise<T>): Promise<T> {
    const mix = honest.mixOnce();
    const result = await attack();
    const { outcomes } = await mix;
    expect(
      outcomes.map((o) => o.status),
      proc.output().slice(-3000),
    ).toEqual(['SUCCESS', 'SUCCESS']);
    return result;
  }

  beforeAll(async () => {
    [db, btcd, dir] = await Promise.all([
      createTestDatabase('abuse'),
      startBtcd(),
      mkdtemp(join(tmpdir(), 'wp-abuse-')),
    ]);
    const poolsFile = join(dir, 'pools.json');
    await writeFile(
      poolsFile,
      JSON.stringify(singlePoolFile({ id: POOL_ID, denomination: DENOMINATION, anonymitySet: 2 })),
    );
    port = await freePort();
    baseEnv = {
      ...baseCoordinatorEnv({
        dbUrl: db.url,
        rpcUrl: btcd.rpcUrl,
        poolsFile,
        secretWalletWords: Wallet.generateMnemonic(),
      }),
      WHIRLPOOL_TX0_DELAY_MS: '0',
      WHIRLPOOL_LOG_LEVEL: 'info',
    };
    proc = spawnCoordinator({
      instanceId: 'abuse-1',
      env: {
        ...baseEnv,
        ...LIMITS,
        WHIRLPOOL_PORT: String(port),
        WHIRLPOOL_URL_CLEAR: `http://127.0.0.1:${port}`,
      },
    });
    await proc.waitFor((l) => l.msg === 'coordinator started', 60_000);
    honest = await prepareHonestMixer({
      btcd,
      url: `http://127.0.0.1:${port}`,
      poolId: POOL_ID,
      denomination: DENOMINATION,
      transports: ['websocket', 'sockjs'],
      mixes: 6,
    });
    // one mix before any attack: the pool works
    expect((await honest.mixOnce()).outcomes.map((o) => o.status)).toEqual(['SUCCESS', 'SUCCESS']);
  });

  afterAll(async () => {
    honest?.stop();
    proc?.signal('SIGKILL');
    await proc?.exit;
    await btcd?.stop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('body limits: 200 MB registerOutput and dashboard login, 64 MB chunked: 413, closed, RSS +<40 MB; mixing goes on', async () => {
    const { result, rssGrowth } = await duringHonestMix(() =>
      measure(pid(), async () =>
        Promise.all([
          rawPost({
            port,
            path: '/rest/registerOutput',
            totalBytes: 200 * MB,
            chunked: false,
            localAddress: '127.0.0.2',
          }),
          rawPost({
            port,
            path: '/rest/registerOutput',
            totalBytes: 64 * MB,
            chunked: true,
            localAddress: '127.0.0.2',
          }),
          rawPost({
            port,
            path: '/dashboard/login',
            totalBytes: 200 * MB,
            chunked: false,
            localAddress: '127.0.0.2',
            contentType: 'application/x-www-form-urlencoded',
          }),
          rawPost({
            port,
            path: '/rest/checkOutput',
            totalBytes: 10 * MB,
            chunked: true,
            localAddress: '127.0.0.2',
          }),
        ]),
      ),
    );
    for (const r of result) {
      expect(r.status).toBe(413);
      expect(r.closed).toBe(true);
      expect(JSON.parse(r.body)).toEqual({ message: 'Request body too large' });
      // the server stopped reading long before the end (socket buffers aside)
      expect(r.sentBytes).toBeLessThan(16 * MB);
    }
    expect(rssGrowth).toBeLessThan(40 * MB);
    // a normal registerOutput body is still accepted by the limit (the engine answers)
    const ok = await fetch(`http://127.0.0.1:${port}/rest/registerOutput`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        inputsHash: 'ab'.repeat(64),
        unblindedSignedBordereau64: 'abcde',
        receiveAddress: 'x',
      }),
    });
    expect(ok.status).not.toBe(413);
  });

  it('server timeouts: headers not finished in 2 s, a body not finished in 4 s: the connection is closed', async () => {
    const headers = slowClient({
      port,
      prefix: 'GET /rest/pools HTTP/1.1\r\nHost: x\r\n',
      localAddress: '127.0.0.3',
    });
    const body = slowClient({
      port,
      prefix: 'POST /rest/registerOutput HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"inputsHash"',
      localAddress: '127.0.0.3',
    });
    const [h, b] = await Promise.all([headers.closed, body.closed]);
    expect(h.afterMs).toBeLessThan(2000 + 2500); // timeout + Node's 1 s check interval + slack
    expect(h.afterMs).toBeGreaterThanOrEqual(1900);
    expect(h.response).toMatch(/^HTTP\/1\.1 408|^$/);
    expect(b.afterMs).toBeLessThan(4000 + 2500);
    expect(b.response).toMatch(/^HTTP\/1\.1 408|^$/);
  });

  it('config: WHIRLPOOL_TEST_MODE=true with WHIRLPOOL_NETWORK=mainnet is refused at start (exit 2)', async () => {
    const p = spawnCoordinator({
      instanceId: 'abuse-mainnet',
      env: { ...baseEnv, WHIRLPOOL_NETWORK: 'mainnet', WHIRLPOOL_TEST_MODE: 'true', WHIRLPOOL_PORT: '0' },
    });
    const exit = await p.exit;
    expect(exit.code).toBe(2);
    expect(p.output()).toMatch(/WHIRLPOOL_TEST_MODE: test mode skips the Tx0 fee check/);
  });

  it('sessions per address and idle sessions: 18 heart-beat:0,0 sessions from one address: 10 accepted, all dropped after the idle timeout', async () => {
    const { result: probes, rssGrowth } = await duringHonestMix(() =>
      measure(pid(), async () => {
        const ps = Array.from({ length: 18 }, () => stompProbe(port, '127.0.0.4'));
        const statuses = await Promise.all(ps.map((p) => p.opened));
        for (const [i, p] of ps.entries())
          if (statuses[i] === 101) p.ws.send('CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\0');
        await Promise.all(ps.map((p) => p.closed));
        return { ps, statuses };
      }),
    );
    const accepted = probes.statuses.filter((s) => s === 101).length;
    expect(accepted).toBe(10);
    expect(probes.statuses.filter((s) => s === 429)).toHaveLength(8);
    const connected = probes.ps.filter((p) => p.frames.some((f) => f.startsWith('CONNECTED')));
    expect(connected).toHaveLength(10);
    expect(probes.ps.every((p) => p.isClosed())).toBe(true); // idle timeout (3 s): none left open
    expect(rssGrowth).toBeLessThan(30 * MB);
    const m = await metrics();
    expect(
      metricValue(m, 'whirlpool_limit_refusals_total', { limit: 'sessions_per_address' }),
    ).toBeGreaterThanOrEqual(8);
  });

  it('connections per address: 60 idle TCP connections from one address: at most 20 stay open', async () => {
    const clients = Array.from({ length: 60 }, () =>
      slowClient({ port, prefix: '', localAddress: '127.0.0.5' }),
    );
    let closed = 0;
    for (const c of clients) void c.closed.then(() => closed++);
    const until = Date.now() + 10_000;
    while (closed < 40 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBeGreaterThanOrEqual(40);
    for (const c of clients) c.socket.destroy();
    const m = await metrics();
    expect(
      metricValue(m, 'whirlpool_limit_refusals_total', { limit: 'connections_per_address' }),
    ).toBeGreaterThanOrEqual(40);
  });

  it('re-SUBSCRIBE flood: 10,000 SUBSCRIBEs with one id in 10 messages: ERROR after 4 and closed, no Pool-not-found replies', async () => {
    const p = stompProbe(port, '127.0.0.6');
    expect(await p.opened).toBe(101);
    p.ws.send('CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\0');
    const sub = 'SUBSCRIBE\nid:0\ndestination:/private/reply\npoolId:nope\nprotocolVersion:0.23\n\n\0';
    // the second pool SUBSCRIBE already ends the session; a re-SUBSCRIBE without poolId is counted as well
    const resub = 'SUBSCRIBE\nid:0\ndestination:/private/reply\n\n\0';
    for (let i = 0; i < 10; i++) p.ws.send((i === 0 ? sub : '') + resub.repeat(1000));
    await p.closed;
    const errors = p.frames.filter((f) => f.startsWith('ERROR'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/message:Too many SUBSCRIBE frames \(max 4\)/);
    expect(p.frames.filter((f) => f.startsWith('MESSAGE'))).toHaveLength(0);
  });

  it('SEND flood: 1,500 × 60 KB registerInput on one session: bounded RPC/engine work, no per-refusal log line, RSS +<80 MB; mixing goes on', async () => {
    const m0 = await metrics();
    const linesBefore = proc.lines.length;
    const p = stompProbe(port, '127.0.0.7');
    expect(await p.opened).toBe(101);
    p.ws.send('CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\0');
    p.ws.send('SUBSCRIBE\nid:0\ndestination:/private/reply\npoolId:0.01btc\nprotocolVersion:0.23\n\n\0');
    // a well-formed registerInput (an unknown UTXO: the engine would ask the node) padded to 60 KB
    const body = JSON.stringify({
      poolId: POOL_ID,
      utxoHash: randomBytes(32).toString('hex'),
      utxoIndex: 0,
      signature: 'AAAA',
      liquidity: false,
      padding: 'x'.repeat(60_000),
    });
    const frame = `SEND\ndestination:/ws/registerInput\nprotocolVersion:0.23\n\n${body}\0`;
    const { rssGrowth } = await duringHonestMix(() =>
      measure(pid(), async () => {
        for (let i = 0; i < 1500; i++) p.ws.send(frame);
        await new Promise<void>((resolve) => {
          const t = setInterval(async () => {
            const m = await metrics();
            const refused = metricValue(m, 'whirlpool_limit_refusals_total', {
              limit: 'register_input_session_rate',
            });
            if (
              p.isClosed() ||
              refused -
                metricValue(m0, 'whirlpool_limit_refusals_total', { limit: 'register_input_session_rate' }) >=
                1400
            ) {
              clearInterval(t);
              resolve();
            }
          }, 200);
        });
      }),
    );
    p.ws.terminate();
    const m1 = await metrics();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      metricValue(m1, name, labels) - metricValue(m0, name, labels);
    // Only the per-session burst reaches the engine; the rest is refused before any RPC or query, or,
    // once the SENDs in flight and the 32 waiting frames are full, the session is closed with ERROR.
    const refused = delta('whirlpool_limit_refusals_total', { limit: 'register_input_session_rate' });
    if (refused < 1400)
      expect(p.frames.filter((f) => f.startsWith('ERROR')).join(), `${refused} refused`).toMatch(
        /message:Too many messages in flight \(max 4\)/,
      );
    expect(delta('whirlpool_register_input_total', { outcome: 'received' })).toBeGreaterThanOrEqual(30);
    expect(rssGrowth).toBeLessThan(80 * MB);
    // bitcoin RPC calls in the whole window, the honest mix's included (1,500 unbounded would be ≥ 1,500)
    expect(delta('whirlpool_bitcoin_rpc_duration_seconds_count')).toBeLessThan(150);
    const newLines = proc.lines.slice(linesBefore);
    expect(newLines.filter((l) => JSON.stringify(l).includes('"stack"')).length).toBeLessThan(5);
    expect(newLines.length).toBeLessThan(200);
  });

  it('unknown inputsHash at registerOutput: 100 requests (20 at once) cost at most 4 lookups each (was 15)', async () => {
    const m0 = await metrics();
    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    const statuses = await Promise.all(
      Array.from({ length: 100 }, () =>
        httpPost({
          port,
          path: '/rest/registerOutput',
          localAddress: '127.0.0.8',
          agent,
          body: JSON.stringify({
            inputsHash: randomBytes(64).toString('hex'),
            unblindedSignedBordereau64: 'abcde',
            receiveAddress: 'bcrt1qxyz',
          }),
        }),
      ),
    );
    agent.destroy();
    expect(statuses.every((s) => s === 500)).toBe(true);
    const m1 = await metrics();
    const lookups =
      metricValue(m1, 'whirlpool_inputs_hash_lookups_total') -
      metricValue(m0, 'whirlpool_inputs_hash_lookups_total');
    expect(lookups).toBeGreaterThanOrEqual(100);
    expect(lookups).toBeLessThanOrEqual(100 * 4);
  });

  it('/rest/tx0 flood from one address: 10 answered, the rest 429 (no fee index spent); other addresses unaffected', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 5, localAddress: '127.0.0.9' });
    const get = (a: Agent) =>
      new Promise<number>((resolve) => {
        const req = request(
          { host: '127.0.0.1', port, path: `/rest/tx0?poolId=${POOL_ID}`, agent: a },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', () => resolve(0));
        req.end();
      });
    const m0 = await metrics();
    const statuses = await Promise.all(Array.from({ length: 40 }, () => get(agent)));
    agent.destroy();
    expect(
      statuses.filter((s) => s === 200),
      JSON.stringify(statuses),
    ).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
    const m1 = await metrics();
    const answered = (m: string) => metricValue(m, 'whirlpool_tx0_requests_total');
    expect(answered(m1) - answered(m0)).toBe(10);
    // an honest wallet on another address still gets its Tx0 data
    const other = new Agent({ localAddress: '127.0.0.1' });
    expect(await get(other)).toBe(200);
    other.destroy();
  });
});
