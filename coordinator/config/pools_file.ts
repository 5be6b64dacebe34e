/**
 * The pools file (`WHIRLPOOL_POOLS`): a JSON document with the pools
 * (`server.pools[i].*` keys of spec §7.1 in camelCase), the scodes
 * (`server.samourai-fees.scodes`), the Tx0 partners (`server.partners`,
 * addendum §4.2) and the engine timers and ban policy
 * (`server.register-input.*`, `server.*.timeout`, `server.ban.*`), validated
 * with zod and turned into the engine's {@link PoolConfig} / timing types.
 * Durations are in seconds, as in the reference; scode expirations and
 * `feeAccept` times are in **milliseconds** (spec §4.6.6, §10.1).
 * Unknown keys are errors (a typo must not silently fall back to a default).
 * Format and example: docs/configuration.md, config/pools.regtest.json.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { BanPolicy, PoolConfig } from '#coordinator/mix/types.ts';
import { CASCADING_SCODE_PAYLOAD } from '#shared/protocol/constants.ts';
import { DEFAULT_PARTNERS, type PartnerConfig } from '#shared/protocol/partner.ts';
import type { ScodeConfig } from '#shared/protocol/scode.ts';
import { ConfigError } from './config_error.ts';

const sats = z.number().int().min(0).max(21e14);
const positiveSats = z.number().int().min(1).max(21e14);
const count = (min: number) => z.number().int().min(min).max(1_000_000);
const seconds = z
  .number()
  .min(0)
  .max(86_400 * 365);

const POOL_SCHEMA = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'expected 1 to 64 characters among A-Z a-z 0-9 . _ -' }),
  denomination: positiveSats,
  feeValue: sats,
  /** `{ "<feeSats>": <maxTx0TimeMs> }` */
  feeAccept: z
    .record(z.string().regex(/^\d+$/, { error: 'keys must be fee values in sats' }), z.number().int().min(0))
    .default({}),
  minerFeeMin: sats.default(102),
  minerFeeCap: sats.default(9500),
  minerFeeMax: sats.default(10000),
  minerFeeMix: sats.default(510),
  mustMixMin: count(0).default(1),
  liquidityMin: count(0).default(1),
  anonymitySet: count(1),
  minConfirmationsMustMix: count(0).optional(),
  minConfirmationsLiquidity: count(0).optional(),
  /** `tx0-max-outputs` (reference 70): `PoolInfo.tx0MaxOutputs`, the premix cap of G2+ clients; must be > 0. */
  tx0MaxOutputs: count(1).default(70),
});

const PARTNER_SCHEMA = z.strictObject({
  id: z.string().min(1).max(64),
  payload: z.number().int().min(0).max(32767),
});

const SCODE_SCHEMA = z.strictObject({
  payload: z
    .number()
    .int()
    .min(-32768)
    .max(32767)
    .refine((n) => n !== 0, { error: 'payload must not be 0' })
    .refine((n) => n !== CASCADING_SCODE_PAYLOAD, { error: 'payload 22222 is reserved for CASCADING' }),
  feeValuePercent: z.number().int().min(0).max(99),
  /** ms since epoch; null/absent = never expires */
  expiration: z.number().int().min(1).nullable().optional(),
  message: z.string().nullable().optional(),
});

const ENGINE_SCHEMA = z
  .strictObject({
    liquidityInterval: seconds.default(10),
    registerOutputTimeout: seconds.default(120),
    revealOutputTimeout: seconds.default(40),
    signingTimeout: seconds.default(40),
    maxInputsSameHash: count(1).default(1),
    maxInputsSameUserHash: count(1).default(1),
    minConfirmationsMustMix: count(0).default(0),
    minConfirmationsLiquidity: count(0).default(0),
    subscribeDelayMs: z.number().int().min(0).max(60_000).default(1000),
    ban: z
      .strictObject({
        blames: count(1).default(8),
        period: seconds.default(7200),
        expiration: seconds.default(43200),
        /** `server.ban.recidivismFactor`: a repeat ban lasts the previous one × this (addendum §7). */
        recidivismFactor: z.number().min(1).max(100).default(2),
      })
      .prefault({}),
  })
  .prefault({});

const FILE_SCHEMA = z.strictObject({
  $comment: z.string().optional(),
  pools: z.array(POOL_SCHEMA).min(1, { error: 'at least one pool is required' }),
  scodes: z.record(z.string(), SCODE_SCHEMA).default({}),
  partners: z.array(PARTNER_SCHEMA).max(1000).optional(),
  engine: ENGINE_SCHEMA,
});

/** Engine timers and policy from the pools file, in the engine's units (ms). */
export interface EngineTimings {
  liquidityIntervalMs: number;
  registerOutputTimeoutMs: number;
  revealOutputTimeoutMs: number;
  signingTimeoutMs: number;
  maxInputsSameHash: number;
  maxInputsSameUserHash: number;
  subscribeDelayMs: number;
  ban: BanPolicy;
}

/** The validated pools file. */
export interface PoolsFile {
  pools: PoolConfig[];
  scodes: ScodeConfig[];
  /** Tx0 partners; {@link DEFAULT_PARTNERS} when the file names none. */
  partners: PartnerConfig[];
  engine: EngineTimings;
}

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

