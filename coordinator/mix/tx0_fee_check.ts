/**
 * The fee rule of the Tx0 provenance check (spec §4.8 step 2; addendum
 * §4.10 step 3): given the decoded fee data of a Tx0 and its outputs, is the
 * coordinator fee paid, and by which output? Pure: the fee address of
 * (index x, partner payload) is provided by the caller.
 *
 * @module
 */
import { CASCADING_SCODE_PAYLOAD } from '#shared/protocol/constants.ts';
import { findPartnerByPayload, type PartnerConfig } from '#shared/protocol/partner.ts';
import { findScodeByPayload, poolFeeForPercent, type ScodeConfig } from '#shared/protocol/scode.ts';
import type { FeeAccept } from './types.ts';

/** What the fee rule looks at. */
export interface Tx0FeeFacts {
  /** Outputs of the Tx0: value in sats and address (null for non-standard scripts). */
  outputs: ReadonlyArray<{ value: number; address: string | null }>;
  /** Decoded feeIndice (x). */
  feeIndice: number;
  /** Decoded scode payload as a signed int16, null when `00 00` (no scode). */
  scodePayload: number | null;
  /** Tx0 block time in ms (0 for an unconfirmed Tx0). */
  tx0TimeMs: number;
}

/** Pool fee settings used by the rule. */
export interface PoolFeeRule {
  feeValue: number;
  feeAccept: readonly FeeAccept[];
}

/**
 * True when the Tx0 pays the expected pool fee (or a `fee-accept` amount still
 * valid at the Tx0's time) exactly to the fee address of its feeIndice, or when
 * a valid 0 % scode waives the fee.
 */
export function isTx0FeePaid(
  facts: Tx0FeeFacts,
  pool: PoolFeeRule,
  scodes: readonly ScodeConfig[],
  feeAddressAt: (index: number) => string,
): boolean {
  const scode =
    facts.scodePayload === null ? null : findScodeByPayload(scodes, facts.scodePayload, facts.tx0TimeMs);
  const percent = scode ? scode.feeValuePercent : 100;
  if (percent === 0) return true;
  if (facts.feeIndice < 0) return false;
  const expected = poolFeeForPercent(pool.feeValue, percent);
  let feeAddress: string | null = null;
  for (const output of facts.outputs) {
    const accepted =
      output.value === expected ||
      pool.feeAccept.some((a) => a.feeValue === output.value && a.maxTx0TimeMs >= facts.tx0TimeMs);
    if (!accepted || output.address === null) continue;
    feeAddress ??= feeAddressAt(facts.feeIndice);
    if (output.address === feeAddress) return true;
  }
  return false;
}

/** Outcome of {@link findTx0FeeOutput}. */
export type Tx0FeeOutcome =
  /** Paid by output `feeOutputIndex`, or fee-free (`null`: 0 % scode or cascading). */
  { paid: true; feeOutputIndex: number | null; cascading: boolean } | { paid: false };

/**
 * The 0.23.36 fee rule with partners (addendum §4.10 step 3): scode payload
 * 22222 = cascading (0 %); else the scode valid at the Tx0's time, or 100 %;
 * a fee due must be paid — exact amount or a valid `fee-accept` amount — to
 * the fee address of (feeIndice, partner found by the decoded partner
 * payload); an unknown partner payload makes the Tx0 invalid. The first
 * matching output is the fee output.
 */
export function findTx0FeeOutput(
  facts: Tx0FeeFacts & { partnerPayload: number },
  pool: PoolFeeRule,
  scodes: readonly ScodeConfig[],
  partners: readonly PartnerConfig[],
  feeAddressAt: (index: number, partnerPayload: number) => string,
): Tx0FeeOutcome {
  if (facts.scodePayload === CASCADING_SCODE_PAYLOAD)
    return { paid: true, feeOutputIndex: null, cascading: true };
  const scode =
    facts.scodePayload === null ? null : findScodeByPayload(scodes, facts.scodePayload, facts.tx0TimeMs);
  const percent = scode ? scode.feeValuePercent : 100;
  if (percent === 0) return { paid: true, feeOutputIndex: null, cascading: false };
  const partner = findPartnerByPayload(partners, facts.partnerPayload);
  if (!partner || facts.feeIndice < 0) return { paid: false };
  const expected = poolFeeForPercent(pool.feeValue, percent);
  let feeAddress: string | null = null;
  for (let i = 0; i < facts.outputs.length; i++) {
    const output = facts.outputs[i]!;
    const accepted =
      output.value === expected ||
      pool.feeAccept.some((a) => a.feeValue === output.value && a.maxTx0TimeMs >= facts.tx0TimeMs);
    if (!accepted || output.address === null) continue;
    feeAddress ??= feeAddressAt(facts.feeIndice, partner.payload);
    if (output.address === feeAddress) return { paid: true, feeOutputIndex: i, cascading: false };
  }
  return { paid: false };
}
