/**
 * Pure mix-composition rules: the CONFIRM_INPUT checks a–i of spec §3.5 (also
 * the "mixability" filter used when inviting queued inputs), whether a mix is
 * open to liquidities, and the readiness rule of §3.2 (without the spent-input
 * check, which needs the node). No I/O, no clock.
 *
 * @module
 */
import type { MixStatus } from './types.ts';

/** What the rules need to know about one input. */
export interface CompositionInput {
  txid: string;
  index: number;
  /** Address of the UTXO (compared case-insensitively). */
  address: string;
  value: number;
  liquidity: boolean;
}

/** A confirmed input with the userHash it confirmed with. */
export interface ConfirmedCompositionInput extends CompositionInput {
  userHash: string;
}

/** Pool and engine parameters the rules depend on. */
export interface CompositionRules {
  denomination: number;
  anonymitySet: number;
  mustMixMin: number;
  liquidityMin: number;
  minerFeeMix: number;
  maxInputsSameHash: number;
  maxInputsSameUserHash: number;
}

/** Result of the confirm-input checks: accept, silently requeue, or reject with an ErrorResponse. */
export type ConfirmCheck = { outcome: 'ok' } | { outcome: 'requeue' | 'reject'; message: string };

/** Counts derived from a mix's confirmed inputs. */
export interface CompositionCounts {
  inputs: number;
  mustMix: number;
  liquidities: number;
  /** Σ (value − denomination) over the confirmed mustMix inputs. */
  minerFee: number;
}

/** Counts of the confirmed inputs (spec §3.2 symbols). */
export function compositionCounts(
  confirmed: readonly CompositionInput[],
  denomination: number,
): CompositionCounts {
  let mustMix = 0;
  let minerFee = 0;
  for (const input of confirmed) {
    if (!input.liquidity) {
      mustMix++;
      minerFee += input.value - denomination;
    }
  }
  return { inputs: confirmed.length, mustMix, liquidities: confirmed.length - mustMix, minerFee };
}

/** True when mustMixMin and minerFeeMix are reached: liquidities may be invited and may confirm (§3.4, rule c). */
export function isOpenToLiquidities(counts: CompositionCounts, rules: CompositionRules): boolean {
  return counts.mustMix >= rules.mustMixMin && counts.minerFee >= rules.minerFeeMix;
}

/**
 * Checks a–i of spec §3.5 in order. `userHash` null skips check f (used by the
 * mixability filter with an input's `lastUserHash`).
 */
export function checkConfirmInput(
  status: MixStatus,
  confirmed: readonly ConfirmedCompositionInput[],
  input: CompositionInput,
  userHash: string | null,
  rules: CompositionRules,
): ConfirmCheck {
  const counts = compositionCounts(confirmed, rules.denomination);
  if (status !== 'CONFIRM_INPUT') return { outcome: 'requeue', message: 'Mix already started' };
  if (counts.inputs >= rules.anonymitySet) return { outcome: 'requeue', message: 'Current mix is full' };
  if (input.liquidity && !isOpenToLiquidities(counts, rules)) {
    return { outcome: 'reject', message: 'Current mix not opened to liquidities yet' };
  }
  if (input.liquidity && rules.anonymitySet - (counts.liquidities + 1) < rules.mustMixMin) {
    return { outcome: 'requeue', message: 'Current mix is full for liquidity' };
  }
  if (!input.liquidity && rules.anonymitySet - (counts.mustMix + 1) < rules.liquidityMin) {
    return { outcome: 'requeue', message: 'Current mix is full for mustMix' };
  }
  if (userHash !== null) {
    const sameUser = confirmed.filter((c) => c.userHash === userHash).length;
    if (sameUser + 1 > rules.maxInputsSameUserHash) {
      return { outcome: 'requeue', message: 'Your wallet already registered for this mix' };
    }
  }
  const sameHash = confirmed.filter((c) => c.txid === input.txid).length;
  if (sameHash + 1 > rules.maxInputsSameHash) {
    return { outcome: 'requeue', message: 'Current mix is full for inputs with same hash' };
  }
  const address = input.address.toLowerCase();
  if (confirmed.some((c) => c.address.toLowerCase() === address)) {
    return { outcome: 'requeue', message: 'Current mix is full for inputs with same address' };
  }
  if (confirmed.some((c) => c.txid === input.txid && c.index === input.index)) {
    return { outcome: 'reject', message: 'Input already confirmed' };
  }
  return { outcome: 'ok' };
}

/**
 * Readiness of spec §3.2 without the spent check: inputs = anonSet, mustMix ≥
 * mustMixMin, accumulated miner fee ≥ minerFeeMix, liquidities ≥ liquidityMin.
 */
export function isCompositionReady(counts: CompositionCounts, rules: CompositionRules): boolean {
  return (
    counts.inputs === rules.anonymitySet &&
    counts.mustMix >= rules.mustMixMin &&
    counts.minerFee >= rules.minerFeeMix &&
    counts.liquidities >= rules.liquidityMin
  );
}

/** Number of liquidities the liquidity timer invites: anonSet − inputs + 1 (one over-invite), 0 when full. */
export function liquiditiesToInvite(counts: CompositionCounts, rules: CompositionRules): number {
  if (counts.inputs >= rules.anonymitySet) return 0;
  return rules.anonymitySet - counts.inputs + 1;
}
