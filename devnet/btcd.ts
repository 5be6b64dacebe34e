/**
 * Starts btcd regtest nodes for the demo, integration tests and benchmarks: each on its own free
 * RPC/P2P ports with its own temporary data directory, a {@link RegtestWallet}
 * as mining address, and (by default) 110 blocks mined so the wallet owns 11
 * mature coinbases of 50 BTC. Several nodes may run at once.
 *
 * btcd facts (v0.26.0, checked here): no wallet RPC, mining is `generate n`
 * (needs `--miningaddr`), mempool transactions go into the next generated
 * block, RPC is plain HTTP with `--notls` on 127.0.0.1, and the server closes
 * the connection after every reply.
 *
 * Binary: `$BTCD_BIN`, else `btcd` in the tool cache (`$WHIRLPOOL_TOOLS_DIR`,
 * default `.cache/go-bin`), built there with Go on first use (`go_tools.ts`).
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
import { BTCD_TOOL, ensureGoTool } from './go_tools.ts';
import { freePorts } from './ports.ts';
import { RegtestWallet } from './regtest_wallet.ts';

/** A running regtest btcd with its wallet. */
export interface BtcdNode {
  /** `http://user:pass@127.0.0.1:port` — hand it to anything that takes a node URL. */
  rpcUrl: string;
  rpc: BitcoinRpc;
  /** The wallet all mined blocks pay. */
  wallet: RegtestWallet;
  /** P2P listen port on 127.0.0.1 (for `addnode`/`--connect` between nodes). */
  p2pPort: number;
  /** Temporary data directory (removed by `stop`). */
  dataDir: string;
  /** Mines `blocks` blocks (including the mempool) and returns their hashes. */
  mine(blocks: number): Promise<string[]>;
  /** Stops the node (SIGTERM, SIGKILL after 10 s) and removes its data directory. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startBtcd}. */
export interface StartBtcdOptions {
  /** Blocks to mine right after start (default 110: 11 mature coinbases). 0 mines none. */
  matureBlocks?: number;
  /** Extra btcd command-line arguments (e.g. `--minrelaytxfee=0.0001`). */
  extraArgs?: string[];
  /** Milliseconds to wait for the RPC server (default 30 000). */
  startTimeoutMs?: number;
}

/**
 * Path of a runnable btcd: `$BTCD_BIN`, else the tool cache's, built first
 * when missing (one progress line on stderr). Throws a
 * MissingPrerequisiteError (one sentence) when it cannot be had.
 */
export function btcdBinary(): Promise<string> {
  return ensureGoTool(BTCD_TOOL, { log: (line) => process.stderr.write(`${line}\n`) });
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills nodes a test forgot to stop when the worker exits, so no btcd outlives the run. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function logTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Waits for `child` to exit, up to `ms`; true when it did. */
function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function killNode(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    if (!(await waitForExit(child, 10_000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    }
  }
  running.delete(child);
}

/** One attempt to start btcd on fresh ports; rejects if it exits or never answers. */
async function spawnOnce(bin: string, opts: StartBtcdOptions): Promise<BtcdNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wpt-btcd-'));
  const [rpcPort, p2pPort] = (await freePorts(2)) as [number, number];
  const user = 'wpt';
  const password = randomBytes(12).toString('hex');
  const rpcUrl = `http://${user}:${password}@127.0.0.1:${rpcPort}`;
  const rpc = new BitcoinRpc({ url: rpcUrl, timeoutMs: 60_000 });
  const wallet = new RegtestWallet(rpc);
  const configFile = join(dataDir, 'btcd.conf');
  await writeFile(configFile, '');
  const args = [
    `--configfile=${configFile}`,
    `--datadir=${join(dataDir, 'data')}`,
    `--logdir=${join(dataDir, 'logs')}`,
    `--rpccert=${join(dataDir, 'rpc.cert')}`,
    `--rpckey=${join(dataDir, 'rpc.key')}`,
    '--regtest',
    '--txindex',
    '--addrindex',
    '--rejectnonstd',
    '--norelaypriority',
    '--notls',
    '--nodnsseed',
    '--nobanning',
    '--limitfreerelay=0',
    '--utxocachemaxsize=16',
    '--rpcmaxclients=200',
    '--rpcmaxconcurrentreqs=100',
    `--miningaddr=${wallet.address}`,
    `--rpcuser=${user}`,
    `--rpcpass=${password}`,
    `--rpclisten=127.0.0.1:${rpcPort}`,
    `--listen=127.0.0.1:${p2pPort}`,
    ...(opts.extraArgs ?? []),
  ];
  const outPath = join(dataDir, 'stdout.log');
  const out = openSync(outPath, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', out, out] });
  closeSync(out);
  running.add(child);
  installExitHook();

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await killNode(child);
      await rm(dataDir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
    const probe = new BitcoinRpc({ url: rpcUrl, timeoutMs: 2_000 });
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `btcd exited with ${child.exitCode ?? child.signalCode} during start:\n${logTail(outPath)}`,
        );
      }
      try {
        await probe.getBlockCount();
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`btcd RPC on port ${rpcPort} did not answer in time:\n${logTail(outPath)}`, {
            cause: err,
          });
        }
        await sleep(100);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const mine = (blocks: number): Promise<string[]> =>
    rpc.call('generate', [blocks], z.array(z.string().regex(/^[0-9a-f]{64}$/)).length(blocks));

  const node: BtcdNode = { rpcUrl, rpc, wallet, p2pPort, dataDir, mine, stop };
  try {
    const matureBlocks = opts.matureBlocks ?? 110;
    if (matureBlocks > 0) await mine(matureBlocks);
  } catch (err) {
    await stop();
    throw err;
  }
  return node;
}

/**
 * Starts a regtest btcd (see the module doc) and resolves once its RPC
 * answers and the initial blocks are mined. Retries with fresh ports when
 * the node fails to start (a port taken between lookup and bind). Builds
 * btcd first if it is missing ({@link btcdBinary}). Always `stop()` it in
 * `afterAll`.
 */
export async function startBtcd(opts: StartBtcdOptions = {}): Promise<BtcdNode> {
  const bin = await btcdBinary();
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await spawnOnce(bin, opts);
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`btcd (${bin}) did not start after 3 attempts: ${(lastError as Error).message}`, {
    cause: lastError,
  });
}
