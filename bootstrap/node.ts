/**
 * Bootstrap node entry for Node (`npm run bootstrap`): reads the BOOTSTRAP_*
 * environment (bootstrap/config.ts), serves the app with @hono/node-server,
 * prints `bootstrap (node) listening on http://host:port`, and stops cleanly
 * on SIGTERM / SIGINT.
 *
 * @module
 */
import { serve } from '@hono/node-server';
import { parseBootstrapConfig } from './config.ts';
import { createBootstrapNode, listeningLine } from './runtime.ts';

const config = parseBootstrapConfig(process.env);
const node = createBootstrapNode(config);
const server = serve({ fetch: node.app.fetch, port: config.port, hostname: config.host }, (info) => {
  console.log(listeningLine('node', config.host, info.port));
});

function shutdown(signal: string): void {
  console.log(`bootstrap (node) stopping on ${signal}`);
  server.close();
  void node.reader.close?.().catch(() => undefined);
  setTimeout(() => process.exit(0), 200).unref();
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
