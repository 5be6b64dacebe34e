/**
 * A tiny SOCKS5 client (RFC 1928, with RFC 1929 username/password) on
 * `node:net`, so the client can send `POST /rest/registerOutput` — and, if
 * wanted, its WebSockets — through Tor or another proxy. Tor isolates streams
 * by SOCKS credentials, so giving the register-output client its own
 * username gives it its own circuit (spec §1.2, §9.6).
 *
 * - {@link Socks5Agent}: an `http.Agent` (also usable as `ws`'s `agent`).
 * - {@link socks5Fetch}: a minimal `fetch` over that agent for the REST
 *   client's `registerOutputFetch` (string bodies, text responses); with
 *   `isolate`, every request gets fresh random credentials, so Tor gives it a
 *   circuit of its own ({@link withFreshCredentials}).
 *
 * Hand-written: the npm SOCKS packages are not dependencies of this project.
 *
 * @module
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { type Duplex, PassThrough } from 'node:stream';
import tls from 'node:tls';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';

/** A SOCKS5 proxy, e.g. `socks5h://user:pass@127.0.0.1:9050` (the target name is resolved by the proxy). */
export interface Socks5Proxy {
  host: string;
  port: number;
  username?: string;
  password?: string;
}

/** Parses `socks5://` / `socks5h://` URLs (credentials optional). */
export function parseSocks5Url(url: string): Socks5Proxy {
  const u = new URL(url);
  if (u.protocol !== 'socks5:' && u.protocol !== 'socks5h:') {
    throw new TypeError(`Not a SOCKS5 URL: '${u.protocol}//${u.host}'`);
  }
  return {
    host: u.hostname,
    port: Number(u.port || 1080),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

/**
 * The proxy with a fresh random username and password (16 random bytes
 * each, hex). Tor's default `IsolateSOCKSAuth` puts streams with different
 * credentials on different circuits, so each use gets an exit (or onion
 * circuit) no other request of this client shares. Credentials configured in
 * the proxy URL are replaced.
 */
export function withFreshCredentials(proxy: Socks5Proxy | string): Socks5Proxy {
  const p = typeof proxy === 'string' ? parseSocks5Url(proxy) : proxy;
  return {
    host: p.host,
    port: p.port,
    username: bytesToHex(randomBytes(16)),
    password: bytesToHex(randomBytes(16)),
  };
}

const REPLY_ERRORS: Record<number, string> = {
  1: 'general failure',
  2: 'connection not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

/** Reads the handshake from a socket with one listener; `release()` hands the socket back paused, with any extra bytes unshifted. */
class HandshakeReader {
  readonly #socket: net.Socket;
  #buf = Buffer.alloc(0);
  #wait: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  #error: Error | null = null;
  readonly #onData = (chunk: Buffer) => {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    this.#check();
  };
  readonly #onEnd = () => this.#fail(new Error('SOCKS5 proxy closed the connection during the handshake'));
  readonly #onError = (err: Error) => this.#fail(err);

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
  }

  /** Resolves with the next `n` bytes. */
  read(n: number): Promise<Buffer> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#wait = { n, resolve, reject };
      this.#check();
    });
  }

  /** Stops reading; the socket is paused and keeps unread bytes. */
  release(): void {
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('error', this.#onError);
    this.#socket.pause();
    if (this.#buf.length > 0) this.#socket.unshift(this.#buf);
    this.#buf = Buffer.alloc(0);
  }

  #check(): void {
    const w = this.#wait;
    if (w && this.#buf.length >= w.n) {
      this.#wait = null;
      const out = this.#buf.subarray(0, w.n);
      this.#buf = this.#buf.subarray(w.n);
      w.resolve(out);
    }
  }

  #fail(err: Error): void {
    this.#error = err;
    const w = this.#wait;
    this.#wait = null;
    w?.reject(err);
  }
}

/**
 * Opens a TCP connection to `host:port` through the proxy (CONNECT,
 * domain-name address). The socket is returned *paused* (no byte lost):
 * attach listeners, then `resume()` it or `pipe()` it.
 */
