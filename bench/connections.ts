/**
 * Connection benchmark of the coordinator transport: how many idle,
 * subscribed STOMP sessions one process holds, and what they cost.
 *
 * The parent process runs `startHttpServer` with a trivial application (a
 * SubscribePoolResponse on every `/private/reply` subscription, like the
 * engine). A child process opens N raw-WebSocket STOMP sessions
 * (CONNECT with heart-beat 20000,20000, SUBSCRIBE, wait for the MESSAGE) and
 * keeps them alive with heart-beats. The parent then prints sessions held,
 * time to establish them, server RSS and heap (total and per session), and
 * the time to push one private message to every session.
 *
 * Usage: `npm run bench:connections [-- N]` (default N = 10000; issue 14's
 * goal: 50000 under 1 GiB RSS). Each process needs about N file descriptors:
 * when `ulimit -n` is lower, the script re-executes itself under a higher
 * limit (2N when the process may raise its hard limit, else the hard limit, with
 * a warning when that is below N). The client spreads its
 * sessions over 8 loopback source addresses (127.0.0.2–9) to get past one
 * address pair's ephemeral port range.
 *
 * @module
 */
import { execFileSync, fork, spawnSync } from 'node:child_process';
import { Hono } from 'hono';
import { WebSocket } from 'ws';
import { silentLogger } from '#coordinator/log.ts';
import { startHttpServer } from '#coordinator/transport/http_server.ts';
import type { ClientSession, StompApplication } from '#coordinator/transport/stomp_application.ts';

const CONNECT = 'CONNECT\naccept-version:1.1,1.2\nheart-beat:20000,20000\npoolId:0.01btc\n\n\0';
const SUBSCRIBE = 'SUBSCRIBE\nid:0\ndestination:/private/reply\npoolId:0.01btc\nprotocolVersion:0.23\n\n\0';

/** Loopback source addresses the client spreads its sessions over (127.0.0.2 …). */
const SOURCE_ADDRESSES = 8;

type ChildMessage =
  | { type: 'progress'; open: number; failed: number }
  | { type: 'ready'; open: number; failed: number; ms: number }
  | { type: 'received'; count: number };

function fdLimit(): number {
  return Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()) || 0;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** Child: opens N sessions against `url`, reports to the parent over IPC. */
async function runClients(url: string, n: number): Promise<void> {
  const send = (m: ChildMessage): void => {
    process.send?.(m);
  };
  const sockets: WebSocket[] = [];
  let open = 0;
  let failed = 0;
  let received = 0;
  const t0 = performance.now();
  // Keep every session alive from the start (establishing N can take longer than the
  // server's heart-beat timeout): one EOL per session every 15 s.
  setInterval(() => {
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send('\n');
  }, 15_000);
  const concurrency = 256;
  let next = 0;
  await new Promise<void>((resolveAll) => {
    const startOne = (): void => {
      if (next >= n) {
        if (open + failed === n) resolveAll();
        return;
      }
      next++;
      // Spread over loopback source addresses: one (source, destination) pair has only
      // ip_local_port_range ports (~28k); 127.0.0.0/8 is all loopback on Linux.
      const localAddress = `127.0.0.${2 + (next % SOURCE_ADDRESSES)}`;
      const ws = new WebSocket(url, ['v12.stomp'], { localAddress });
      let state = 0; // 0 connecting, 1 connected, 2 subscribed
      ws.on('open', () => ws.send(CONNECT));
      ws.on('message', (data) => {
        const text = String(data);
        if (state === 0 && text.startsWith('CONNECTED')) {
          state = 1;
          ws.send(SUBSCRIBE);
        } else if (state === 1 && text.startsWith('MESSAGE')) {
          state = 2;
          open++;
          if (open % 1000 === 0) send({ type: 'progress', open, failed });
          startOne();
        } else if (state === 2 && text.startsWith('MESSAGE')) {
          received++;
          if (received === open) send({ type: 'received', count: received });
        }
      });
      ws.on('error', () => {});
      ws.on('close', () => {
        if (state < 2) {
          failed++;
          startOne();
        }
      });
      sockets.push(ws);
    };
    for (let i = 0; i < Math.min(concurrency, n); i++) startOne();
  });
  send({ type: 'ready', open, failed, ms: performance.now() - t0 });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'reset') received = 0;
    if (m.type === 'exit') process.exit(0);
  });
}

