/**
 * A tiny TCP proxy (node:net) placed between one process and MariaDB to
 * simulate network failures without touching the shared server:
 *
 * - `blackhole()`: connections stay open but no byte flows either way
 *   (partition; queries hang until their timeout), new connections are held;
 * - `refuse()`: every open connection is reset and new ones are closed at
 *   once (server down: ECONNRESET / PROTOCOL_CONNECTION_LOST);
 * - `heal()`: back to forwarding (held bytes are delivered, like TCP after a
 *   partition heals).
 *
 * @module
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** Forwarding mode of a {@link TcpProxy}. */
export type ProxyMode = 'forward' | 'blackhole' | 'refuse';

/** A running proxy; see module doc. */
export interface TcpProxy {
  readonly port: number;
  readonly mode: ProxyMode;
  /** `url` (mysql://...) with host and port replaced by the proxy's. */
  rewriteUrl(url: string): string;
  blackhole(): void;
  refuse(): void;
  heal(): void;
  /** Number of client connections currently open through the proxy. */
  connections(): number;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | null;
}

/** Starts a proxy on 127.0.0.1 (free port) forwarding to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'forward';
  const pairs = new Set<Pair>();

  function link(pair: Pair): void {
    const up = connect(target.port, target.host);
    pair.upstream = up;
    up.on('error', () => pair.client.destroy());
    pair.client.on('error', () => up.destroy());
    up.on('close', () => {
      pair.client.destroy();
      pairs.delete(pair);
    });
    pair.client.on('close', () => {
      up.destroy();
      pairs.delete(pair);
    });
    pair.client.pipe(up);
    up.pipe(pair.client);
    if (mode === 'blackhole') {
      pair.client.pause();
      up.pause();
    }
  }

  const server: Server = createServer((client) => {
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: null };
    pairs.add(pair);
    client.on('error', () => undefined);
    if (mode === 'blackhole') {
      client.pause();
      client.on('close', () => pairs.delete(pair));
      return; // linked on heal()
    }
    link(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('TCP proxy did not get a port');
  const port = address.port;

  return {
    port,
    get mode() {
      return mode;
    },
    rewriteUrl(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    blackhole() {
      mode = 'blackhole';
      for (const p of pairs) {
        p.client.pause();
        p.upstream?.pause();
      }
    },
    refuse() {
      mode = 'refuse';
      for (const p of [...pairs]) {
        p.client.resetAndDestroy();
        p.upstream?.destroy();
        pairs.delete(p);
      }
    },
    heal() {
      mode = 'forward';
      for (const p of [...pairs]) {
        if (p.client.destroyed) {
          pairs.delete(p);
          continue;
        }
        if (p.upstream === null) link(p);
        p.client.resume();
        p.upstream?.resume();
      }
    },
    connections() {
      return pairs.size;
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
