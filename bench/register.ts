/**
 * REGISTER_INPUT throughput of the mix engine: how many `/ws/registerInput`
 * requests per second one process handles, end to end through the real
 * validation path (ban lookup and Tx0 whitelist in MariaDB, getrawtransaction
 * and gettxout on btcd, signed-message verification, Tx0 fee-data unmasking
 * and fee-address check, pool lock, invitation with the mix's public key).
 *
 * Setup: a btcd regtest node and a fresh MariaDB database; T real Tx0s with P
 * premix outputs each (provenance check on), one STOMP-less in-process session
 * per UTXO. Then C requests are kept in flight until every UTXO has either been
 * invited (ConfirmInputMixStatusNotification) or refused (ErrorResponse).
 * The transport is left out on purpose (bench:connections covers it).
 *
 * Usage: `npm run bench:register [-- <tx0s> <premixesPerTx0> <concurrency>]`
 * (default 40 × 50, concurrency 64). Goal: 500 requests/s on 2 cores.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { MixEngine } from '#coordinator/mix/mix_engine.ts';
import type { MixSession } from '#coordinator/mix/mix_session.ts';
import { feeAddressAt } from '#shared/bitcoin/fee_address.ts';
import { signMessage } from '#shared/bitcoin/signed_message.ts';
import type { MessageTypeName } from '#shared/protocol/constants.ts';
import {
  type ClientUtxo,
  makeTx0,
  startMixEnv,
  testParams,
  testPool,
} from '#test/integration/mix/mix_harness.ts';

const [tx0Count = 40, perTx0 = 50, concurrency = 64] = process.argv.slice(2).map(Number);
const GOAL = 500;
const D = 1_000_000;

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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  console.log(
    `bench:register — ${tx0Count} Tx0s × ${perTx0} premixes, concurrency ${concurrency}, ${availableParallelism()} cores`,
  );
  const env = await startMixEnv('bench_register');
  try {
    const params = testParams({ testMode: false });
    const pool = testPool({ id: 'bench', anonymitySet: 5 });
    const setupStart = performance.now();
    const utxos: ClientUtxo[] = [];
    for (let i = 0; i < tx0Count; i++) {
      const tx0 = await makeTx0(env.node, {
        feeIndice: i + 1,
        fee: { address: feeAddressAt(params.feeAddressSeed, 'regtest', i + 1), value: pool.feeValue },
        premixValue: D + 300,
        nbPremix: perTx0,
      });
      utxos.push(...tx0.premixes);
    }
    await env.node.mine(1);
    const requests = utxos.map((u) => ({
      session: new BenchSession(),
      body: JSON.stringify({
        poolId: pool.id,
        utxoHash: u.txid,
        utxoIndex: u.index,
        signature: signMessage(pool.id, u.privateKey),
        liquidity: false,
      }),
    }));
    console.log(
      `setup: ${utxos.length} premix UTXOs in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`,
    );

    const timings = new Map<string, { n: number; ms: number }>();
    function timed<T extends object>(target: T, methods: string[]): T {
      return new Proxy(target, {
        get(obj, prop, receiver) {
          const value = Reflect.get(obj, prop, receiver);
          if (typeof prop !== 'string' || !methods.includes(prop) || typeof value !== 'function')
            return value;
          return async (...args: unknown[]) => {
            const t0 = performance.now();
            try {
              return await (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
            } finally {
              const t = timings.get(prop) ?? { n: 0, ms: 0 };
              t.n++;
              t.ms += performance.now() - t0;
              timings.set(prop, t);
            }
          };
        },
      });
    }
    const engine = new MixEngine({
      pools: [pool],
      params,
      store: timed(env.store, ['isBanned', 'isTx0Whitelisted', 'isMixTxid']),
      rpc: timed(env.node.rpc, ['getRawTransaction', 'getTxOut']),
      logger: pino({ level: 'silent' }),
    });
    engine.activatePool(pool.id, null);
    await new Promise((r) => setTimeout(r, 1000)); // first mix key

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

    latencies.sort((a, b) => a - b);
    const rate = requests.length / seconds;
    console.log(
      `requests: ${requests.length} in ${seconds.toFixed(2)} s → ${rate.toFixed(0)} register-input/s`,
    );
    console.log(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    console.log(
      `latency ms: p50 ${percentile(latencies, 50).toFixed(1)}, p90 ${percentile(latencies, 90).toFixed(1)}, p99 ${percentile(latencies, 99).toFixed(1)}`,
    );
    console.log(
      `engine process CPU: ${((cpu.user + cpu.system) / 1000 / requests.length).toFixed(2)} ms per request (btcd and MariaDB excluded)`,
    );
    for (const [name, t] of timings) {
      console.log(`  ${name}: ${t.n} calls, mean ${(t.ms / t.n).toFixed(1)} ms (under load)`);
    }
    console.log(`goal ${GOAL}/s: ${rate >= GOAL ? 'met' : 'NOT met'}`);
    if ((outcomes.get('ErrorResponse') ?? 0) > 0) process.exitCode = 1;
  } finally {
    await env.close();
  }
}

await main();
