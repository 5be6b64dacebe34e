/**
 * Free TCP port finder for tests that start servers and child processes
 * (btcd, coordinators, bootstrap nodes) side by side on 127.0.0.1.
 *
 * The OS picks each port (listen on port 0); the socket is closed before the
 * port is returned, so another process could grab it in between — callers
 * that spawn a process should retry with fresh ports if it fails to bind.
 *
 * @module
 */
import { createServer, type Server } from 'node:net';

function listenOnRandomPort(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** `count` distinct free TCP ports on `host` (default 127.0.0.1). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnRandomPort(host));
    return servers.map((s) => {
      const address = s.address();
      if (address === null || typeof address === 'string') {
        throw new Error(`Cannot read the port of a listening socket on '${host}'`);
      }
      return address.port;
    });
  } finally {
    await Promise.all(servers.map(closeServer));
  }
}

/** One free TCP port on `host` (default 127.0.0.1). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port!;
}
