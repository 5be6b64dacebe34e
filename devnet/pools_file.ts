/**
 * Pools files (docs/configuration.md, "Pools file") for local clusters: the
 * demo, integration suites and benchmarks build theirs here. Two shapes:
 * {@link mixPoolsFile} for pools that real clients mix in (the reference's
 * miner-fee bounds, no liquidity required, one confirmation), and
 * {@link writePoolsFile} for `config/pools.regtest.json` with other pool ids.
 *
 * @module
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The regtest pools file shipped with the repository. */
export const REGTEST_POOLS_FILE: string = fileURLToPath(
  new URL('../config/pools.regtest.json', import.meta.url),
);

/** A pools file as JSON. */
export interface PoolsFileJson {
  $comment?: string;
  pools: Array<Record<string, unknown>>;
  scodes?: Record<string, unknown>;
  engine: Record<string, unknown>;
}

/** What a mixing pool needs to say; the rest comes from {@link mixPoolEntry}. */
export interface MixPoolSpec {
  id: string;
  /** Sats. */
  denomination: number;
  anonymitySet: number;
  /** Sats; default 5 % of the denomination. */
  feeValue?: number;
  /** Default 1. */
  mustMixMin?: number;
  /** Default 0: a mix of must-mix inputs only. */
  liquidityMin?: number;
}

/** Engine timers (seconds) of end-to-end mixes: short, one confirmation for every input. */
export const E2E_ENGINE: Readonly<Record<string, unknown>> = {
  liquidityInterval: 2,
  registerOutputTimeout: 30,
  revealOutputTimeout: 10,
  signingTimeout: 30,
  minConfirmationsMustMix: 1,
  minConfirmationsLiquidity: 1,
  subscribeDelayMs: 1000,
};

/** One pool entry: the reference's miner-fee bounds (102 / 9 500 / 10 000, mix 510) and `p`. */
export function mixPoolEntry(p: MixPoolSpec): Record<string, unknown> {
  return {
    id: p.id,
    denomination: p.denomination,
    feeValue: p.feeValue ?? Math.round(p.denomination * 0.05),
    minerFeeMin: 102,
    minerFeeCap: 9500,
    minerFeeMax: 10_000,
    minerFeeMix: 510,
    mustMixMin: p.mustMixMin ?? 1,
    liquidityMin: p.liquidityMin ?? 0,
    anonymitySet: p.anonymitySet,
  };
}

/** A pools file of mixing pools with `engine` timers (default {@link E2E_ENGINE}). */
export function mixPoolsFile(
  pools: readonly MixPoolSpec[],
  engine: Readonly<Record<string, unknown>> = E2E_ENGINE,
  comment?: string,
): PoolsFileJson {
  return {
    ...(comment ? { $comment: comment } : {}),
    pools: pools.map(mixPoolEntry),
    scodes: {},
    engine: { ...engine },
  };
}

/** A pools file with one mixing pool (feeValue 50 000 sats) and the {@link E2E_ENGINE} timers. */
export function singlePoolFile(p: { id: string; denomination: number; anonymitySet: number }): PoolsFileJson {
  return mixPoolsFile([{ ...p, feeValue: 50_000 }]);
}

/** Writes `json` to `<dir>/pools.json` and returns the path. */
export async function writePoolsJson(dir: string, json: PoolsFileJson): Promise<string> {
  const path = join(dir, 'pools.json');
  await writeFile(path, `${JSON.stringify(json, null, 2)}\n`);
  return path;
}

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
  const regtest = JSON.parse(await readFile(REGTEST_POOLS_FILE, 'utf8')) as PoolsFileJson;
  const template = regtest.pools[0]!;
  const pools = poolIds.map((id) => ({
    ...template,
    id,
    denomination: Math.round(Number.parseFloat(id) * 1e8),
    feeValue: Math.round(Number.parseFloat(id) * 5e6),
    feeAccept: {},
    ...overrides,
  }));
  return writePoolsJson(dir, { ...regtest, pools });
}
