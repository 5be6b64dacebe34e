/**
 * Load generator for bench/bootstrap.ts, run as its own process so it does
 * not share an event loop with the server: N keep-alive connections
 * (node:http Agent, one request in flight per connection) hammer
 * `GET <url>/instances` for a bounded duration, then one JSON line with the
 * count, errors and latency percentiles goes to stdout.
 *
 * Usage: node bench/bootstrap_load.ts <baseUrl> <connections> <durationMs> [etag]
 *
 * @module
 */
import { Agent, request } from 'node:http';

const [baseUrl, connArg, durArg, etag] = process.argv.slice(2);
if (!baseUrl) throw new Error('usage: bootstrap_load.ts <baseUrl> <connections> <durationMs> [etag]');
const connections = Number(connArg ?? 32);
const durationMs = Number(durArg ?? 10_000);
const url = new URL('/instances', baseUrl);
const agent = new Agent({ keepAlive: true, maxSockets: connections });
const headers: Record<string, string> = etag ? { 'If-None-Match': etag } : {};

/** Latency histogram in 10 µs buckets up to 1 s. */
const buckets = new Uint32Array(100_001);
let ok = 0;
let errors = 0;
let bytes = 0;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = request(url, { agent, headers }, (res) => {
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () => {
        const us = Number(process.hrtime.bigint() - t0) / 1000;
        buckets[Math.min(100_000, Math.floor(us / 10))]!++;
        if (res.statusCode === 200 || res.statusCode === 304) ok++;
        else errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

function percentile(p: number): number {
  const total = buckets.reduce((a, b) => a + b, 0);
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i]!;
    if (seen >= total * p) return (i * 10 + 5) / 1000; // ms
  }
  return Number.NaN;
}

// warm-up: open the connections
await Promise.all(Array.from({ length: connections }, () => once()));
buckets.fill(0);
ok = 0;
errors = 0;
bytes = 0;

const start = performance.now();
const end = start + durationMs;
await Promise.all(
  Array.from({ length: connections }, async () => {
    while (performance.now() < end) await once();
  }),
);
const elapsed = performance.now() - start;
agent.destroy();
console.log(
  JSON.stringify({
    connections,
    durationMs: Math.round(elapsed),
    requests: ok,
    errors,
    reqPerSec: Math.round((ok / elapsed) * 1000),
    p50Ms: percentile(0.5),
    p90Ms: percentile(0.9),
    p99Ms: percentile(0.99),
    bytesPerResponse: ok ? Math.round(bytes / ok) : 0,
  }),
);