export async function socks5Connect(proxy: Socks5Proxy, host: string, port: number): Promise<net.Socket> {
  const socket = net.connect({ host: proxy.host, port: proxy.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const reader = new HandshakeReader(socket);
  const readBytes = (_s: net.Socket, n: number) => reader.read(n);
  try {
    const withAuth = proxy.username !== undefined;
    socket.write(Buffer.from(withAuth ? [5, 2, 0, 2] : [5, 1, 0]));
    const [ver, method] = await readBytes(socket, 2);
    if (ver !== 5) throw new Error(`Not a SOCKS5 proxy (version ${ver})`);
    if (method === 2) {
      const user = Buffer.from(proxy.username ?? '');
      const pass = Buffer.from(proxy.password ?? '');
      if (user.length > 255 || pass.length > 255)
        throw new Error('SOCKS5 username/password longer than 255 bytes');
      socket.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]));
      const [, status] = await readBytes(socket, 2);
      if (status !== 0) throw new Error('SOCKS5 proxy refused the username/password');
    } else if (method !== 0) {
      throw new Error(`SOCKS5 proxy accepts none of our auth methods (answered ${method})`);
    }
    const name = Buffer.from(host);
    if (name.length > 255) throw new Error('SOCKS5 target host name longer than 255 bytes');
    const portBytes = Buffer.from([port >> 8, port & 0xff]);
    socket.write(Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, portBytes]));
    const head = await readBytes(socket, 4);
    if (head[1] !== 0) {
      throw new Error(
        `SOCKS5 CONNECT to ${host}:${port} failed: ${REPLY_ERRORS[head[1] ?? 1] ?? `code ${head[1]}`}`,
      );
    }
    const atyp = head[3];
    const addrLen = atyp === 1 ? 4 : atyp === 4 ? 16 : (await readBytes(socket, 1))[0]!;
    await readBytes(socket, addrLen + 2);
    reader.release();
    return socket;
  } catch (err) {
    reader.release();
    socket.destroy();
    throw err;
  }
}

/** An `http.Agent` whose connections go through a SOCKS5 proxy (TLS on top for `https:` / `wss:`). */
export class Socks5Agent extends http.Agent {
  readonly proxy: Socks5Proxy;

  /** `secure: true` makes an agent for `https:` / `wss:` requests (Node checks the agent's protocol). */
  constructor(proxy: Socks5Proxy | string, opts?: http.AgentOptions & { secure?: boolean }) {
    super({ keepAlive: false, ...opts });
    this.proxy = typeof proxy === 'string' ? parseSocks5Url(proxy) : proxy;
    if (opts?.secure) (this as unknown as { protocol: string }).protocol = 'https:';
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    const o = options as {
      host?: string;
      hostname?: string;
      port?: number | string;
      protocol?: string;
      servername?: string;
    };
    const host = o.hostname ?? o.host ?? 'localhost';
    const secure =
      o.protocol === 'https:' ||
      o.protocol === 'wss:' ||
      (this as unknown as { protocol?: string }).protocol === 'https:';
    const port = Number(o.port ?? (secure ? 443 : 80));
    socks5Connect(this.proxy, host, port).then(
      (socket) => {
        if (!secure) {
          callback?.(null, socket);
          setImmediate(() => socket.resume()); // the caller has attached its listeners by now
          return;
        }
        socket.resume();
        const tlsSocket = tls.connect({ socket, servername: o.servername ?? host });
        tlsSocket.once('secureConnect', () => callback?.(null, tlsSocket));
        tlsSocket.once('error', (err) => callback?.(err, tlsSocket));
      },
      (err: Error) => callback?.(err, new PassThrough()),
    );
    return undefined;
  }
}

/**
 * A minimal `fetch` through a SOCKS5 proxy (one connection per request): for
 * {@link CoordinatorRest}'s `registerOutputFetch`. Supports string bodies and
 * `AbortSignal`; the response body is buffered; redirects are never followed
 * (the caller decides). With `isolate`, each request uses fresh random
 * credentials (its own Tor circuit) instead of the proxy's.
 */
export function socks5Fetch(proxy: Socks5Proxy | string, opts: { isolate?: boolean } = {}): typeof fetch {
  const fixed = typeof proxy === 'string' ? parseSocks5Url(proxy) : proxy;
  const fixedAgents = opts.isolate
    ? null
    : { plain: new Socks5Agent(fixed), secure: new Socks5Agent(fixed, { secure: true }) };
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    let agent: Socks5Agent;
    if (fixedAgents) agent = url.protocol === 'https:' ? fixedAgents.secure : fixedAgents.plain;
    else agent = new Socks5Agent(withFreshCredentials(fixed), { secure: url.protocol === 'https:' });
    const mod = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const body = init?.body === undefined || init.body === null ? undefined : String(init.body);
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise<Response>((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method: init?.method ?? 'GET',
          headers,
          agent: agent as unknown as https.Agent,
          signal: init?.signal ?? undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              if (typeof v === 'string') h.set(k, v);
              else if (Array.isArray(v)) for (const x of v) h.append(k, x);
            }
            const status = res.statusCode ?? 0;
            const nullBody = status === 204 || status === 304;
            resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: h }));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }) as typeof fetch;
}
