/**
 * REGISTER_INPUT throughput of the mix engine: how many `/ws/registerInput`
 * requests per second one process handles, end to end through the real
 * validation path (signed-message recovery, getrawtransaction and gettxout
 * on btcd, the ban / whitelist / mix-txid lookup in MariaDB, Tx0 fee-data
 * unmasking and fee-address check, pool lock, invitation with the mix's
 * public key), for the SAME requests in several passes of one run:
 *
 * - `libsecp256k1`: the coordinator's default (native secp256k1, one
 *   `inputFacts` statement per registration, `--db-connections` pool);
 * - `noble`: the same with the portable @noble/curves implementation;
 * - `before`: noble with the lookups the engine made before issue 14 (two
 *   statements, isBanned and isTx0Whitelisted, plus isMixTxid for a remix)
 *   on a 10-connection pool, one HTTP request per RPC call — the "today" figure, run last so it gets the
 *   warmest caches.
 *
 * Each pass has its own engine (cold Tx facts cache) and its own DB pool. It
 * prints requests/s, latency, the engine process's CPU per request, each
 * wait (mean time of every store and RPC call, under load), the database
 * statements per registration read from the server's own per-connection
 * counters (`SHOW SESSION STATUS` Com_select / Com_insert / Com_update on
 * every connection of the pass's pool, before and after), and the bitcoin
 * RPC calls per registration (counted on the wire, per method). Per mix:
 * the registration part × the pool's anonymity set; the rest of a mix is
 * counted by bench:flood.
 *
 * Setup: a btcd regtest node and a fresh MariaDB database; T real Tx0s with P
 * premix outputs each (provenance check on), one STOMP-less in-process session
 * per UTXO. C requests are kept in flight until every UTXO has either been
 * invited (ConfirmInputMixStatusNotification) or refused (ErrorResponse).
 * The transport is left out on purpose (bench:connections covers it).
 *
 * Usage: `npm run bench:register [-- <tx0s> <premixesPerTx0> <concurrency>]
 * [--passes=libsecp256k1,noble,before] [--db-connections=N] [--rpc-batch=N]`
 * (default 40 × 50, concurrency 64, 16 connections, RPC batches of ≤ 50
 * calls; `before` uses 10 connections and one HTTP request per call). Goals (issue 14):
 * ≥ 2,000 register-input/s, engine CPU ≤ 0.5 ms per request, ≥ 4× `before`.
 *
 * @module
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import { loadNativeSecp256k1 } from '#coordinator/crypto/native_secp256k1.ts';
import { MixEngine } from '#coordinator/mix/mix_engine.ts';
import type { MixSession } from '#coordinator/mix/mix_session.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { type MixStore, MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { feeAddressAt } from '#shared/bitcoin/fee_address.ts';
import { signMessage } from '#shared/bitcoin/signed_message.ts';
import { nobleSecp256k1, type Secp256k1 } from '#shared/crypto/secp256k1.ts';
import type { MessageTypeName } from '#shared/protocol/constants.ts';
import { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
import {
  type ClientUtxo,
  type MixEnv,
  makeTx0,
  startMixEnv,
  testParams,
  testPool,
} from '#test/integration/mix/mix_harness.ts';

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = new Map(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => {
      const [k, v = ''] = a.slice(2).split('=');
      return [k!, v] as const;
    }),
);
const [tx0Count = 40, perTx0 = 50, concurrency = 64] = positional.map(Number);
const PASSES = (flags.get('passes') ?? 'libsecp256k1,noble,before').split(',') as PassName[];
const DB_CONNECTIONS = Number(flags.get('db-connections') ?? 16);
const RPC_BATCH = Number(flags.get('rpc-batch') ?? 50);
const GOAL_RATE = 2000;
const GOAL_CPU_MS = 0.5;
const GOAL_RATIO = 4;
const D = 1_000_000;

type PassName = 'libsecp256k1' | 'noble' | 'before';

/** A session that resolves when the engine answers the registration. */
class BenchSession implements MixSession {
  static #n = 0;
  readonly id = `bench-${++BenchSession.#n}`;
  readonly ip = '127.0.0.1';
  readonly closed = false;
  #resolve: ((type: MessageTypeName) => void) | null = null;
  readonly answered = new Promise<MessageTypeName>((resolve) => {
    this.#resolve = resolve;
  });
  sendPrivate(type: MessageTypeName): void {
    if (type === 'ConfirmInputMixStatusNotification' || type === 'ErrorResponse') this.#resolve?.(type);
  }
  close(): void {}
}

