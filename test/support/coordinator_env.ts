/**
 * Configuration for real coordinator processes in integration tests: the
 * base `WHIRLPOOL_*` environment every suite starts from (database, node,
 * regtest, pools file, secret wallet words, loopback host). Suites spread
 * their own settings (port, URLs, log level, timings) on top; pools files
 * come from `#devnet/pools_file.ts`.
 *
 * @module
 */
/** The regtest pools file shipped with the repository (paths relative to the repo root). */
export const REGTEST_POOLS_FILE = 'config/pools.regtest.json';

/** Secret wallet words of test coordinators that need no particular wallet. */
export const TEST_SECRET_WALLET_WORDS = 'all all all all all all all all all all all all';

/** Options of {@link baseCoordinatorEnv}. */
export interface BaseCoordinatorEnvOptions {
  /** `WHIRLPOOL_DB_URL` (a test database's `url`, possibly through a proxy). */
  dbUrl: string;
  /** `WHIRLPOOL_BITCOIN_RPC_URL` (btcd's `rpcUrl`, possibly through a proxy). */
  rpcUrl: string;
  /** `WHIRLPOOL_POOLS` (default {@link REGTEST_POOLS_FILE}). */
  poolsFile?: string;
  /** `WHIRLPOOL_SECRET_WALLET_WORDS` (default {@link TEST_SECRET_WALLET_WORDS}). */
  secretWalletWords?: string;
}

/**
 * The environment every test coordinator shares: database, node, network
 * `regtest`, pools file, secret wallet words, `WHIRLPOOL_HOST=127.0.0.1`.
 */
export function baseCoordinatorEnv(o: BaseCoordinatorEnvOptions): Record<string, string> {
  return {
    WHIRLPOOL_DB_URL: o.dbUrl,
    WHIRLPOOL_BITCOIN_RPC_URL: o.rpcUrl,
    WHIRLPOOL_NETWORK: 'regtest',
    WHIRLPOOL_POOLS: o.poolsFile ?? REGTEST_POOLS_FILE,
    WHIRLPOOL_SECRET_WALLET_WORDS: o.secretWalletWords ?? TEST_SECRET_WALLET_WORDS,
    WHIRLPOOL_HOST: '127.0.0.1',
  };
}
