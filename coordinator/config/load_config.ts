/**
 * The coordinator's whole configuration: the environment ({@link parseEnv})
 * plus the pools file it names ({@link loadPoolsFile}), with every problem of
 * both reported in one {@link ConfigError}; and the mapping to the mix
 * engine's {@link MixEngineParams} once the secret wallet keys are derived.
 *
 * @module
 */
import type { MixEngineParams } from '#coordinator/mix/types.ts';
import { ConfigError } from './config_error.ts';
import { describeEnv, type EnvConfig, parseEnv } from './env.ts';
import { loadPoolsFile, type PoolsFile } from './pools_file.ts';

/** Environment and pools file together. */
export interface CoordinatorConfig extends EnvConfig, PoolsFile {}

/** Loads and validates everything; throws one ConfigError listing every problem. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  opts: { readFile?: (path: string) => string } = {},
): CoordinatorConfig {
  const problems: string[] = [];
  let envConfig: EnvConfig | null = null;
  try {
    envConfig = parseEnv(env, opts);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  let pools: PoolsFile | null = null;
  const poolsPath = envConfig?.poolsFile ?? (env.WHIRLPOOL_POOLS || undefined);
  if (poolsPath) {
    try {
      pools = loadPoolsFile(poolsPath, opts.readFile);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length || !envConfig || !pools) throw new ConfigError(problems);
  return { ...envConfig, ...pools };
}

/** Engine parameters from the config and the keys derived from the secret wallet. */
export function engineParams(
  c: CoordinatorConfig,
  keys: { feeAddressSeed: Uint8Array; notificationPrivKey: Uint8Array; v1NotificationPrivKey?: Uint8Array },
): MixEngineParams {
  return {
    network: c.network,
    ...c.engine,
    mixEnabled: c.mixEnabled,
    testMode: c.testMode,
    scodes: c.scodes,
    feeAddressSeed: keys.feeAddressSeed,
    secretWalletNotificationPrivKey: keys.notificationPrivKey,
    secretWalletV1NotificationPrivKey: keys.v1NotificationPrivKey ?? keys.notificationPrivKey,
    partners: c.partners,
    blockHeightMaxSpread: c.blockHeightMaxSpread,
    blockHeightRefreshMs: c.blockHeightRefreshMs,
  };
}

/** The config without secrets, for the startup log line. */
export function describeConfig(c: CoordinatorConfig): Record<string, unknown> {
  return {
    ...describeEnv(c),
    pools: c.pools.map((p) => ({ id: p.id, denomination: p.denomination, anonymitySet: p.anonymitySet })),
    scodes: c.scodes.length,
    partners: c.partners.map((p) => p.id),
    engine: c.engine,
  };
}