/** Count and total time of calls, by name. */
class Waits {
  readonly byName = new Map<string, { n: number; ms: number }>();
  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      const t = this.byName.get(name) ?? { n: 0, ms: 0 };
      t.n++;
      t.ms += performance.now() - t0;
      this.byName.set(name, t);
    }
  }
}

/** `store` with every call timed in `waits`; `before` answers inputFacts with the pre-issue-14 lookups. */
function timedStore(store: MixStore, waits: Waits, before: boolean): MixStore {
  return {
    async inputFacts(txid, ids) {
      if (!before) return waits.time('db inputFacts', () => store.inputFacts(txid, ids));
      const [ban, tx0Whitelisted] = await Promise.all([
        waits.time('db isBanned', () => store.isBanned(ids)),
        waits.time('db isTx0Whitelisted', () => store.isTx0Whitelisted(txid)),
      ]);
      return { ban, tx0Whitelisted, mixDenominations: [] };
    },
    isBanned: (ids) => waits.time('db isBanned', () => store.isBanned(ids)),
    isMixTxid: (txid, d) => waits.time('db isMixTxid', () => store.isMixTxid(txid, d)),
    isTx0Whitelisted: (txid) => waits.time('db isTx0Whitelisted', () => store.isTx0Whitelisted(txid)),
    isOutputUsed: (a) => waits.time('db isOutputUsed', () => store.isOutputUsed(a)),
    saveOutput: (a, f) => waits.time('db saveOutput', () => store.saveOutput(a, f)),
    blame: (b, p, f) => waits.time('db blame', () => store.blame(b, p, f)),
    saveMixResult: (r, f) => waits.time('db saveMixResult', () => store.saveMixResult(r, f)),
    nextFeeIndex: () => waits.time('db nextFeeIndex', () => store.nextFeeIndex()),
  };
}

/**
 * A BitcoinRpc on `url` (batching up to `batchMaxCalls` calls per request)
 * whose every HTTP request is timed in `waits` by JSON-RPC method (`batch`
 * for a batch) and whose calls are counted by method in `calls`.
 */
function timedRpc(url: string, waits: Waits, calls: Map<string, number>, batchMaxCalls: number): BitcoinRpc {
  const countingFetch: typeof fetch = (input, init) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : null;
    const items = (Array.isArray(body) ? body : [body]) as { method?: string }[];
    for (const item of items) calls.set(item?.method ?? '?', (calls.get(item?.method ?? '?') ?? 0) + 1);
    const label = Array.isArray(body) ? 'batch' : (items[0]?.method ?? '?');
    return waits.time(`rpc request ${label}`, () => fetch(input, init));
  };
  return new BitcoinRpc({ url, timeoutMs: 60_000, fetch: countingFetch, batchMaxCalls });
}

const COUNTERS = ['Com_select', 'Com_insert', 'Com_update', 'Com_delete'] as const;
type Counters = Record<(typeof COUNTERS)[number], number>;

/**
 * Statement counters of every connection of `pool` (opened here if needed),
 * by connection id: read with SHOW SESSION STATUS on that connection, which
 * counts none of these itself.
 */
