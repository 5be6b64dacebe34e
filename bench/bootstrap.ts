/**
 * Bootstrap node benchmark (`npm run bench:bootstrap`): one Node bootstrap
 * process (bootstrap/node.ts, mysql2, read-only account) on a scratch
 * database holding a realistic directory (BENCH_INSTANCES instances, pools
 * spread over them), loaded by a second process (bench/bootstrap_load.ts).
 * Prints req/s, p50/p99 latency and the database queries per second counted
 * by the server itself (`/health` dbQueries before and after the load).
 *
 * Env: BENCH_CONNECTIONS (default 32), BENCH_DURATION_MS (default 10000),
 * BENCH_INSTANCES (default 4), BENCH_POOLS (default 4), BENCH_ETAG=1 to
 * load with If-None-Match (304 answers) instead of full bodies.
 * Needs the test MariaDB (WHIRLPOOL_TEST_DB_URL, default root@127.0.0.1:3306).
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { spawnListening } from '#devnet/spawn_listening.ts';
import { createDirectoryFixture } from '#test/support/directory_fixture.ts';

const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 10_000);
const instances = Number(process.env.BENCH_INSTANCES ?? 4);
const pools = Number(process.env.BENCH_POOLS ?? 4);
const useEtag = process.env.BENCH_ETAG === '1';

/** CPU time (user + system, ms) consumed so far by process `pid` (Linux /proc). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** 1-minute load average, to qualify the figures on a shared machine. */
function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

const fx = await createDirectoryFixture('bench_bootstrap');
try {
  for (let i = 0; i < instances; i++) {
    await fx.registerInstance({
      id: `instance-${i}`,
      urlClear: `https://pool${i}.example.org`,
      urlOnion: `http://${String(i).repeat(56).slice(0, 56)}.onion`,
    });
  }
  const poolIds = ['0.001btc', '0.01btc', '0.05btc', '0.5btc', '0.25btc', '0.1btc'].slice(0, pools);
  for (const [k, poolId] of poolIds.entries())
    await fx.setLease(poolId, `instance-${k % instances}`, k + 1, 600);
  for (let i = 0; i < instances; i++) await fx.publish(`instance-${i}`, 600_000);

  const server = await spawnListening(process.execPath, ['bootstrap/node.ts'], {
    env: { BOOTSTRAP_DB_URL: fx.account.url, BOOTSTRAP_PORT: '0', BOOTSTRAP_HOST: '127.0.0.1' },
  });
  try {
    const health = async () => (await (await fetch(`${server.url}/health`)).json()) as { dbQueries: number };
    const first = await fetch(`${server.url}/instances`);
    const etag = first.headers.get('etag') ?? '';
    const size = (await first.text()).length;
    const q0 = (await health()).dbQueries;
    const pid = server.child.pid!;
    const cpu0 = cpuMs(pid);
    const load0 = loadAverage();
    const t0 = performance.now();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        'bench/bootstrap_load.ts',
        server.url,
        String(connections),
        String(durationMs),
        ...(useEtag ? [etag] : []),
      ],
      { maxBuffer: 1 << 20 },
    );
    const seconds = (performance.now() - t0) / 1000;
    const q1 = (await health()).dbQueries;
    const serverCpuMs = cpuMs(pid) - cpu0;
    const load = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
    const result = {
      mode: useEtag ? '304 (If-None-Match)' : '200 full body',
      bodyBytes: size,
      instances,
      pools,
      ...load,
      dbQueries: q1 - q0,
      dbQueriesPerSec: Number(((q1 - q0) / seconds).toFixed(2)),
      serverCpuMs,
      serverCpuUsPerRequest: load.requests ? Number(((serverCpuMs * 1000) / load.requests).toFixed(1)) : null,
      loadAverageBefore: load0,
      loadAverageAfter: loadAverage(),
    };
    console.log(JSON.stringify(result));
    console.log(
      `bootstrap bench: ${load.reqPerSec} req/s, p50 ${load.p50Ms} ms, p99 ${load.p99Ms} ms, ` +
        `${result.dbQueriesPerSec} DB queries/s (${result.dbQueries} in ${seconds.toFixed(1)} s), ` +
        `${load.errors} errors, ${connections} connections, ${result.mode}, body ${size} B; ` +
        `server CPU ${result.serverCpuUsPerRequest} µs/request; load average ${load0} → ${result.loadAverageAfter} on ${navigator.hardwareConcurrency} CPUs`,
    );
  } finally {
    await server.stop();
  }
} finally {
  await fx.cleanup();
}
