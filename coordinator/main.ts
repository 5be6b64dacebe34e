/**
 * Entry point of a coordinator instance (`npm run coordinator`): loads and
 * validates the configuration (exit code 2 with every problem listed when
 * invalid), starts the instance (coordinator/start_coordinator.ts), and
 * stops it cleanly on SIGTERM / SIGINT: drain (finish running mixes,
 * release pool leases), close sessions and the HTTP server, close the
 * database pool, exit 0. A second signal, or the drain exceeding
 * `WHIRLPOOL_SHUTDOWN_TIMEOUT_MS`, exits at once. Database or node outages
 * while running are logged, never fatal: unhandled rejections are logged and
 * the process keeps serving.
 *
 * @module
 */
import { clusterConfigFromEnv } from '#coordinator/cluster/cluster_config.ts';
import { ConfigError } from '#coordinator/config/config_error.ts';
import { loadConfig } from '#coordinator/config/load_config.ts';
import { createLogger } from '#coordinator/log.ts';
import { type CoordinatorHandle, StartupError, startCoordinator } from '#coordinator/start_coordinator.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel });

  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection (kept running)');
  });
  process.on('uncaughtException', (err) => {
    logger.error({ err }, 'uncaught exception (kept running)');
  });

  // Cluster settings are validated here too, so a bad one is a configuration error (exit 2), not a failed start.
  // Default shutdown timeout: the cluster's drain timeout (a running mix may take that long) + 15 s to release and close.
  let drainTimeoutMs: number;
  try {
    drainTimeoutMs = clusterConfigFromEnv({ ...process.env }).timing.drainTimeoutMs;
  } catch (err) {
    process.stderr.write(`Invalid configuration: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const shutdownTimeoutMs = config.shutdownTimeoutMs ?? drainTimeoutMs + 15_000;
  const abort = new AbortController();
  let handle: CoordinatorHandle | null = null;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutdown requested');
    abort.abort(new Error(`${signal} received`));
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: shutdownTimeoutMs }, 'shutdown timed out: exiting');
      process.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();
    if (!handle) return; // still starting: the abort ends the start, main() exits below
    handle.stop('drain').then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    handle = await startCoordinator(config, { logger, signal: abort.signal });
  } catch (err) {
    if (abort.signal.aborted) {
      logger.info('start aborted by shutdown');
      process.exit(0);
    }
    logger.fatal({ err }, err instanceof StartupError ? err.message : 'coordinator failed to start');
    process.exit(1);
  }
  if (abort.signal.aborted) await handle.stop('immediate').then(() => process.exit(0));
}

await main();
