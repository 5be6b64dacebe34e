/**
 * The answer of `GET /rest/tx0` (spec §2.5 Tx0DataResponse, §4.6.5–4.6.6):
 * pool fee or scode-discounted fee, the Z85 scode payload, and a fresh fee
 * address. Fee indices come from the cluster-wide MySQL counter
 * (`fee_index`), the address for index x is `feeAddressAt(seed, network, x)`,
 * so any instance can later verify (address, x) found in a Tx0. A 0 % scode
 * pays no fee: no address, index 0, and `feeChange` = the fee of a random
 * non-zero-percent scode (or the full pool fee) that the client sends back
 * to itself so the Tx0 keeps a fee-like output.
 *
 * @module
 */
import type { PoolConfig } from '#coordinator/mix/types.ts';
import { feeAddressAt } from '#shared/bitcoin/fee_address.ts';
import type { NetworkName } from '#shared/bitcoin/network.ts';
import { z85Encode } from '#shared/codec/z85.ts';
import { scodePayloadFromShort } from '#shared/protocol/fee_payload.ts';
import type { Tx0DataResponse } from '#shared/protocol/messages.ts';
import { findScodeByCode, poolFeeForPercent, type ScodeConfig } from '#shared/protocol/scode.ts';

/** What the Tx0 data needs besides the pool. */
export interface Tx0DataDeps {
  network: NetworkName;
  /** Seed of the fee addresses (secret). */
  feeAddressSeed: Uint8Array;
  /** The secret wallet's BIP47 payment code. */
  feePaymentCode: string;
  scodes: readonly ScodeConfig[];
  /** Next fee-address index (MySQL counter, unique across instances). */
  nextFeeIndex(): Promise<number>;
  /** Clock for scode expiry, ms (default Date.now). */
  now?: () => number;
  /** Uniform [0, 1) source choosing the feeChange scode (default Math.random). */
  random?: () => number;
}

/** `scode` query value → code, or null for "none" (absent, empty, or the literal `null` the 0.23 client sends). */
export function normalizeScode(raw: string | null | undefined): string | null {
  const v = raw?.trim();
  if (!v || v.toLowerCase() === 'null') return null;
  return v;
}

/** Computes the Tx0DataResponse for `pool` and the raw `scode` query value. */
export async function tx0Data(
  pool: PoolConfig,
  rawScode: string | null | undefined,
  deps: Tx0DataDeps,
): Promise<Tx0DataResponse> {
  const now = (deps.now ?? Date.now)();
  const code = normalizeScode(rawScode);
  const scode = code === null ? null : (findScodeByCode(deps.scodes, code, now) ?? null);
  let feeValue = pool.feeValue;
  let feeDiscountPercent = 0;
  let feePayload64: string | null = null;
  let message: string | null = null;
  if (scode) {
    feeValue = poolFeeForPercent(pool.feeValue, scode.feeValuePercent);
    feeDiscountPercent = 100 - scode.feeValuePercent;
    feePayload64 = z85Encode(scodePayloadFromShort(scode.payload));
    message = scode.message ?? null;
  }
  if (feeValue > 0) {
    const feeIndice = await deps.nextFeeIndex();
    return {
      feePaymentCode: deps.feePaymentCode,
      feeValue,
      feeChange: 0,
      feeDiscountPercent,
      message,
      feePayload64,
      feeAddress: feeAddressAt(deps.feeAddressSeed, deps.network, feeIndice),
      feeIndice,
    };
  }
  const paying = deps.scodes.filter((s) => s.feeValuePercent > 0);
  const pick = paying.length ? paying[Math.floor((deps.random ?? Math.random)() * paying.length)] : undefined;
  const feeChange = pick ? poolFeeForPercent(pool.feeValue, pick.feeValuePercent) : pool.feeValue;
  return {
    feePaymentCode: deps.feePaymentCode,
    feeValue: 0,
    feeChange,
    feeDiscountPercent,
    message,
    feePayload64,
    feeAddress: null,
    feeIndice: 0,
  };
}
