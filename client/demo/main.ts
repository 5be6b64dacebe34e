/**
 * `npm run demo`: a complete local Whirlpool cluster on this machine, end to
 * end, with real processes — a fresh MySQL database (local MariaDB by
 * default), a btcd regtest node, three coordinator instances sharing the
 * database (pool leases, signed directory, dashboard), one bootstrap node,
 * and a few dozen simulated wallets (client library) that are funded, make
 * Tx0s and mix / remix continuously while a block is mined every few
 * seconds. It runs until Ctrl-C (or for `--duration` seconds). After 60 s
 * of mixing (halfway through a bounded run) the instance owning the most
 * pools — never the one whose dashboard URL is printed — is killed with
 * SIGKILL to show the failover; at the end a summary is printed (mixes,
 * failovers, takeover time) and everything started is stopped (a second
 * Ctrl-C kills at once).
 *
 * The coordinators and the bootstrap node are spawned as processes (this
 * file never imports coordinator code); their logs go to files in the run
 * directory, whose paths are printed.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Command, InvalidArgumentError } from 'commander';
import { DirectoryClient } from '#client/discovery/directory_client.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { freePorts } from '#devnet/ports.ts';
import { isMissingPrerequisite } from '#devnet/prerequisite.ts';
import { provision } from '#devnet/provision.ts';
import { redactUrl } from '#shared/db/mysql_url.ts';
import {
  createDirectoryAccount,
  createFreshDatabase,
  DEFAULT_DEMO_DB_URL,
  DemoDb,
  dropDatabase,
  parseDemoDbUrl,
} from './demo_database.ts';
import { demoPoolsFile } from './demo_pools.ts';
import { type DemoChild, hashDashboardPassword, ProcessGroup } from './demo_processes.ts';
import { DemoWallet } from './demo_wallet.ts';
import { type FailoverReport, watchFailover } from './failover_watch.ts';

/** Parsed command line. */
export interface DemoOptions {
  /** Seconds of mixing before the summary; null: until Ctrl-C. */
  duration: number | null;
  wallets: number;
  instances: number;
  quick: boolean;
  keepDb: boolean;
  dbUrl: string;
}

function positiveInt(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer between ${min} and ${max}`);
    return n;
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(t);
      reject(signal.reason);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `p`, or a rejection as soon as `signal` aborts (Ctrl-C during a long wait). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

const started = Date.now();
function stamp(): string {
  return `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
}
function say(line: string): void {
  process.stdout.write(`${stamp()} ${line}\n`);
}

/** Coordinator instance of the run. */
interface Instance {
  id: string;
  port: number;
  url: string;
  process: DemoChild;
}

