/**
 * Failover benchmark of the coordinator cluster: how long a pool stays
 * unserved after its owner is killed with SIGKILL, and how long the clients
 * waiting in that pool take to be registered again by the new owner.
 *
 * Three real coordinator processes (`node coordinator/main.ts`) share one
 * MariaDB database (a fresh one on the test server) and a btcd regtest node,
 * with two pools (anonymity set 10, `WHIRLPOOL_TEST_MODE=true`: no Tx0
 * provenance check) and the default lease timings (TTL 4000 ms, renew
 * 1000 ms, poll 1000 ms): two instances serve one pool each, the third is an
 * idle stand-by.
 *
 * Each round:
 * 1. picks the pool to kill (alternating) and funds 3 fresh clients (one new
 *    wallet each, one must-mix UTXO of denomination + 200 sats at a premix
 *    P2WPKH address of that wallet, each from its own funding transaction,
 *    mined);
 * 2. starts their mixes with the reference client (`WhirlpoolClient.mix`,
 *    SockJS transport, 0.23 reconnect behaviour: immediate reconnect after a
 *    lost connection, a failed connect retried every 5000 ms for 500 s,
 *    heart-beat 20 s — the library defaults, not shortened) and waits until
 *    the owner invited each of them (phase `CONFIRMING_INPUT`); with
 *    anonymity set 10 the mix can never start, so they just wait there;
 * 3. waits a random 0–1000 ms (so kills land at every phase of the renewal
 *    cycle), kills the pool's owner with SIGKILL and measures
 *    - takeover: kill → another instance logs `pool-serve` for the pool;
 *    - clients back: kill → each client's first `CONFIRMING_INPUT` after the
 *      kill (it reconnected, registered its input again and was invited by
 *      the new owner; a client not back within 60 s counts as a failure);
 *    all on the monotonic-derived wall clock of this machine;
 * 4. stops the clients and starts a replacement instance, the new stand-by.
 *
 * How the clients reach the pool: as UNMODIFIED 0.23 clients (no
 * `acceptRedirect`) with a fixed `serverUrl` = the instance that serves the
 * OTHER pool, which relays their STOMP sessions to the pool's owner
 * (docs/protocol-addendum-redirect.md §6). After the kill the relay ends,
 * the client reconnects at once to the same instance, which relays it again
 * (to the dead owner until its lease expires — the relay then closes the
 * client after 1 s — then to the new owner). This is the path a real 0.23
 * client configured with one cluster URL takes, and the only one where a
 * fixed-URL client survives its pool's owner dying: a client following a
 * `RedirectResponse` keeps the owner's URL and, after the owner died, retries
 * that dead URL every 5 s (it needs directory discovery to move on). The
 * instance the clients talk to is never the one killed in their round; since
 * any instance is killed in a later round, clients are restarted every round.
 *
 * A second cohort each round: {@link CLIENTS} clients that retry like Java
 * 0.23.28+ (generation `G1-G2`: a *failed* connect is retried after a random
 * 5–120 s, forever; a lost connection at once) and reach the cluster through
 * one stable URL — a round-robin TCP balancer over every instance port,
 * without health checks (what DNS round robin or a stale Onionbalance
 * descriptor does): after the kill the balancer still sends some connections
 * to the dead instance, and each such failed connect costs a random delay.
 * The random window is scaled down by `--retry-scale` (default 10: 0.5–12 s)
 * so a run stays short; `--retry-scale 1` uses the real 5–120 s. Both
 * cohorts' figures are printed side by side.
 *
 * Usage: `npm run bench:failover [-- N | --quick] [--retry-scale K]`
 * (default N = 20 kills, `--quick` = 4). Needs the same machine setup as the
 * integration tests (MariaDB on `WHIRLPOOL_TEST_DB_URL`, btcd from
 * `.cache/go-bin` or `$BTCD_BIN`). Prints every round, then plain summary
 * lines `takeover p50=… p95=… max=…`, `clients back p50=… p95=… max=… (n=…)`
 * (0.23.18-style, relayed) and `clients back (0.23.28+ retry, balancer) …`.
 * Exit code 1 on overlapping serve intervals or a client not back.
 *
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GenerationId, type MixHandle, type MixOutcome, WhirlpoolClient } from '#client/api.ts';
import { RANDOM_RETRY_MAX_MS, RANDOM_RETRY_MIN_MS } from '#client/generations.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, nowMs, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { writePoolsFile } from '#devnet/pools_file.ts';
import { freePort } from '#devnet/ports.ts';
import { createTestDatabase } from '#test/support/db.ts';
import { ServeRecorder } from '#test/support/serve_recorder.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const scaleAt = args.indexOf('--retry-scale');
const retryScale = scaleAt >= 0 ? Number(args[scaleAt + 1]) : 10;
if (!(retryScale >= 1)) throw new Error(`--retry-scale must be a number >= 1, got '${args[scaleAt + 1]}'`);
const RETRY_WINDOW = { minMs: RANDOM_RETRY_MIN_MS / retryScale, maxMs: RANDOM_RETRY_MAX_MS / retryScale };
const countArg = args.find((a, i) => a !== '--quick' && a !== '--retry-scale' && i !== scaleAt + 1);
const kills = countArg === undefined ? (quick ? 4 : 20) : Number(countArg);
if (!Number.isInteger(kills) || kills < 1)
  throw new Error(`Kill count must be a positive integer, got '${countArg}'`);
const POOLS = ['0.01btc', '0.05btc'];
/** Clients waiting in the killed owner's pool, each round. */
const CLIENTS = 3;
/** Larger than CLIENTS: the mix never starts, clients stay in CONFIRM_INPUT. */
const ANONYMITY_SET = 10;
/** Must-mix value above the denomination (pool minerFeeMin 102 .. minerFeeMax 10000). */
const PREMIX_EXTRA_SATS = 200;
const CLIENT_BACK_TIMEOUT_MS = 60_000 + 2 * RETRY_WINDOW.maxMs;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function figures(values: number[]): string {
  if (values.length === 0) return 'p50=- p95=- max=-';
  const s = [...values].sort((a, b) => a - b);
  const f = (v: number) => `${v.toFixed(0)}ms`;
  return `p50=${f(percentile(s, 50))} p95=${f(percentile(s, 95))} max=${f(s.at(-1)!)} min=${f(s[0]!)}`;
}

