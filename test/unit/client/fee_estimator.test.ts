/** Client fee estimator and premix value against spec §8.11 and §4.7.2. */
import { describe, expect, it } from 'vitest';
import { estimatedFee, estimatedSize } from '#client/tx0/fee_estimator.ts';
import { clampPremixValue, premixValue, tx0Preview } from '#client/tx0/premix_value.ts';

describe('estimatedSize (spec §8.11)', () => {
  it.each([
    [[0, 0, 1, 1, 0], 129],
    [[1, 0, 0, 1, 0], 202],
    [[1, 0, 0, 1, 1], 282],
    [[0, 0, 3, 3, 0], 367],
    [[0, 0, 4, 4, 0], 486],
    [[0, 0, 5, 5, 0], 605],
    [[0, 1, 0, 1, 0], 152],
  ])('%j → %i vB', ([p2pkh, p2shP2wpkh, p2wpkh, outputs, opReturn], size) => {
    expect(estimatedSize({ p2pkh, p2shP2wpkh, p2wpkh, outputs, opReturn })).toBe(size);
  });
});

describe('estimatedFee (spec §8.11)', () => {
  it.each([
    [[0, 0, 1, 1, 0], 0, 135],
    [[0, 0, 1, 1, 0], 1, 129],
    [[0, 0, 1, 1, 0], 10, 1290],
    [[0, 0, 1, 1, 0], 100, 12900],
    [[1, 0, 0, 1, 0], 10, 2020],
    [[1, 0, 0, 1, 1], 10, 2820],
    [[0, 0, 3, 3, 0], 10, 3670],
    [[0, 0, 4, 4, 0], 10, 4860],
    [[0, 0, 5, 5, 0], 10, 6050],
  ])('%j at %i sat/vB → %i sats', ([p2pkh, p2shP2wpkh, p2wpkh, outputs, opReturn], rate, fee) => {
    expect(estimatedFee({ p2pkh, p2shP2wpkh, p2wpkh, outputs, opReturn }, rate)).toBe(fee);
  });

  it('refuses a negative fee rate', () => {
    expect(() => estimatedFee({ p2wpkh: 1, outputs: 1 }, -1)).toThrow(RangeError);
  });
});

const POOL = {
  denomination: 1_000_000,
  mustMixBalanceMin: 1_000_170,
  mustMixBalanceCap: 1_009_500,
  mustMixBalanceMax: 1_010_000,
  minMustMix: 3,
  mixAnonymitySet: 5,
};

describe('premix value (spec §4.7.2, §8.11)', () => {
  it('is denomination + mix fee / minMustMix: 605 / 3 = 201 → 1000201', () => {
    expect(premixValue(POOL, 1)).toBe(1_000_201);
  });
  it('is clamped to mustMixBalanceMin for a tiny overspend', () => {
    expect(clampPremixValue(POOL, 1)).toBe(1_000_170);
  });
  it('is clamped to the cap for a huge overspend', () => {
    expect(clampPremixValue(POOL, 999_999_999)).toBe(1_009_500);
    expect(premixValue(POOL, 1_000_000)).toBe(1_009_500);
  });
  it('uses min(cap, max) as upper bound', () => {
    expect(clampPremixValue({ ...POOL, mustMixBalanceMax: 1_005_000 }, 999_999)).toBe(1_005_000);
  });
});

describe('Tx0 preview (spec §8.11)', () => {
  it('500000000 sats, 10 outputs, 100 % scode with feeChange 10000 → miner fee 572, change 489987418', () => {
    const p = tx0Preview({
      spendValue: 500_000_000,
      nbInputs: 1,
      premixValue: premixValue(POOL, 1),
      feeValue: 0,
      feeChange: 10_000,
      tx0FeeRate: 1,
      maxOutputs: 10,
    });
    expect(p).toEqual({
      premixValue: 1_000_201,
      nbPremix: 10,
      feeValue: 0,
      feeChange: 10_000,
      tx0MinerFee: 572,
      change: 489_987_418,
      spendValue: 500_000_000,
    });
  });

  it('takes as many premix outputs as the balance pays for', () => {
    const p = tx0Preview({
      spendValue: 3_100_000,
      nbInputs: 1,
      premixValue: 1_000_201,
      feeValue: 50_000,
      feeChange: 0,
      tx0FeeRate: 2,
    });
    expect(p.nbPremix).toBe(3);
    expect(p.change).toBe(3_100_000 - 3 * 1_000_201 - 50_000 - p.tx0MinerFee);
    expect(p.tx0MinerFee).toBe(2 * (85 + 1 + 5 * 33 + 80 + 10));
  });

  it('throws when not one premix output fits', () => {
    expect(() =>
      tx0Preview({
        spendValue: 1_000_000,
        nbInputs: 1,
        premixValue: 1_000_201,
        feeValue: 0,
        feeChange: 0,
        tx0FeeRate: 1,
      }),
    ).toThrow(/Insufficient balance/);
  });
});