/** Runs the demo (see module doc). */
export async function runDemo(o: DemoOptions, signal: AbortSignal, group: ProcessGroup, runDir: string) {
  const poolsFile = demoPoolsFile({ wallets: o.wallets, quick: o.quick });
  let btcd: BtcdNode | null = null;
  let db: DemoDb | null = null;
  let dropAccount: (() => Promise<void>) | null = null;
  let dbCreated = false;
  const wallets: DemoWallet[] = [];
  let mining: Promise<void> | null = null;
  const stopMining = new AbortController();
  try {
    // 1. database, node, keys
    say(
      `database: ${redactUrl(o.dbUrl)} (created fresh${o.keepDb ? ', kept afterwards' : ', dropped afterwards'})`,
    );
    await createFreshDatabase(o.dbUrl);
    dbCreated = true;
    say('starting btcd (regtest) and mining 110 blocks...');
    btcd = await startBtcd();
    signal.throwIfAborted();
    const node = btcd;
    say(`btcd: RPC ${node.rpc.endpoint}, data dir ${node.dataDir}`);
    const directoryKey = ed25519.utils.randomSecretKey();
    const directoryPublicKey = bytesToHex(ed25519.getPublicKey(directoryKey));
    const dashboardPassword = randomBytes(12).toString('base64url');
    const dashboardHash = await hashDashboardPassword(dashboardPassword);
    const poolsPath = join(runDir, 'pools.json');
    await writeFile(poolsPath, `${JSON.stringify(poolsFile.json, null, 2)}\n`);
    say(
      `pools: ${poolsFile.pools.map((p) => `${p.id} (anonymity set ${p.anonymitySet})`).join(', ')} — ${poolsPath}`,
    );

    // 2. coordinators
    const ports = await freePorts(o.instances + 1);
    const secretWords = Wallet.generateMnemonic();
    const instances: Instance[] = [];
    for (let i = 0; i < o.instances; i++) {
      const id = `demo-${String.fromCharCode(97 + i)}`;
      const port = ports[i]!;
      const url = `http://127.0.0.1:${port}`;
      const child = group.spawnNode(id, 'coordinator/main.ts', {
        WHIRLPOOL_DB_URL: o.dbUrl,
        WHIRLPOOL_BITCOIN_RPC_URL: node.rpcUrl,
        WHIRLPOOL_NETWORK: 'regtest',
        WHIRLPOOL_POOLS: poolsPath,
        WHIRLPOOL_SECRET_WALLET_WORDS: secretWords,
        WHIRLPOOL_PORT: String(port),
        WHIRLPOOL_HOST: '127.0.0.1',
        WHIRLPOOL_INSTANCE_ID: id,
        WHIRLPOOL_URL_CLEAR: url,
        WHIRLPOOL_TX0_DELAY_MS: o.quick ? '0' : '200',
        WHIRLPOOL_CLUSTER_ENABLED: 'true',
        WHIRLPOOL_DRAIN_TIMEOUT_MS: '5000',
        WHIRLPOOL_SHUTDOWN_TIMEOUT_MS: '10000',
        WHIRLPOOL_DIRECTORY_PRIVATE_KEY: bytesToHex(directoryKey),
        WHIRLPOOL_DASHBOARD_USER: 'demo',
        WHIRLPOOL_DASHBOARD_PASSWORD_HASH: dashboardHash,
        WHIRLPOOL_LOG_LEVEL: 'info',
      });
      instances.push({ id, port, url, process: child });
      say(`coordinator ${id}: ${url} pid ${child.pid}, log ${child.logPath}`);
    }
    await abortable(
      Promise.all(instances.map((inst) => inst.process.waitForLine(/"msg":"coordinator started"/, 90_000))),
      signal,
    );
    // the dashboard instance is spared by the planned kill, so its URL keeps answering
    const dashboardInstance = instances[0]!;
    const dashboard = `${dashboardInstance.url}/dashboard (user demo, password ${dashboardPassword})`;
    say(
      `${instances.length} coordinators started; dashboard ${dashboard} on ${dashboardInstance.id}, which the planned kill spares (every instance serves it)`,
    );
    signal.throwIfAborted();

    // 3. bootstrap node (read-only directory account)
    const account = await createDirectoryAccount(o.dbUrl);
    dropAccount = account ? () => account.drop() : null;
    const bootstrap = group.spawnNode('bootstrap', 'bootstrap/node.ts', {
      BOOTSTRAP_DB_URL: account?.url ?? o.dbUrl,
      BOOTSTRAP_HOST: '127.0.0.1',
      BOOTSTRAP_PORT: String(ports[o.instances]),
      BOOTSTRAP_DIRECTORY_PUBLIC_KEY: directoryPublicKey,
    });
    const bootstrapUrl = (
      await abortable(bootstrap.waitForLine(/listening on (http:\/\/\S+)/, 30_000), signal)
    )[1]!;
    say(
      `bootstrap node: ${bootstrapUrl}/instances pid ${bootstrap.pid} (${account ? `read-only account ${account.user}: SELECT on directory_view only` : 'admin account: could not create a read-only one'}), log ${bootstrap.logPath}`,
    );
    const directory = new DirectoryClient({
      bootstrapUrls: [bootstrapUrl],
      publicKey: directoryPublicKey,
      timeoutMs: 3000,
    });
    db = await DemoDb.open(o.dbUrl);
    await waitForOwners(directory, poolsFile.pools.length, signal);
    say(`directory: ${ownersLine(directory)}`);

    // 4. wallets: fund, mine, Tx0
    const mixIds = new Set<string>();
    const retryDelayMs = o.quick ? 1000 : 3000;
    for (let i = 0; i < o.wallets; i++) {
      const pool = poolsFile.pools[i % poolsFile.pools.length]!;
      wallets.push(
        new DemoWallet({
          name: `wallet-${String(i + 1).padStart(2, '0')}`,
          poolId: pool.id,
          denomination: pool.denomination,
          rpc: node.rpc,
          directory,
          transport: i % 2 === 0 ? 'sockjs' : 'websocket',
          retryDelayMs,
          mixesPerUtxo: () => 2 + Math.floor(Math.random() * 3),
          onMix: (mixId) => mixIds.add(mixId),
          log: (m) => say(m),
        }),
      );
    }
    // A mix takes at most one input per transaction and per wallet (maxInputsSameHash and
    // maxInputsSameUserHash 1, as the reference): the outputs of one mix remix in different
    // mixes, so the pools need a steady flow of new Tx0s (each a new transaction) to fill
    // mixes; with one Tx0 every 6 s a 5-input mix waited for minutes (issue 10).
    const tx0EveryMs = o.quick ? 1500 : 2000;
    // funds for the run (an unbounded run is funded for an hour of Tx0s, then only remixes)
    const fundedMs = (o.duration ?? 3600) * 1000;
    const tx0Budget = Math.max(4, Math.ceil(fundedMs / tx0EveryMs / o.wallets) + 3);
    await node.wallet.fundMany(
      wallets.map((w) => {
        const pool = poolsFile.pools.find((p) => p.id === w.poolId)!;
        const perTx0 = Math.ceil(pool.denomination * 1.02) + pool.feeValue + 12_000;
        return { address: w.depositAddress(), sats: BigInt(perTx0 * tx0Budget) };
      }),
    );
    await node.mine(1);
    say(`${wallets.length} wallets funded (${tx0Budget} Tx0s each at most)`);
    const blockMs = o.quick ? 2000 : 5000;
    mining = mineEvery(node, blockMs, stopMining.signal);
    await abortable(
      mapLimit(wallets, 4, (w) => w.tx0()),
      signal,
    );
    say(
      `initial Tx0s broadcast: ${wallets.reduce((a, w) => a + w.tx0s, 0)}; a block is mined every ${blockMs / 1000} s, a new Tx0 every ${tx0EveryMs / 1000} s`,
    );
    say(
      'why clients wait: a mix takes at most one input per transaction and one per wallet, so a client invited into a mix ("confirming") is sent back to the queue when the mix already holds an input of its transaction (e.g. another output of the same mix) or of its wallet',
    );

    // 5. mix, show progress, kill one instance halfway
    const mixStart = Date.now();
    const durationMs = o.duration === null ? Number.POSITIVE_INFINITY : o.duration * 1000;
    const killAtMs = mixStart + (o.duration === null ? 60_000 : durationMs / 2);
    const maxLanes = 3;
    let nextTx0 = Date.now() + tx0EveryMs;
    let nextProgress = Date.now();
    let failover: Promise<FailoverReport> | null = null;
    let killed: { instance: Instance; atMs: number; pools: string[] } | null = null;
    // Ctrl-C while mixing ends the run like the end of --duration: summary, then stop
    while (Date.now() - mixStart < durationMs && !signal.aborted) {
      const now = Date.now();
      if (now >= nextTx0) {
        nextTx0 = now + tx0EveryMs;
        const candidates = wallets.filter((w) => w.activeLanes() < maxLanes);
        const w = candidates.sort((a, b) => a.activeLanes() - b.activeLanes() || Math.random() - 0.5)[0];
        if (w) void w.tx0();
      }
      if (now >= nextProgress) {
        nextProgress = now + (o.quick ? 3000 : 5000);
        await directory.refresh().catch(() => undefined);
        const fromDb = await db.successfulMixes().catch(() => new Map<string, number>());
        say(`${progressLine(wallets, fromDb, directory)} | dashboard ${dashboard}`);
      }
      if (!killed && now >= killAtMs) {
        const leases = await db.leases();
        const owned = new Map<string, string[]>();
        for (const l of leases) {
          if (l.owner) owned.set(l.owner, [...(owned.get(l.owner) ?? []), l.poolId]);
        }
        const victim = instances
          .filter((i) => i !== dashboardInstance && i.process.isRunning())
          .sort((a, b) => (owned.get(b.id)?.length ?? 0) - (owned.get(a.id)?.length ?? 0))[0]!;
        const pools = owned.get(victim.id) ?? [];
        const atMs = Date.now();
        victim.process.child.kill('SIGKILL');
        killed = { instance: victim, atMs, pools };
        say(
          `*** kill -9 ${victim.id} (pid ${victim.process.pid}), owner of ${pools.join(', ') || 'no pool'} ***`,
        );
        failover = watchFailover({
          db,
          directory,
          killedId: victim.id,
          killedAtMs: atMs,
          pools: leases.filter((l) => l.owner === victim.id),
          instances: instances.map((i) => ({ id: i.id, url: i.url })),
          timeoutMs: 30_000,
          signal,
          log: say,
        });
      }
      await sleep(250, signal).catch(() => undefined);
    }

    // 6. summary
    say(`${signal.aborted ? 'interrupted' : 'duration reached'}: stopping the wallets`);
    stopMining.abort();
    await Promise.all(wallets.map((w) => w.stop()));
    const report = failover ? await failover.catch(() => null) : null;
    const fromDb = await db.successfulMixes();
    const failed = await db.failedMixes();
    const dashboardUrl = `${dashboardInstance.url}/dashboard`;
    printSummary({
      o,
      fromDb,
      failed,
      clientMixIds: mixIds.size,
      clientMixes: wallets.reduce((a, w) => a + w.mixes, 0),
      tx0s: wallets.reduce((a, w) => a + w.tx0s, 0),
      killed: killed ? { id: killed.instance.id, pools: killed.pools } : null,
      report,
      dashboardUrl,
      dashboardPassword,
      runDir,
      logs: group.children.map((c) => c.logPath),
    });
  } finally {
    stopMining.abort();
    await Promise.all(wallets.map((w) => w.stop().catch(() => undefined)));
    await mining?.catch(() => undefined);
    say('stopping coordinators and bootstrap node (SIGTERM, SIGKILL after 12 s)...');
    await group.stopAll(12_000);
    await btcd?.stop().catch((err: unknown) => say(`btcd stop failed: ${(err as Error).message}`));
    await db?.close();
    await dropAccount?.().catch(() => undefined);
    if (dbCreated && !o.keepDb) await dropDatabase(o.dbUrl).catch(() => undefined);
    say(
      `stopped: ${group.children.length} processes and btcd ended${o.keepDb ? `; database ${parseDemoDbUrl(o.dbUrl).database} kept` : ''}; logs in ${runDir}`,
    );
  }
}

