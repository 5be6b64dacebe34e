import { describe, expect, it } from 'vitest';
import { isTx0FeePaid, type Tx0FeeFacts } from '#coordinator/mix/tx0_fee_check.ts';
import type { ScodeConfig } from '#shared/protocol/scode.ts';

// Shape of Tx0 cb2fad88…6187 (spec §8.6/§8.7): pays 975000 to the fee address of index 1.
const feeAddressAt = (x: number) => `fee-address-${x}`;
function facts(over: Partial<Tx0FeeFacts> = {}): Tx0FeeFacts {
  return {
    outputs: [
      { value: 0, address: null },
      { value: 975_000, address: feeAddressAt(1) },
      ...[1, 2, 3, 4, 5].map((i) => ({ value: 10_001_000, address: `premix-${i}` })),
      { value: 24_019_100, address: 'change' },
    ],
    feeIndice: 1,
    scodePayload: null,
    tx0TimeMs: 1234,
    ...over,
  };
}

describe('isTx0FeePaid (spec §8.7 fee table)', () => {
  const table: Array<
    [string, number, number, Array<{ feeValue: number; maxTx0TimeMs: number }>, number, boolean]
  > = [
    ['exact fee', 975_000, 1, [], 1234, true],
    ['over-payment', 974_999, 1, [], 1234, false],
    ['tiny pool fee', 1, 1, [], 1234, false],
    ['under-payment', 975_001, 1, [], 1234, false],
    ['under-payment (1000000)', 1_000_000, 1, [], 1234, false],
    ['wrong index 0', 975_000, 0, [], 1234, false],
    ['wrong index 2', 975_000, 2, [], 1234, false],
    ['wrong index 10', 975_000, 10, [], 1234, false],
    ['other fee', 975_010, 1, [], 1234, false],
    [
      'fee-accept before limit',
      975_010,
      1,
      [{ feeValue: 975_000, maxTx0TimeMs: 11_111_111 }],
      11_111_110,
      true,
    ],
    ['fee-accept long before', 975_010, 1, [{ feeValue: 975_000, maxTx0TimeMs: 11_111_111 }], 11_110, true],
    [
      'fee-accept after limit',
      975_010,
      1,
      [{ feeValue: 975_000, maxTx0TimeMs: 11_111_111 }],
      11_111_112,
      false,
    ],
  ];
  for (const [name, poolFee, x, feeAccept, time, expected] of table) {
    it(`${name}: pool fee ${poolFee}, x=${x} → ${expected ? 'valid' : 'invalid'}`, () => {
      expect(
        isTx0FeePaid(
          facts({ feeIndice: x, tx0TimeMs: time }),
          { feeValue: poolFee, feeAccept },
          [],
          feeAddressAt,
        ),
      ).toBe(expected);
    });
  }

  it('a negative feeIndice is invalid', () => {
    expect(
      isTx0FeePaid(facts({ feeIndice: -1 }), { feeValue: 975_000, feeAccept: [] }, [], feeAddressAt),
    ).toBe(false);
  });

  describe('scodes', () => {
    const scodes: ScodeConfig[] = [
      { code: 'FREE', payload: 12345, feeValuePercent: 0, expiration: null, message: null },
      { code: 'HALF', payload: 777, feeValuePercent: 50, expiration: 5000, message: null },
    ];
    const noFee = facts({
      outputs: [
        { value: 0, address: null },
        { value: 1_000_102, address: 'premix' },
      ],
    });
    it('a valid 0 % scode needs no fee output', () => {
      expect(
        isTx0FeePaid(
          { ...noFee, scodePayload: 12345 },
          { feeValue: 50_000, feeAccept: [] },
          scodes,
          feeAddressAt,
        ),
      ).toBe(true);
    });
    it('without a matching scode the full fee is due (b3557587 vector)', () => {
      expect(
        isTx0FeePaid(
          { ...noFee, scodePayload: 12345 },
          { feeValue: 50_000, feeAccept: [] },
          [],
          feeAddressAt,
        ),
      ).toBe(false);
    });
    it('a percent scode lowers the expected fee, until it expires (ms, Tx0 time)', () => {
      const half = facts({
        outputs: [{ value: 25_000, address: feeAddressAt(1) }],
        scodePayload: 777,
        tx0TimeMs: 4000,
      });
      expect(isTx0FeePaid(half, { feeValue: 50_000, feeAccept: [] }, scodes, feeAddressAt)).toBe(true);
      expect(
        isTx0FeePaid({ ...half, tx0TimeMs: 6000 }, { feeValue: 50_000, feeAccept: [] }, scodes, feeAddressAt),
      ).toBe(false);
    });
  });
});
