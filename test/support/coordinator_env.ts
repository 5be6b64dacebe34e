/**
 * Configuration for real coordinator processes in integration tests: the
 * base `WHIRLPOOL_*` environment every suite starts from (database, node,
 * regtest, pools file, secret wallet words, loopback host), and a pools file
 * derived from `config/pools.regtest.json` with the pool ids a suite needs.
 * Suites spread their own settings (port, URLs, log level, timings) on top.
 *
 * @module
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The regtest pools file shipped with the repository (paths relative to the repo root). */
export const REGTEST_POOLS_FILE = 'config/pools.regtest.json';

/** Secret wallet words of test coordinators that need no particular wallet. */
export const TEST_SECRET_WALLET_WORDS = 'all all all all all all all all all all all all';

/**
 * Writes `<dir>/pools.json`: `config/pools.regtest.json` with its pools
 * replaced by one per id, each a copy of the first regtest pool with
 * `denomination` = id in BTC (`'0.01btc'` → 1 000 000 sats), `feeValue` = 5 %
 * of it and no `feeAccept`; `overrides` are spread over every pool. Returns
 * the file's path.
 */
export async function writePoolsFile(
  dir: string,
  poolIds: readonly string[],
  overrides: Record<string, unknown> = {},
): Promise<string> {
  const regtest = JSON.parse(await readFile(REGTEST_POOLS_FILE, 'utf8')) as {
    pools: Array<Record<string, unknown>>;
  };
  const template = regtest.pools[0]!;
  const pools = poolIds.map((id) => ({
    ...template,
    id,
    denomination: Math.round(Number.parseFloat(id) * 1e8),
    feeValue: Math.round(Number.parseFloat(id) * 5e6),
    feeAccept: {},
    ...overrides,
  }));
  const path = join(dir, 'pools.json');
  await writeFile(path, JSON.stringify({ ...regtest, pools }));
  return path;
}

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

/**
 * A pools file (JSON value) with one pool for end-to-end mixes of real
 * clients: the reference's miner-fee bounds, feeValue 50 000 sats, mustMixMin 1, no
 * liquidity required, and short engine timers with one confirmation.
 */
export function singlePoolFile(p: { id: string; denomination: number; anonymitySet: number }): {
  pools: Array<Record<string, unknown>>;
  engine: Record<string, unknown>;
} {
  return {
    pools: [
      {
        id: p.id,
        denomination: p.denomination,
        feeValue: 50_000,
        minerFeeMin: 102,
        minerFeeCap: 9500,
        minerFeeMax: 10_000,
        minerFeeMix: 510,
        mustMixMin: 1,
        liquidityMin: 0,
        anonymitySet: p.anonymitySet,
      },
    ],
    engine: {
      liquidityInterval: 2,
      registerOutputTimeout: 30,
      revealOutputTimeout: 10,
      signingTimeout: 30,
      minConfirmationsMustMix: 1,
      minConfirmationsLiquidity: 1,
      subscribeDelayMs: 1000,
    },
  };
}