async function waitForOwners(directory: DirectoryClient, pools: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    signal.throwIfAborted();
    const dir = await directory.refresh().then(
      (r) => r.directory,
      () => null,
    );
    if (dir && dir.pools.size >= pools) return;
    if (Date.now() > deadline)
      throw new Error(`The directory did not list an owner for all ${pools} pools within 60 s`);
    await sleep(500, signal);
  }
}

function ownersLine(directory: DirectoryClient): string {
  const dir = directory.current();
  if (!dir) return 'owners unknown';
  return [...dir.pools.values()]
    .sort((a, b) => a.poolId.localeCompare(b.poolId))
    .map((p) => `${p.poolId}→${p.instanceId}#${p.epoch}`)
    .join(' ');
}

function progressLine(
  wallets: DemoWallet[],
  fromDb: Map<string, number>,
  directory: DirectoryClient,
): string {
  const states = new Map<string, number>();
  for (const w of wallets)
    for (const l of w.lanes) if (l.state !== 'ended') states.set(l.state, (states.get(l.state) ?? 0) + 1);
  const total = [...fromDb.values()].reduce((a, b) => a + b, 0);
  const perPool = [...fromDb].map(([p, n]) => `${p}:${n}`).join(' ');
  const s = (k: string) => states.get(k) ?? 0;
  return `mixes ${total}${perPool ? ` (${perPool})` : ''} | clients: queued ${s('queued')}, confirming ${s('confirming')}, in a mix ${s('mixing')}, connecting ${s('connecting')}, awaiting confirmation ${s('waiting-confirmation')}, retrying ${s('retrying')} | owners: ${ownersLine(directory)}`;
}

