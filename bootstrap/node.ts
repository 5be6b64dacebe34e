/**
 * Bootstrap node entry for Node (`npm run bootstrap`): reads the BOOTSTRAP_*
 * environment (bootstrap/config.ts), serves the app with @hono/node-server,
 * prints `bootstrap (node) listening on http://host:port`, and stops cleanly
 * on SIGTERM / SIGINT. Sets explicit HTTP timeouts ({@link BOOTSTRAP_HTTP_TIMEOUTS}).
 *
 * @module
 */
import { serve } from '@hono/node-server';
import { parseBootstrapConfig } from './config.ts';
import { createBootstrapNode, listeningLine } from './runtime.ts';

/**
 * Node HTTP timeouts of the bootstrap node (it only answers small GETs): headers
 * within 10 s, a whole request within 15 s, keep-alive connections idle at most
 * 5 s, checked every second (Node's default check is every 30 s and its request
 * timeout 300 s: a slow client would hold a socket that long).
 */
export const BOOTSTRAP_HTTP_TIMEOUTS = {
  headersTimeout: 10_000,
  requestTimeout: 15_000,
  keepAliveTimeout: 5000,
  connectionsCheckingInterval: 1000,
} as const;

const config = parseBootstrapConfig(process.env);
const node = createBootstrapNode(config);
const server = serve(
  {
    fetch: node.app.fetch,
    port: config.port,
    hostname: config.host,
    serverOptions: { ...BOOTSTRAP_HTTP_TIMEOUTS },
  },
  (info) => {
    console.log(listeningLine('node', config.host, info.port));
  },
);

function shutdown(signal: string): void {
  console.log(`bootstrap (node) stopping on ${signal}`);
  server.close();
  void node.reader.close?.().catch(() => undefined);
  setTimeout(() => process.exit(0), 200).unref();
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
