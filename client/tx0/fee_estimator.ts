/**
 * Client fee estimator of the Java client (extlibj FeeUtil, spec §8.11):
 * virtual size from input/output counts and the minimum-fee quirk.
 *
 * @module
 */

/** Input and output counts of a transaction to estimate. */
export interface TxShape {
  p2pkh?: number;
  p2shP2wpkh?: number;
  p2wpkh?: number;
  /** Ordinary outputs (33 vB each). */
  outputs?: number;
  /** OP_RETURN outputs (80 vB each). */
  opReturn?: number;
}

/**
 * Estimated virtual size: 158 vB per P2PKH input, 108 per P2SH-P2WPKH, 85 per
 * P2WPKH, 33 per output, 80 per OP_RETURN, plus 1 per input and 10.
 */
export function estimatedSize(shape: TxShape): number {
  const p2pkh = shape.p2pkh ?? 0;
  const p2sh = shape.p2shP2wpkh ?? 0;
  const p2wpkh = shape.p2wpkh ?? 0;
  const inputs = p2pkh + p2sh + p2wpkh;
  return (
    p2pkh * 158 +
    p2sh * 108 +
    p2wpkh * 85 +
    (shape.outputs ?? 0) * 33 +
    (shape.opReturn ?? 0) * 80 +
    inputs +
    10
  );
}

/**
 * Fee of `size` vbytes at `feeRate` sat/vB; a result below `size` (rate < 1)
 * is replaced by `size + floor(size / 20)` like the Java client.
 */
export function feeForSize(size: number, feeRate: number): number {
  if (!Number.isFinite(feeRate) || feeRate < 0) throw new RangeError(`Invalid fee rate ${feeRate}`);
  const fee = Math.floor(size * feeRate);
  return fee < size ? size + Math.floor(size / 20) : fee;
}

/** Estimated fee of a transaction shape at `feeRate` sat/vB. */
export function estimatedFee(shape: TxShape, feeRate: number): number {
  return feeForSize(estimatedSize(shape), feeRate);
}