async function mineEvery(node: BtcdNode, ms: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await sleep(ms, signal).catch(() => undefined);
    if (signal.aborted) return;
    await node.mine(1).catch(() => undefined);
  }
}

async function mapLimit<T>(xs: readonly T[], limit: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  async function worker(): Promise<void> {
    while (next < xs.length) await fn(xs[next++] as T);
  }
  await Promise.all(Array.from({ length: Math.min(limit, xs.length) }, worker));
}

interface SummaryInput {
  o: DemoOptions;
  fromDb: Map<string, number>;
  failed: number;
  clientMixIds: number;
  clientMixes: number;
  tx0s: number;
  killed: { id: string; pools: string[] } | null;
  report: FailoverReport | null;
  dashboardUrl: string;
  dashboardPassword: string;
  runDir: string;
  logs: string[];
}

function printSummary(s: SummaryInput): void {
  const mixes = [...s.fromDb.values()].reduce((a, b) => a + b, 0);
  const lines = [
    '',
    '================ Whirlpool cluster demo: summary ================',
    `mixes succeeded: ${mixes} (${[...s.fromDb].map(([p, n]) => `${p}: ${n}`).join(', ') || 'none'}); failed mixes: ${s.failed}`,
    `client side: ${s.clientMixes} successful mix outcomes over ${s.clientMixIds} mixes, ${s.tx0s} Tx0s, ${s.o.wallets} wallets`,
    `failovers: ${s.report ? s.report.takeovers.length : 0}`,
  ];
  if (s.killed)
    lines.push(
      `killed instance: ${s.killed.id} (kill -9), it owned ${s.killed.pools.join(', ') || 'no pool'}`,
    );
  for (const t of s.report?.takeovers ?? []) {
    lines.push(
      `takeover: ${t.poolId} ${t.fromInstance}#${t.fromEpoch} -> ${t.toInstance}#${t.toEpoch}, lease acquired ${(t.acquiredAfterKillMs / 1000).toFixed(2)} s after the kill (${(t.acquiredAfterExpiryMs / 1000).toFixed(2)} s after the dead lease expired), in the directory after ${t.seenInDirectoryAfterKillMs === null ? 'n/a' : `${(t.seenInDirectoryAfterKillMs / 1000).toFixed(2)} s`}`,
    );
  }
  for (const p of s.report?.missing ?? []) lines.push(`takeover: ${p} NOT taken over within the watch time`);
  if (s.report?.metric) lines.push(`survivor metrics: ${s.report.metric}`);
  lines.push(
    `dashboard: ${s.dashboardUrl} (user demo, password ${s.dashboardPassword}; valid until the demo stops)`,
    `run directory (logs, pools file): ${s.runDir}`,
    ...s.logs.map((l) => `  log: ${l}`),
    `DEMO_SUMMARY ${JSON.stringify({
      mixes,
      mixesByPool: Object.fromEntries(s.fromDb),
      failedMixes: s.failed,
      clientMixes: s.clientMixes,
      tx0s: s.tx0s,
      killed: s.killed,
      takeovers: s.report?.takeovers ?? [],
      missingTakeovers: s.report?.missing ?? [],
      runDir: s.runDir,
    })}`,
    '=================================================================',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `err`'s message followed by its causes' (`: ` between them), without stacks. */
function errorChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join(': ');
}

/** Command-line entry. */
async function main(): Promise<void> {
  const program = new Command()
    .name('npm run demo --')
    .description(
      'Run a complete local Whirlpool cluster (MySQL, btcd regtest, 3 coordinators, bootstrap node, simulated wallets)',
    )
    .option(
      '--duration <s>',
      'seconds of mixing before the summary (default: until Ctrl-C)',
      positiveInt('--duration', 10, 86_400),
    )
    .option('--wallets <n>', 'simulated wallets', positiveInt('--wallets', 3, 500), 30)
    .option('--instances <n>', 'coordinator instances', positiveInt('--instances', 2, 9), 3)
    .option('--quick', 'short timers: anonymity set 3, liquidity interval 1 s, a block every 2 s', false)
    .option('--keep-db', 'keep the database after the run', false)
    .option('--db-url <url>', 'MySQL URL of the database to create (dropped first)', DEFAULT_DEMO_DB_URL)
    .parse();
  const opts = program.opts<DemoOptions>();
  opts.duration ??= null;
  parseDemoDbUrl(opts.dbUrl);
  // Prerequisites first (MariaDB answers; btcd built on first use): a missing one is one sentence, nothing started.
  try {
    await provision(['mariadb', 'btcd'], { db: { url: opts.dbUrl, setting: '--db-url' }, log: say });
  } catch (err) {
    if (!isMissingPrerequisite(err)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
    return;
  }

  const runDir = await mkdtemp(join(tmpdir(), 'whirlpool-demo-'));
  const group = new ProcessGroup(runDir);
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      say(`${sig}: stopping everything (again to kill at once)`);
      abort.abort(new Error(`${sig} received`));
      return;
    }
    void group.killAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  say(
    `Whirlpool cluster demo: ${opts.instances} coordinators, ${opts.wallets} wallets, ${opts.duration === null ? 'until Ctrl-C' : `${opts.duration} s`}${opts.quick ? ', quick timers' : ''}; run directory ${runDir}`,
  );
  try {
    await runDemo(opts, abort.signal, group, runDir);
  } catch (err) {
    if (abort.signal.aborted) {
      say('interrupted; everything stopped');
      process.exitCode = 130;
      return;
    }
    say(`demo failed: ${errorChain(err)} (logs in ${runDir})`);
    process.exitCode = 1;
  }
}

await main();