async function sessionCounters(pool: Pool, size: number): Promise<Map<number, Counters>> {
  const conns: PoolConnection[] = await Promise.all(Array.from({ length: size }, () => pool.getConnection()));
  const out = new Map<number, Counters>();
  try {
    for (const conn of conns) {
      const [rows] = await conn.query<RowDataPacket[]>(
        `SHOW SESSION STATUS WHERE Variable_name IN (${COUNTERS.map((c) => `'${c}'`).join(',')})`,
      );
      const c = { Com_select: 0, Com_insert: 0, Com_update: 0, Com_delete: 0 };
      for (const r of rows) c[r.Variable_name as keyof Counters] = Number(r.Value);
      out.set(conn.threadId, c);
    }
  } finally {
    for (const conn of conns) conn.release();
  }
  return out;
}

function counterDelta(before: Map<number, Counters>, after: Map<number, Counters>): Counters {
  const d = { Com_select: 0, Com_insert: 0, Com_update: 0, Com_delete: 0 };
  for (const [id, a] of after) {
    const b = before.get(id);
    for (const k of COUNTERS) d[k] += a[k] - (b?.[k] ?? 0);
  }
  return d;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

interface PassResult {
  name: PassName;
  rate: number;
  cpuMsPerRequest: number;
  p50: number;
  p99: number;
  outcomes: Map<string, number>;
  waits: Waits;
  statements: Counters;
  rpcCalls: Map<string, number>;
  requests: number;
}

async function runPass(
  name: PassName,
  env: MixEnv,
  utxos: (ClientUtxo & { signature: string })[],
  params: ReturnType<typeof testParams>,
  pool: ReturnType<typeof testPool>,
): Promise<PassResult> {
  const before = name === 'before';
  const connections = before ? 10 : DB_CONNECTIONS;
  const secp: Secp256k1 = name === 'libsecp256k1' ? loadNativeSecp256k1() : nobleSecp256k1;
  const dbPool = createDbPool(env.db.url, { connectionLimit: connections });
  const waits = new Waits();
  const rpcCalls = new Map<string, number>();
  try {
    const store = timedStore(new MySqlMixStore(dbPool), waits, before);
    const rpc = timedRpc(env.node.rpcUrl, waits, rpcCalls, before ? 1 : RPC_BATCH);
    const requests = utxos.map((u) => ({
      session: new BenchSession(),
      body: JSON.stringify({
        poolId: pool.id,
        utxoHash: u.txid,
        utxoIndex: u.index,
        signature: u.signature,
        liquidity: false,
      }),
    }));
    const engine = new MixEngine({
      pools: [pool],
      params,
      store,
      rpc,
      logger: pino({ level: 'silent' }),
      secp256k1: secp,
    });
    engine.activatePool(pool.id, null);
    await new Promise((r) => setTimeout(r, 1000)); // first mix key
    waits.byName.clear();
    rpcCalls.clear();
    const countersBefore = await sessionCounters(dbPool, connections);

    const headers = new Map([['protocolVersion', '0.23']]);
    const latencies: number[] = [];
    const outcomes = new Map<string, number>();
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    let next = 0;
    async function worker(): Promise<void> {
      while (next < requests.length) {
        const r = requests[next++]!;
        const t0 = performance.now();
        engine.onSend(r.session, '/ws/registerInput', headers, r.body);
        const type = await r.session.answered;
        latencies.push(performance.now() - t0);
        outcomes.set(type, (outcomes.get(type) ?? 0) + 1);
      }
    }
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    engine.stop();
    const statements = counterDelta(countersBefore, await sessionCounters(dbPool, connections));
    latencies.sort((a, b) => a - b);
    return {
      name,
      rate: requests.length / seconds,
      cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / requests.length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      outcomes,
      waits,
      statements,
      rpcCalls,
      requests: requests.length,
    };
  } finally {
    await dbPool.end().catch(() => undefined);
  }
}

function printPass(r: PassResult, anonymitySet: number): void {
  console.log(
    `\n[${r.name}] ${r.rate.toFixed(0)} register-input/s, engine CPU ${r.cpuMsPerRequest.toFixed(3)} ms/request, latency p50 ${r.p50.toFixed(1)} ms / p99 ${r.p99.toFixed(1)} ms`,
  );
  console.log(`  outcomes: ${JSON.stringify(Object.fromEntries(r.outcomes))}`);
  for (const [name, t] of [...r.waits.byName].sort()) {
    console.log(
      `  wait ${name}: ${(t.n / r.requests).toFixed(3)} calls/registration, mean ${(t.ms / t.n).toFixed(2)} ms`,
    );
  }
  const s = r.statements;
  const per = (n: number) => (n / r.requests).toFixed(3);
  console.log(
    `  DB statements per registration (server counters): select ${per(s.Com_select)}, insert ${per(s.Com_insert)}, update ${per(s.Com_update)}, delete ${per(s.Com_delete)}`,
  );
  const rpcTotal = [...r.rpcCalls.values()].reduce((a, n) => a + n, 0);
  const httpRequests = [...r.waits.byName]
    .filter(([n]) => n.startsWith('rpc request'))
    .reduce((a, [, t]) => a + t.n, 0);
  console.log(
    `  bitcoin RPC per registration: ${[...r.rpcCalls].map(([m, n]) => `${m} ${per(n)}`).join(', ')}; HTTP requests ${per(httpRequests)}`,
  );
  console.log(
    `  per mix of ${anonymitySet} (registration part): ${((s.Com_select / r.requests) * anonymitySet).toFixed(1)} DB selects, ${((rpcTotal / r.requests) * anonymitySet).toFixed(1)} bitcoin RPC calls in ${((httpRequests / r.requests) * anonymitySet).toFixed(2)} HTTP requests`,
  );
}

async function main(): Promise<void> {
  console.log(
    `bench:register — ${tx0Count} Tx0s × ${perTx0} premixes, concurrency ${concurrency}, ${availableParallelism()} cores, DB pool ${DB_CONNECTIONS}, passes ${PASSES.join(', ')}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const env = await startMixEnv('bench_register');
  try {
    const params = testParams({ testMode: false });
    const pool = testPool({ id: 'bench', anonymitySet: 5 });
    const setupStart = performance.now();
    const utxos: (ClientUtxo & { signature: string })[] = [];
    for (let i = 0; i < tx0Count; i++) {
      const tx0 = await makeTx0(env.node, {
        feeIndice: i + 1,
        fee: { address: feeAddressAt(params.feeAddressSeed, 'regtest', i + 1), value: pool.feeValue },
        premixValue: D + 300,
        nbPremix: perTx0,
      });
      for (const u of tx0.premixes) utxos.push({ ...u, signature: signMessage(pool.id, u.privateKey) });
    }
    await env.node.mine(1);
    console.log(
      `setup: ${utxos.length} premix UTXOs in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`,
    );

    const results: PassResult[] = [];
    for (const name of PASSES) {
      const r = await runPass(name, env, utxos, params, pool);
      printPass(r, pool.anonymitySet);
      results.push(r);
      if ((r.outcomes.get('ErrorResponse') ?? 0) > 0) process.exitCode = 1;
    }

    const by = new Map(results.map((r) => [r.name, r]));
    const fast = by.get('libsecp256k1');
    console.log(
      `\nload after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    if (fast) {
      for (const other of ['noble', 'before'] as const) {
        const o = by.get(other);
        if (!o) continue;
        console.log(
          `ratio libsecp256k1 / ${other}: ${(fast.rate / o.rate).toFixed(2)}× requests/s, ${(o.cpuMsPerRequest / fast.cpuMsPerRequest).toFixed(2)}× less CPU per request`,
        );
      }
      const vsBefore = by.get('before');
      console.log(
        `goals: ≥ ${GOAL_RATE}/s ${fast.rate >= GOAL_RATE ? 'met' : 'NOT met'}; CPU ≤ ${GOAL_CPU_MS} ms ${fast.cpuMsPerRequest <= GOAL_CPU_MS ? 'met' : 'NOT met'}${vsBefore ? `; ≥ ${GOAL_RATIO}× before ${fast.rate / vsBefore.rate >= GOAL_RATIO ? 'met' : 'NOT met'}` : ''}`,
      );
    }
  } finally {
    await env.close();
  }
}

await main();
