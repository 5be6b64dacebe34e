/**
 * Bootstrap node entry for Deno:
 * `deno run --allow-net --allow-env --allow-read --allow-sys bootstrap/deno.ts`.
 * Same configuration and app as the Node entry; served by `Deno.serve`.
 * (Excluded from tsc: it uses the `Deno` global.)
 *
 * @module
 */
import { parseBootstrapConfig } from './config.ts';
import { createBootstrapNode, listeningLine } from './runtime.ts';

const config = parseBootstrapConfig(Deno.env.toObject());
const node = createBootstrapNode(config);
const server = Deno.serve(
  {
    port: config.port,
    hostname: config.host,
    onListen: ({ port }) => console.log(listeningLine('deno', config.host, port)),
  },
  node.app.fetch,
);

async function shutdown(signal: string) {
  console.log(`bootstrap (deno) stopping on ${signal}`);
  await server.shutdown();
  await node.reader.close?.().catch(() => undefined);
  Deno.exit(0);
}
Deno.addSignalListener('SIGTERM', () => void shutdown('SIGTERM'));
Deno.addSignalListener('SIGINT', () => void shutdown('SIGINT'));
