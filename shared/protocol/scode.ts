/**
 * Scodes (fee discount codes, spec §4.6.6): lookup by code for `/rest/tx0`,
 * lookup by payload for Tx0 validation, and the fee computation with the
 * reference's Java `Math.round(float)` quirk.
 *
 * @module
 */

/** One configured scode (`server.samourai-fees.scodes[<CODE>]`). */
export interface ScodeConfig {
  code: string;
  /** int16, non-zero. */
  payload: number;
  /** 0–99: share of the pool fee still paid. */
  feeValuePercent: number;
  /** Expiry in milliseconds since the epoch (spec §10 item 1), or none. */
  expiration?: number | null;
  message?: string | null;
}

/**
 * Returns the scode whose code matches `code` case-insensitively and has not
 * expired at `nowMs` (expiration ≥ now), or null.
 */
export function findScodeByCode(
  scodes: readonly ScodeConfig[],
  code: string | null | undefined,
  nowMs: number,
): ScodeConfig | null {
  if (code === null || code === undefined || code === '') return null;
  const wanted = code.toUpperCase();
  for (const s of scodes) {
    if (s.code.toUpperCase() === wanted && !isExpired(s, nowMs)) return s;
  }
  return null;
}

/**
 * Returns the scode with this payload that has not expired at the Tx0's time
 * (`txTimeMs`, block time × 1000, 0 if unconfirmed), or null. Payload 0 never
 * matches (it means "no scode").
 */
export function findScodeByPayload(
  scodes: readonly ScodeConfig[],
  payload: number,
  txTimeMs: number,
): ScodeConfig | null {
  if (payload === 0) return null;
  for (const s of scodes) {
    if (s.payload === payload && !isExpired(s, txTimeMs)) return s;
  }
  return null;
}

/**
 * Returns the fee for a percentage of the pool fee as the reference computes
 * it: `poolFee × percent / 100` in 64-bit integers (truncating), then Java
 * `Math.round(float)`: rounded to a 32-bit float and saturated to int32.
 * Equals floor(poolFee × percent / 100) below 2^24 sats.
 */
export function poolFeeForPercent(poolFee: number, percent: number): number {
  if (!Number.isSafeInteger(poolFee) || !Number.isSafeInteger(percent)) {
    throw new RangeError(`Invalid pool fee "${poolFee}" or percent "${percent}"`);
  }
  const exact = (BigInt(poolFee) * BigInt(percent)) / 100n; // BigInt division truncates like Java
  // Java Math.round(float) of an integral float is the float itself, saturated to int32.
  const rounded = longToFloat(exact);
  if (rounded > 0x7fff_ffffn) return 0x7fff_ffff;
  if (rounded < -0x8000_0000n) return -0x8000_0000;
  return Number(rounded);
}

/** Java's long → float conversion (round to nearest, ties to even, 24-bit significand). */
function longToFloat(v: bigint): bigint {
  const negative = v < 0n;
  const abs = negative ? -v : v;
  const bits = abs.toString(2).length;
  if (bits <= 24) return v;
  const shift = BigInt(bits - 24);
  let q = abs >> shift;
  const rem = abs - (q << shift);
  const half = 1n << (shift - 1n);
  if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n;
  const out = q << shift;
  return negative ? -out : out;
}

function isExpired(s: ScodeConfig, timeMs: number): boolean {
  return s.expiration !== null && s.expiration !== undefined && s.expiration < timeMs;
}