/** Parent: server + measurements. */
async function runServer(n: number): Promise<void> {
  const sessions = new Set<ClientSession>();
  const app: StompApplication = {
    onSubscribe(session, destination) {
      sessions.add(session);
      if (destination === '/private/reply') {
        session.sendPrivate('SubscribePoolResponse', {
          networkId: 'test',
          denomination: 1000000,
          mustMixBalanceMin: 1000102,
          mustMixBalanceCap: 1009500,
          mustMixBalanceMax: 1010000,
        });
      }
    },
    onSend() {},
    onDisconnect(session) {
      sessions.delete(session);
    },
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const server = await startHttpServer({
    port: 0,
    host: '127.0.0.1',
    app: new Hono(),
    stomp: app,
    logger: silentLogger(),
    // The bench measures what sessions cost, not the abuse caps: lift the per-address and total caps.
    maxSessions: n + 100,
    limits: { maxSessionsPerAddress: n, maxConnections: n + 1000, maxConnectionsPerAddress: n },
  });
  console.log(
    `bench:connections  N=${n}  server pid ${process.pid}  port ${server.port}  fd limit ${fdLimit()}`,
  );
  const child = fork(
    new URL(import.meta.url).pathname,
    ['--client', `ws://127.0.0.1:${server.port}/ws/connect`, String(n)],
    {
      stdio: 'inherit',
    },
  );
  const waitFor = <T extends ChildMessage['type']>(type: T): Promise<Extract<ChildMessage, { type: T }>> =>
    new Promise((resolve) => {
      const onMsg = (m: ChildMessage): void => {
        if (m.type === 'progress') console.log(`  … ${m.open} sessions open (${m.failed} failed)`);
        if (m.type === type) {
          child.off('message', onMsg);
          resolve(m as Extract<ChildMessage, { type: T }>);
        }
      };
      child.on('message', onMsg);
    });
  const cpu0 = process.cpuUsage();
  const ready = await waitFor('ready');
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 500));
  gc?.();
  const after = process.memoryUsage();
  const held = server.sessions();
  const perSession = held > 0 ? (after.rss - before.rss) / held : 0;
  console.log(`sessions held:        ${held} (client saw ${ready.open} subscribed, ${ready.failed} failed)`);
  console.log(
    `time to establish:    ${(ready.ms / 1000).toFixed(2)} s (${Math.round(ready.open / (ready.ms / 1000))} sessions/s, CONNECT+SUBSCRIBE+MESSAGE each)`,
  );
  console.log(
    `server CPU:           ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms while establishing (${((cpu.user + cpu.system) / 1000 / Math.max(held, 1)).toFixed(2)} ms per session)`,
  );
  console.log(
    `server RSS:           ${mib(after.rss)} (before ${mib(before.rss)}, +${(perSession / 1024).toFixed(1)} KiB per session)`,
  );
  console.log(
    `server heap used:     ${mib(after.heapUsed)} (before ${mib(before.heapUsed)}, +${((after.heapUsed - before.heapUsed) / Math.max(held, 1) / 1024).toFixed(1)} KiB per session)${gc ? '' : '  [run with --expose-gc for steadier figures]'}`,
  );
  const got = waitFor('received');
  const t1 = performance.now();
  for (const s of sessions) s.sendPrivate('ErrorResponse', { mixId: null, message: 'bench' });
  const queued = performance.now() - t1;
  await got;
  console.log(
    `one message to all:   ${(performance.now() - t1).toFixed(0)} ms until the client had all ${held} (${queued.toFixed(0)} ms to queue)`,
  );
  const t2 = performance.now();
  child.send({ type: 'exit' });
  await server.close();
  console.log(
    `close():              ${(performance.now() - t2).toFixed(0)} ms, ${server.sessions()} sessions left`,
  );
  process.exit(0);
}

const args = process.argv.slice(2);
if (args[0] === '--client') {
  await runClients(args[1] as string, Number(args[2]));
} else {
  const n = Number(args[0] ?? process.env.BENCH_CONNECTIONS ?? 10_000);
  const need = n + 1024;
  if (fdLimit() < need && !process.env.BENCH_REEXEC) {
    const hard = Number(execFileSync('sh', ['-c', 'ulimit -Hn']).toString().trim()) || 0;
    // Only a process with CAP_SYS_RESOURCE may pass the hard limit (this sandbox's root may
    // not): try it, and fall back to the hard limit with a warning.
    const raised = spawnSync('sh', ['-c', `ulimit -n ${need * 2}`]).status === 0;
    const target = raised ? need * 2 : Number.isFinite(hard) && hard > 0 ? Math.min(hard, need * 2) : need;
    if (!raised && target < need) {
      console.log(
        `WARNING: hard fd limit ${hard} < ${need} needed for N=${n}; sessions beyond it fail (per-session figures stay valid)`,
      );
    }
    console.log(`raising ulimit -n to ${target} (was ${fdLimit()}, hard ${hard || 'unlimited'})`);
    const r = spawnSync(
      'sh',
      [
        '-c',
        `ulimit -n ${target} && exec "$0" "$@"`,
        process.execPath,
        ...process.execArgv,
        ...process.argv.slice(1),
      ],
      { stdio: 'inherit', env: { ...process.env, BENCH_REEXEC: '1' } },
    );
    process.exit(r.status ?? 1);
  }
  await runServer(n);
}