/**
 * A round-robin TCP balancer on 127.0.0.1 without health checks: each new
 * connection goes to the next backend port; a dead backend's connection is
 * closed at once (the client sees a failed connect).
 */
async function startBalancer(): Promise<{ port: number; setBackends(ports: number[]): void; close(): void }> {
  let backends: number[] = [];
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (backends.length === 0) return void client.destroy();
    const port = backends[next++ % backends.length]!;
    const upstream = connect(port, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    setBackends(ports) {
      backends = [...ports];
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** One benchmark client: its mix handle and what it went through. */
interface BenchClient {
  handle: MixHandle;
  invitedAt: number[];
  lostReconnects: number;
  failedConnects: number;
  outcome: MixOutcome | null;
}

const db = await createTestDatabase('bench failover');
const btcd = await startBtcd();
const dir = await mkdtemp(join(tmpdir(), 'wp-failover-'));
const procs = new Map<string, CoordinatorProcess>();
const urls = new Map<string, string>();
const recorder = new ServeRecorder();
let running: BenchClient[] = [];
try {
  const poolsPath = await writePoolsFile(dir, POOLS, { anonymitySet: ANONYMITY_SET });
  const env = {
    WHIRLPOOL_DB_URL: db.url,
    WHIRLPOOL_BITCOIN_RPC_URL: btcd.rpcUrl,
    WHIRLPOOL_NETWORK: 'regtest',
    WHIRLPOOL_POOLS: poolsPath,
    WHIRLPOOL_SECRET_WALLET_WORDS: 'all all all all all all all all all all all all',
    WHIRLPOOL_HOST: '127.0.0.1',
    WHIRLPOOL_LOG_LEVEL: 'info',
    WHIRLPOOL_TEST_MODE: 'true',
  };
  let seq = 0;
  const start = async (): Promise<CoordinatorProcess> => {
    const id = `bench-${++seq}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const p = spawnCoordinator({
      instanceId: id,
      env: { ...env, WHIRLPOOL_PORT: String(port), WHIRLPOOL_URL_CLEAR: url },
      onLine: (_l, raw) => recorder.recordLogLine(raw),
    });
    procs.set(id, p);
    urls.set(id, url);
    await p.waitFor((l) => l.msg === 'coordinator started', 60_000);
    return p;
  };
  const waitUntil = async (what: string, cond: () => boolean, timeoutMs = 60_000) => {
    const until = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
      await sleep(20);
    }
  };
  const balanced = () =>
    POOLS.every((p) => recorder.servingNow(p).length === 1) &&
    new Set(POOLS.map((p) => recorder.servingNow(p)[0])).size === POOLS.length;

  /**
   * Funds and starts CLIENTS unmodified clients of `pool` talking to
   * `serverUrl`: 0.23.18-style (G0: failed connect retried every 5 s) or
   * 0.23.28+-style (G1-G2: random delay, scaled by `--retry-scale`).
   */
  const startClients = async (
    pool: string,
    serverUrl: string,
    generation: GenerationId = 'G0',
  ): Promise<BenchClient[]> => {
    const denomination = Math.round(Number.parseFloat(pool) * 1e8);
    const value = denomination + PREMIX_EXTRA_SATS;
    const prepared = [];
    for (let i = 0; i < CLIENTS; i++) {
      const wallet = Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' });
      const address = wallet.account('premix').nextKey(0).address;
      // One funding transaction per client (the pools allow one input per txid in a mix).
      const { txid, vout } = await btcd.wallet.fund(address, BigInt(value));
      prepared.push({ wallet, utxo: { txid, vout, value, address } });
    }
    await btcd.mine(1);
    return prepared.map(({ wallet, utxo }) => {
      // Library defaults: sockjs, reconnectDelayMs 5000, reconnectUntilMs 500000, heartbeat 20000, no acceptRedirect.
      const client = new WhirlpoolClient({
        serverUrl,
        wallet,
        rpc: btcd.rpc,
        generation,
        session: { randomRetryWindow: RETRY_WINDOW },
      });
      const handle = client.mix(client.mixUtxo(utxo), { poolId: pool, denomination, maxAttempts: 1 });
      const c: BenchClient = { handle, invitedAt: [], lostReconnects: 0, failedConnects: 0, outcome: null };
      handle.on('phase', (phase) => {
        if (phase === 'CONFIRMING_INPUT') c.invitedAt.push(nowMs());
      });
      handle.on('reconnect', (r) => {
        if (r.lost) c.lostReconnects++;
        else c.failedConnects++;
      });
      void handle.done.then((o) => {
        c.outcome = o;
      });
      return c;
    });
  };
  const stopClients = async (clients: BenchClient[]) => {
    for (const c of clients) c.handle.stop();
    await Promise.race([Promise.all(clients.map((c) => c.handle.done)), sleep(10_000)]);
  };
  const ended = (c: BenchClient) => (c.outcome ? `${c.outcome.status} ${JSON.stringify(c.outcome)}` : '');

  for (let i = 0; i < 3; i++) await start();
  await waitUntil('two owners and a stand-by', balanced);
  const balancer = await startBalancer();
  const livePorts = () => [...procs.keys()].map((id) => Number(new URL(urls.get(id)!).port));
  const takeovers: number[] = [];
  const clientsBack: number[] = [];
  const retryClientsBack: number[] = [];
  let retryFailedConnects = 0;
  let notBack = 0;
  let reconnectsLost = 0;
  let connectsFailed = 0;
  for (let round = 1; round <= kills; round++) {
    const pool = POOLS[round % POOLS.length]!;
    const other = POOLS[(round + 1) % POOLS.length]!;
    const owner = recorder.servingNow(pool)[0]!;
    const entry = recorder.servingNow(other)[0]!;
    balancer.setBackends(livePorts());
    const legacy = await startClients(pool, urls.get(entry)!);
    const retrying = await startClients(pool, `http://127.0.0.1:${balancer.port}`, 'G1-G2');
    running = [...legacy, ...retrying];
    await waitUntil(
      `${2 * CLIENTS} clients invited in ${pool} (owner ${owner}, via ${entry} and the balancer)`,
      () => {
        const dead = running.find((c) => c.outcome !== null);
        if (dead) throw new Error(`A client ended before the kill: ${ended(dead)}`);
        return running.every((c) => c.invitedAt.length > 0);
      },
    );
    await sleep(Math.random() * 1000);
    const killedAt = nowMs();
    procs.get(owner)!.signal('SIGKILL');
    recorder.closeInstance(owner, killedAt);
    await waitUntil(`takeover of ${pool}`, () => recorder.servingNow(pool).length === 1, 30_000);
    const ms = recorder.firstServeAfter(pool, killedAt)!.start - killedAt;
    takeovers.push(ms);
    const backAt = (c: BenchClient) => c.invitedAt.find((t) => t > killedAt);
    const until = Date.now() + CLIENT_BACK_TIMEOUT_MS;
    while (Date.now() < until && !running.every((c) => backAt(c) !== undefined || c.outcome !== null))
      await sleep(20);
    const collect = (clients: BenchClient[], into: number[]): string[] =>
      clients.map((c) => {
        const t = backAt(c);
        if (t === undefined) {
          notBack++;
          return c.outcome ? `ended (${ended(c)})` : 'not back';
        }
        into.push(t - killedAt);
        return `${(t - killedAt).toFixed(0)}`;
      });
    const back = collect(legacy, clientsBack);
    const backRetry = collect(retrying, retryClientsBack);
    for (const c of legacy) {
      reconnectsLost += c.lostReconnects;
      connectsFailed += c.failedConnects;
    }
    for (const c of retrying) retryFailedConnects += c.failedConnects;
    console.log(
      `kill ${round}/${kills}: ${pool} owner ${owner} → ${recorder.servingNow(pool)[0]} in ${ms.toFixed(0)} ms; ` +
        `0.23.18 clients via ${entry} back in [${back.join(', ')}] ms; ` +
        `0.23.28+ clients via the balancer back in [${backRetry.join(', ')}] ms`,
    );
    await stopClients(running);
    running = [];
    await procs.get(owner)!.exit;
    procs.delete(owner);
    await start();
    await waitUntil('balanced again', balanced);
  }
  const overlaps = recorder.overlaps();
  console.log(
    `configuration: ${kills} kills, ${CLIENTS} clients per round, pools ${POOLS.join(' ')} anonymity set ${ANONYMITY_SET}; ` +
      'lease TTL 4000 ms, renew 1000 ms, poll 1000 ms; clients: unmodified 0.23 (no acceptRedirect), sockjs, ' +
      'relayed by the other pool owner, reconnect after lost connection 0 ms, failed connect retry 5000 ms, heart-beat 20000 ms',
  );
  console.log(
    `second cohort: ${CLIENTS} clients per round with the 0.23.28+ retry (random ${RETRY_WINDOW.minMs}-${RETRY_WINDOW.maxMs} ms after a failed connect = ` +
      `${RANDOM_RETRY_MIN_MS}-${RANDOM_RETRY_MAX_MS} ms scaled by 1/${retryScale}), through a round-robin TCP balancer over every instance without health checks`,
  );
  console.log(
    `client reconnects: ${reconnectsLost} after a lost connection, ${connectsFailed} failed connects (0.23.18 cohort); ` +
      `${retryFailedConnects} failed connects (0.23.28+ cohort); overlapping serve intervals: ${overlaps.length}`,
  );
  console.log(`takeover ${figures(takeovers)} (n=${takeovers.length})`);
  console.log(
    `clients back ${figures(clientsBack)} (n=${clientsBack.length}, 0.23.18 retry, relayed; not back within ${CLIENT_BACK_TIMEOUT_MS} ms: ${notBack} in both cohorts)`,
  );
  console.log(
    `clients back (0.23.28+ retry, balancer, window /${retryScale}) ${figures(retryClientsBack)} (n=${retryClientsBack.length})`,
  );
  balancer.close();
  if (overlaps.length > 0 || notBack > 0) process.exitCode = 1;
} finally {
  for (const c of running) c.handle.stop();
  for (const p of procs.values()) p.signal('SIGKILL');
  await Promise.all([...procs.values()].map((p) => p.exit));
  await btcd.stop();
  await db.drop();
  await rm(dir, { recursive: true, force: true });
}
