/**
 * A minimal SOCKS5 server for tests (RFC 1928 CONNECT by domain name, RFC
 * 1929 username/password or no auth) that records the credentials and
 * target of every CONNECT, so tests can check which network identity (Tor
 * circuit) each request used. Password `wrong` is refused; host
 * `refused.invalid` gets "connection refused".
 *
 * @module
 */
import net from 'node:net';

/** One CONNECT the server saw: the credentials it came with and its target. */
export interface SocksLog {
  user: string | null;
  password: string | null;
  target: string;
}

/** A minimal SOCKS5 server (no-auth or user/pass `tor`/any, CONNECT by domain name). */
export function startSocksServer(log: SocksLog[]): Promise<net.Server> {
  const server = net.createServer((client) => {
    let stage = 0;
    let user: string | null = null;
    let password: string | null = null;
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (stage === 0 && buf.length >= 2 && buf.length >= 2 + buf[1]!) {
        const methods = [...buf.subarray(2, 2 + buf[1]!)];
        buf = buf.subarray(2 + buf[1]!);
        if (methods.includes(2)) {
          client.write(Buffer.from([5, 2]));
          stage = 1;
        } else {
          client.write(Buffer.from([5, 0]));
          stage = 2;
        }
      }
      if (stage === 1 && buf.length >= 2) {
        const ulen = buf[1]!;
        if (buf.length < 2 + ulen + 1) return;
        const plen = buf[2 + ulen]!;
        if (buf.length < 3 + ulen + plen) return;
        user = buf.subarray(2, 2 + ulen).toString();
        const pass = buf.subarray(3 + ulen, 3 + ulen + plen).toString();
        password = pass;
        buf = buf.subarray(3 + ulen + plen);
        if (pass === 'wrong') {
          client.end(Buffer.from([1, 1]));
          return;
        }
        client.write(Buffer.from([1, 0]));
        stage = 2;
      }
      if (stage === 2 && buf.length >= 5) {
        const len = buf[4]!;
        if (buf.length < 5 + len + 2) return;
        const host = buf.subarray(5, 5 + len).toString();
        const port = buf.readUInt16BE(5 + len);
        const rest = buf.subarray(7 + len);
        stage = 3;
        client.off('data', onData);
        log.push({ user, password, target: `${host}:${port}` });
        if (host === 'refused.invalid') {
          client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
          return;
        }
        const upstream = net.connect({ host, port }, () => {
          client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
          if (rest.length) upstream.write(rest);
          client.pipe(upstream).pipe(client);
        });
        upstream.on('error', () => client.destroy());
      }
    };
    client.on('data', onData);
    client.on('error', () => {});
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}
