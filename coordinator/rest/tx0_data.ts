/**
 * The Tx0 data answers. `GET /rest/tx0` (spec §2.5 Tx0DataResponse, §4.6.5–4.6.6):
 * pool fee or scode-discounted fee, the Z85 scode payload, and a fresh fee
 * address. Fee indices come from the cluster-wide MySQL counter
 * (`fee_index`), the address for index x is `feeAddressAt(seed, network, x)`,
 * so any instance can later verify (address, x) found in a Tx0. A 0 % scode
 * pays no fee: no address, index 0, and `feeChange` = the fee of a random
 * non-zero-percent scode (or the full pool fee) that the client sends back
 * to itself so the Tx0 keeps a fee-like output.
 *
 * `POST /rest/tx0` and `POST /rest/tx0/v1` (addendum §3.4,
 * {@link tx0DataV2}): one entry per pool with the plain fee payload built
 * here (64 bytes for V0, 46 for V1, partner payload at offset 8), the fee
 * address of the partner's account, the payment code of the V0 or V1 secret
 * wallet, an optional `feeOutputSignature`, and cascading (reserved scode
 * payload 22222, no fee).
 *
 * @module
 */

import { NotifiableError } from '#coordinator/mix/errors.ts';
import type { PoolConfig } from '#coordinator/mix/types.ts';
import { feeAddressAt } from '#shared/bitcoin/fee_address.ts';
import type { NetworkName } from '#shared/bitcoin/network.ts';
import { z85Encode } from '#shared/codec/z85.ts';
import { CASCADING_SCODE_PAYLOAD } from '#shared/protocol/constants.ts';
import { signFeeOutput } from '#shared/protocol/fee_output_signature.ts';
import {
  encodeFeePayload,
  FEE_PAYLOAD_LENGTH,
  FEE_PAYLOAD_V1_LENGTH,
  scodePayloadFromShort,
} from '#shared/protocol/fee_payload.ts';
import type {
  Tx0Data,
  Tx0DataRequestV2,
  Tx0DataResponse,
  Tx0DataResponseV2,
} from '#shared/protocol/messages.ts';
import { findPartnerById, normalizePartnerId, type PartnerConfig } from '#shared/protocol/partner.ts';
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

/** What `POST /rest/tx0[/v1]` needs besides {@link Tx0DataDeps}. */
export interface Tx0DataV2Deps extends Tx0DataDeps {
  /** Payment code of the V1 secret wallet (`/rest/tx0/v1`). */
  feePaymentCodeV1: string;
  partners: readonly PartnerConfig[];
  /** Signing key of `feeOutputSignature` (null: the field is null). Secret. */
  signingKey: Uint8Array | null;
}

/**
 * The `Tx0DataResponseV2` of `POST /rest/tx0` (`version` 0) or
 * `POST /rest/tx0/v1` (`version` 1) for every configured pool. Throws
 * NotifiableError `Partner not found: partnerId=<id>` for an unknown partner.
 */
export async function tx0DataV2(
  pools: readonly PoolConfig[],
  req: Tx0DataRequestV2,
  version: 0 | 1,
  deps: Tx0DataV2Deps,
): Promise<Tx0DataResponseV2> {
  const now = (deps.now ?? Date.now)();
  const partnerId = normalizePartnerId(req.partnerId);
  const partner = findPartnerById(deps.partners, partnerId);
  if (!partner) throw new NotifiableError(`Partner not found: partnerId=${partnerId}`);
  const cascading = req.cascading === true;
  const code = cascading ? null : normalizeScode(req.scode);
  const scode = code === null ? null : (findScodeByCode(deps.scodes, code, now) ?? null);
  const percent = cascading ? 0 : scode ? scode.feeValuePercent : null;
  const scodePayload = cascading ? CASCADING_SCODE_PAYLOAD : scode ? scode.payload : 0;
  const length = version === 0 ? FEE_PAYLOAD_LENGTH : FEE_PAYLOAD_V1_LENGTH;
  const tx0Datas: Tx0Data[] = [];
  for (const pool of pools) {
    const feeValue = percent === null ? pool.feeValue : poolFeeForPercent(pool.feeValue, percent);
    const feeDiscountPercent = percent === null ? 0 : 100 - percent;
    let feeIndice = 0;
    let feeAddress: string | null = null;
    let feeChange = 0;
    if (feeValue > 0) {
      feeIndice = await deps.nextFeeIndex();
      feeAddress = feeAddressAt(deps.feeAddressSeed, deps.network, feeIndice, partner.payload);
    } else {
      feeChange = randomFeeChange(pool, deps);
    }
    const payload = encodeFeePayload(
      {
        feeIndice,
        scodePayload: scodePayload === 0 ? null : scodePayloadFromShort(scodePayload),
        feePartner: partner.payload,
      },
      length,
    );
    tx0Datas.push({
      poolId: pool.id,
      feePaymentCode: version === 0 ? deps.feePaymentCode : deps.feePaymentCodeV1,
      feeValue,
      feeChange,
      feeDiscountPercent,
      message: cascading ? null : (scode?.message ?? null),
      feePayload64: z85Encode(payload),
      feeAddress,
      feeOutputSignature:
        feeAddress !== null && deps.signingKey !== null
          ? signFeeOutput(feeAddress, feeValue, deps.network, deps.signingKey)
          : null,
    });
  }
  return { tx0Datas };
}

/** `feeChange` of a fee-less Tx0: the fee of a random non-zero scode, else the full pool fee. */
function randomFeeChange(pool: PoolConfig, deps: Tx0DataDeps): number {
  const paying = deps.scodes.filter((s) => s.feeValuePercent > 0);
  const pick = paying.length ? paying[Math.floor((deps.random ?? Math.random)() * paying.length)] : undefined;
  return pick ? poolFeeForPercent(pool.feeValue, pick.feeValuePercent) : pool.feeValue;
}