/**
 * Validates the parsed JSON of a pools file. Throws {@link ConfigError}
 * listing every problem with its JSON path (prefixed by `source`).
 */
export function parsePoolsFile(json: unknown, source = 'pools file'): PoolsFile {
  const parsed = FILE_SCHEMA.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${source}: ${pathText(i.path)}: ${i.message}`));
  }
  const f = parsed.data;
  const problems: string[] = [];
  const ids = new Set<string>();
  f.pools.forEach((p, i) => {
    if (ids.has(p.id)) problems.push(`${source}: pools[${i}].id: duplicate pool id '${p.id}'`);
    ids.add(p.id);
    if (!(p.minerFeeMin <= p.minerFeeCap && p.minerFeeCap <= p.minerFeeMax)) {
      problems.push(`${source}: pools[${i}]: expected minerFeeMin ≤ minerFeeCap ≤ minerFeeMax`);
    }
    if (p.mustMixMin + p.liquidityMin > p.anonymitySet) {
      problems.push(
        `${source}: pools[${i}]: mustMixMin + liquidityMin exceeds anonymitySet (no mix could ever start)`,
      );
    }
  });
  const codes = new Set<string>();
  for (const code of Object.keys(f.scodes)) {
    const upper = code.toUpperCase();
    if (!code.trim()) problems.push(`${source}: scodes: empty scode key`);
    if (codes.has(upper))
      problems.push(`${source}: scodes.${code}: duplicate scode (codes are case-insensitive)`);
    codes.add(upper);
  }
  const partners = f.partners ?? [...DEFAULT_PARTNERS];
  const partnerIds = new Set<string>();
  const partnerPayloads = new Set<number>();
  partners.forEach((p, i) => {
    if (partnerIds.has(p.id)) problems.push(`${source}: partners[${i}].id: duplicate partner id '${p.id}'`);
    if (partnerPayloads.has(p.payload))
      problems.push(`${source}: partners[${i}].payload: duplicate partner payload ${p.payload}`);
    partnerIds.add(p.id);
    partnerPayloads.add(p.payload);
  });
  if (!partnerPayloads.has(0)) {
    problems.push(`${source}: partners: a partner with payload 0 is required (G0–G2 Tx0s carry partner 0)`);
  }
  if (problems.length) throw new ConfigError(problems);

  const e = f.engine;
  const pools: PoolConfig[] = f.pools.map((p) => ({
    id: p.id,
    denomination: p.denomination,
    feeValue: p.feeValue,
    feeAccept: Object.entries(p.feeAccept)
      .map(([fee, maxTx0TimeMs]) => ({ feeValue: Number(fee), maxTx0TimeMs }))
      .sort((a, b) => a.feeValue - b.feeValue),
    minerFeeMin: p.minerFeeMin,
    minerFeeCap: p.minerFeeCap,
    minerFeeMax: p.minerFeeMax,
    minerFeeMix: p.minerFeeMix,
    mustMixMin: p.mustMixMin,
    liquidityMin: p.liquidityMin,
    anonymitySet: p.anonymitySet,
    minConfirmations: {
      mustMix: p.minConfirmationsMustMix ?? e.minConfirmationsMustMix,
      liquidity: p.minConfirmationsLiquidity ?? e.minConfirmationsLiquidity,
    },
    tx0MaxOutputs: p.tx0MaxOutputs,
  }));
  const scodes: ScodeConfig[] = Object.entries(f.scodes).map(([code, s]) => ({
    code: code.toUpperCase(),
    payload: s.payload,
    feeValuePercent: s.feeValuePercent,
    expiration: s.expiration ?? null,
    message: s.message ?? null,
  }));
  return {
    pools,
    scodes,
    partners: partners.map((p) => ({ id: p.id, payload: p.payload })),
    engine: {
      liquidityIntervalMs: Math.round(e.liquidityInterval * 1000),
      registerOutputTimeoutMs: Math.round(e.registerOutputTimeout * 1000),
      revealOutputTimeoutMs: Math.round(e.revealOutputTimeout * 1000),
      signingTimeoutMs: Math.round(e.signingTimeout * 1000),
      maxInputsSameHash: e.maxInputsSameHash,
      maxInputsSameUserHash: e.maxInputsSameUserHash,
      subscribeDelayMs: e.subscribeDelayMs,
      ban: {
        blames: e.ban.blames,
        periodSeconds: e.ban.period,
        expirationSeconds: e.ban.expiration,
        recidivismFactor: e.ban.recidivismFactor,
      },
    },
  };
}

/** Reads and validates the pools file at `path` (ConfigError on an unreadable file or bad JSON). */
export function loadPoolsFile(
  path: string,
  readFile: (p: string) => string = (p) => readFileSync(p, 'utf8'),
): PoolsFile {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    throw new ConfigError([
      `WHIRLPOOL_POOLS: cannot read '${path}' (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`WHIRLPOOL_POOLS: '${path}' is not valid JSON: ${(err as Error).message}`]);
  }
  return parsePoolsFile(json, path);
}
