/**
 * Attacks of the abuse suite and `npm run bench:abuse` (issue 13), each a
 * real client on real sockets against a coordinator on 127.0.0.1, and the
 * probes they are measured with: the coordinator process's RSS and CPU from
 * `/proc`, and its Prometheus counters. Attackers bind to their own loopback
 * address (127.0.0.2 and up, all of 127/8 is loopback on Linux) so the
 * per-address caps meet them and not the honest clients on 127.0.0.1.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';

/** Resident memory of a process, bytes (Linux `/proc/<pid>/status` VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU time (user + system) of a process, ms (`/proc/<pid>/stat`, 100 ticks/s). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Samples a process's RSS every 50 ms while `fn` runs; returns its result and the peak growth. */
export async function measure<T>(
  pid: number,
  fn: () => Promise<T>,
): Promise<{ result: T; rssGrowth: number; cpuMs: number; ms: number }> {
  const base = rssBytes(pid);
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  let peak = base;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // process gone
    }
  }, 50);
  try {
    const result = await fn();
    peak = Math.max(peak, rssBytes(pid));
    return { result, rssGrowth: peak - base, cpuMs: cpuMs(pid) - cpu0, ms: performance.now() - t0 };
  } finally {
    clearInterval(timer);
  }
}

/** The value of a Prometheus sample (`name{labels} value`) in a `/metrics` text, summed over matching lines. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (!Object.entries(labels).every(([k, v]) => rest.includes(`${k}="${v}"`))) continue;
    sum += Number(rest.slice(rest.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** What a raw HTTP exchange returned. */
export interface RawHttpResult {
  status: number | null;
  body: string;
  sentBytes: number;
  /** The server closed the connection. */
  closed: boolean;
}

/**
 * Sends a POST with a body of `totalBytes` (declared with Content-Length, or
 * chunked) on a raw socket from `localAddress`, writing as fast as the socket
 * takes it, until the server answers and closes, or everything is sent.
 */
export function rawPost(o: {
  port: number;
  path: string;
  totalBytes: number;
  chunked: boolean;
  localAddress?: string;
  contentType?: string;
}): Promise<RawHttpResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: o.port, localAddress: o.localAddress });
    let response = '';
    let sent = 0;
    let done = false;
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      socket.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(response);
      const i = response.indexOf('\r\n\r\n');
      resolve({
        status: m ? Number(m[1]) : null,
        body: i >= 0 ? response.slice(i + 4) : '',
        sentBytes: sent,
        closed,
      });
    };
    socket.on('data', (d) => {
      response += d.toString();
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.once('connect', () => {
      socket.write(
        `POST ${o.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${o.contentType ?? 'application/json'}\r\n` +
          (o.chunked ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${o.totalBytes}\r\n`) +
          '\r\n',
      );
      const pump = () => {
        while (!done && sent < o.totalBytes && response === '') {
          const n = Math.min(chunk.length, o.totalBytes - sent);
          const piece = chunk.subarray(0, n);
          const ok = o.chunked
            ? socket.write(`${n.toString(16)}\r\n`) && socket.write(piece) && socket.write('\r\n')
            : socket.write(piece);
          sent += n;
          if (!ok) return void socket.once('drain', pump);
        }
        if (!done && sent >= o.totalBytes && o.chunked) socket.write('0\r\n\r\n');
      };
      pump();
    });
  });
}

/** Opens a raw TCP connection that sends `prefix` and then nothing; resolves when the server closes it. */
export function slowClient(o: { port: number; prefix: string; localAddress?: string }): {
  socket: Socket;
  closed: Promise<{ response: string; afterMs: number }>;
} {
  const t0 = performance.now();
  const socket = connect({ host: '127.0.0.1', port: o.port, localAddress: o.localAddress });
  let response = '';
  socket.on('data', (d) => {
    response += d.toString();
  });
  socket.once('connect', () => socket.write(o.prefix));
  const closed = new Promise<{ response: string; afterMs: number }>((resolve) => {
    socket.on('error', () => undefined);
    socket.once('close', () => resolve({ response, afterMs: performance.now() - t0 }));
  });
  return { socket, closed };
}

/** A raw-STOMP WebSocket client from `localAddress` that records frames and its close. */
export interface StompProbe {
  ws: WebSocket;
  frames: string[];
  /** Resolves with the HTTP status of a refused upgrade, or 101 once open. */
  opened: Promise<number>;
  closed: Promise<void>;
  isClosed(): boolean;
}

/** Connects a {@link StompProbe} to `ws://127.0.0.1:<port>/ws/connect`. */
export function stompProbe(port: number, localAddress: string): StompProbe {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/connect`, ['v12.stomp'], { localAddress });
  const frames: string[] = [];
  let isClosed = false;
  ws.on('message', (d) => frames.push(d.toString()));
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
    ws.once('close', () => {
      isClosed = true;
      resolve();
    });
    ws.once('error', () => {
      isClosed = true;
      resolve();
    });
  });
  const opened = new Promise<number>((resolve) => {
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      req.destroy();
      isClosed = true;
      markClosed();
    });
    ws.once('error', () => resolve(0));
  });
  return { ws, frames, opened, closed, isClosed: () => isClosed };
}

/** POSTs `body` to `path` from `localAddress` with node:http (own agent, at most `sockets` connections). */
export function httpPost(o: {
  port: number;
  path: string;
  body: string;
  localAddress: string;
  agent?: import('node:http').Agent;
}): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: o.port,
        path: o.path,
        method: 'POST',
        localAddress: o.localAddress,
        agent: o.agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(o.body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(o.body);
  });
}
