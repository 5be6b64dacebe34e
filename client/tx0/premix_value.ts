/**
 * Premix value and Tx0 preview (spec §4.7.2, §8.11): how much each premix
 * output carries above the denomination so that the mix's miner fee is paid
 * by the must-mix inputs, and how a deposit amount splits into premix outputs,
 * the coordinator fee, the Tx0 miner fee and change.
 *
 * @module
 */
import { estimatedFee } from './fee_estimator.ts';

/** Pool parameters the premix computation needs (from `/rest/pools`). */
export interface PremixPool {
  denomination: number;
  mustMixBalanceMin: number;
  mustMixBalanceCap: number;
  mustMixBalanceMax: number;
  minMustMix: number;
  mixAnonymitySet: number;
}

/** Hard client limit of the miner fee one input may pay above the denomination (spec §0.3). */
export const MAX_INPUT_FEE = 100_000;
/** Java client limit of premix outputs per Tx0. */
export const MAX_TX0_OUTPUTS = 600;

/** Premix value for an explicit overspend, clamped to [min, min(cap, max)]. */
export function clampPremixValue(pool: PremixPool, overspend: number): number {
  const upper = Math.min(pool.mustMixBalanceCap, pool.mustMixBalanceMax);
  return Math.min(Math.max(pool.denomination + overspend, pool.mustMixBalanceMin), upper);
}

/** Miner-fee overspend per must-mix input at `feeRate` sat/vB: mix fee / minMustMix. */
export function premixOverspend(pool: PremixPool, feeRate: number): number {
  const n = pool.mixAnonymitySet;
  const mixFee = estimatedFee({ p2wpkh: n, outputs: n }, feeRate);
  return Math.floor(mixFee / Math.max(1, pool.minMustMix));
}

/** Premix output value for a mix fee rate (spec §4.7.2). */
export function premixValue(pool: PremixPool, feeRate: number): number {
  return clampPremixValue(pool, premixOverspend(pool, feeRate));
}

/** What a Tx0 of a given spend looks like. */
export interface Tx0Preview {
  premixValue: number;
  nbPremix: number;
  /** Fee to the coordinator's fee address (0 with a 100 % scode). */
  feeValue: number;
  /** Amount sent back to a deposit change address instead of the fee (when feeValue is 0). */
  feeChange: number;
  /** Tx0 miner fee. */
  tx0MinerFee: number;
  /** Change to the deposit change chain (0 = no change output). */
  change: number;
  spendValue: number;
}

/** Options of {@link tx0Preview}. */
export interface Tx0PreviewOptions {
  /** Sum of the deposit inputs, sats. */
  spendValue: number;
  /** Number of P2WPKH deposit inputs. */
  nbInputs: number;
  premixValue: number;
  feeValue: number;
  feeChange: number;
  /** Tx0 fee rate, sat/vB. */
  tx0FeeRate: number;
  /** Upper bound of premix outputs (default and cap 600). */
  maxOutputs?: number;
}

/**
 * Computes the largest Tx0 that `spendValue` can pay: N premix outputs, the
 * fee (or feeChange) output, a change output and the OP_RETURN; the miner fee
 * is estimated with the change output counted, like the Java client. Throws
 * when not even one premix output fits.
 */
export function tx0Preview(o: Tx0PreviewOptions): Tx0Preview {
  const feeOut = o.feeValue > 0 ? o.feeValue : o.feeChange;
  const max = Math.min(o.maxOutputs ?? MAX_TX0_OUTPUTS, MAX_TX0_OUTPUTS);
  let n = Math.min(max, Math.floor((o.spendValue - feeOut) / o.premixValue));
  for (; n >= 1; n--) {
    const minerFee = estimatedFee({ p2wpkh: o.nbInputs, outputs: n + 2, opReturn: 1 }, o.tx0FeeRate);
    const change = o.spendValue - n * o.premixValue - feeOut - minerFee;
    if (change >= 0) {
      return {
        premixValue: o.premixValue,
        nbPremix: n,
        feeValue: o.feeValue,
        feeChange: o.feeValue > 0 ? 0 : o.feeChange,
        tx0MinerFee: minerFee,
        change,
        spendValue: o.spendValue,
      };
    }
  }
  throw new RangeError(
    `Insufficient balance for a Tx0: spend ${o.spendValue} sats, premix ${o.premixValue}, fee ${feeOut}`,
  );
}
