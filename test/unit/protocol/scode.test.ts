import { describe, expect, it } from 'vitest';
import {
  findScodeByCode,
  findScodeByPayload,
  poolFeeForPercent,
  type ScodeConfig,
} from '#shared/protocol/scode.ts';

/** Spec §8.7 scode lookup configuration. */
const SCODES: ScodeConfig[] = [
  { code: 'foo', payload: 1234, feeValuePercent: 0 },
  { code: 'bar', payload: 5678, feeValuePercent: 25 },
  { code: 'min', payload: -32768, feeValuePercent: 50 },
  { code: 'maX', payload: 32767, feeValuePercent: 80 },
];

describe('scode lookup (spec §8.7)', () => {
  it('matches codes case-insensitively', () => {
    for (const code of ['MaX', 'max', 'MAX'])
      expect(findScodeByCode(SCODES, code, 0)?.feeValuePercent).toBe(80);
    expect(findScodeByCode(SCODES, 'FOO', 0)?.payload).toBe(1234);
    expect(findScodeByCode(SCODES, 'invalid', 0)).toBeNull();
    expect(findScodeByCode(SCODES, null, 0)).toBeNull();
    expect(findScodeByCode(SCODES, undefined, 0)).toBeNull();
    expect(findScodeByCode(SCODES, '', 0)).toBeNull();
  });

  it('matches payloads; 0 and unknown payloads match nothing', () => {
    expect(findScodeByPayload(SCODES, 32767, 0)?.code).toBe('maX');
    expect(findScodeByPayload(SCODES, -32768, 0)?.code).toBe('min');
    expect(findScodeByPayload(SCODES, 0, 0)).toBeNull();
    expect(findScodeByPayload(SCODES, -1, 0)).toBeNull();
  });

  it('ignores expired scodes (milliseconds; expiration < time)', () => {
    const scodes: ScodeConfig[] = [
      { code: 'myscode', payload: 12345, feeValuePercent: 0, expiration: 1_000_000 },
    ];
    expect(findScodeByCode(scodes, 'myscode', 1_000_000)).not.toBeNull();
    expect(findScodeByCode(scodes, 'myscode', 1_000_001)).toBeNull();
    expect(findScodeByPayload(scodes, 12345, 999_999)).not.toBeNull();
    expect(findScodeByPayload(scodes, 12345, 1_000_001)).toBeNull();
    // unconfirmed Tx0: time 0 passes every expiration
    expect(findScodeByPayload(scodes, 12345, 0)).not.toBeNull();
    expect(
      findScodeByPayload([{ ...scodes[0]!, expiration: null }], 12345, Number.MAX_SAFE_INTEGER),
    ).not.toBeNull();
  });
});

describe('poolFeeForPercent (spec §4.6.6 Java float quirk)', () => {
  it('is floor(poolFee × percent / 100) for realistic fees', () => {
    expect(poolFeeForPercent(975000, 100)).toBe(975000);
    expect(poolFeeForPercent(50000, 25)).toBe(12500);
    expect(poolFeeForPercent(50001, 50)).toBe(25000);
    expect(poolFeeForPercent(99999, 33)).toBe(32999);
    expect(poolFeeForPercent(12345, 0)).toBe(0);
    expect(poolFeeForPercent(16_777_215, 100)).toBe(16_777_215);
  });

  it('rounds to the nearest 32-bit float above 2^24', () => {
    expect(poolFeeForPercent(16_777_217, 100)).toBe(16_777_216); // tie → even
    expect(poolFeeForPercent(16_777_219, 100)).toBe(16_777_220); // tie → even
    expect(poolFeeForPercent(33_554_435, 100)).toBe(33_554_436); // step 4: 3 above → up
    expect(poolFeeForPercent(100_000_001, 100)).toBe(100_000_000);
    expect(poolFeeForPercent(100_000_003, 100)).toBe(100_000_000);
    expect(poolFeeForPercent(100_000_005, 100)).toBe(100_000_008);
    for (const v of [20_000_001, 123_456_789, 1_999_999_999]) {
      expect(poolFeeForPercent(v, 100)).toBe(Math.fround(v));
    }
  });

  it('saturates at 2^31 − 1', () => {
    expect(poolFeeForPercent(2_147_483_647, 100)).toBe(2_147_483_647); // float 2^31 → int max
    expect(poolFeeForPercent(3_000_000_000, 100)).toBe(2_147_483_647);
    expect(poolFeeForPercent(10_000_000_000, 99)).toBe(2_147_483_647);
  });
});
