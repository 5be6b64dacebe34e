import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortInputsBip69, sortOutputsBip69 } from '#shared/bitcoin/bip69.ts';

describe('sortInputsBip69', () => {
  it('sorts by displayed txid then index (txids taken from the BIP69 example 1)', () => {
    const inputs = [
      { txid: '7d037ceb2ee0dc03e82f17be7935d238b35d1deabf953a892a4507bfbeeb3ba4', index: 1 },
      { txid: '0e53ec5dfb2cb8a71fec32dc9a634a35b7e24799295ddd5278217822e0b31f57', index: 0 },
      { txid: '26aa6e6d8b9e49bb0630aac301db6757c02e3619feb4ee0eea81eb1672947024', index: 1 },
      { txid: '0e53ec5dfb2cb8a71fec32dc9a634a35b7e24799295ddd5278217822e0b31f57', index: 1 },
      { txid: '28e0fdd185542f2c6ea19030b0796051e7772b6026dd5ddccd7a2f93b73e6fc2', index: 0 },
    ];
    expect(sortInputsBip69(inputs).map((i) => `${i.txid.slice(0, 8)}:${i.index}`)).toEqual([
      '0e53ec5d:0',
      '0e53ec5d:1',
      '26aa6e6d:1',
      '28e0fdd1:0',
      '7d037ceb:1',
    ]);
  });

  it('compares txids case-insensitively and indexes numerically', () => {
    const t = 'ab'.repeat(32);
    const sorted = sortInputsBip69([
      { txid: t, index: 10 },
      { txid: t.toUpperCase(), index: 2 },
      { txid: `00${t.slice(2)}`, index: 99 },
    ]);
    expect(sorted.map((i) => i.index)).toEqual([99, 2, 10]);
  });

  it('is a permutation and idempotent, and does not mutate its argument', () => {
    const hex64 = fc
      .uint8Array({ minLength: 32, maxLength: 32 })
      .map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(''));
    const input = fc.record({ txid: fc.oneof(hex64, fc.constant('00'.repeat(32))), index: fc.nat(20) });
    fc.assert(
      fc.property(fc.array(input, { maxLength: 30 }), (xs) => {
        const copy = [...xs];
        const sorted = sortInputsBip69(xs);
        expect(xs).toEqual(copy);
        expect(sorted).toHaveLength(xs.length);
        for (const x of xs)
          expect(sorted.filter((y) => y === x).length).toBe(xs.filter((y) => y === x).length);
        expect(sortInputsBip69(sorted)).toEqual(sorted);
        for (let i = 1; i < sorted.length; i++) {
          const a = sorted[i - 1]!;
          const b = sorted[i]!;
          expect(a.txid < b.txid || (a.txid === b.txid && a.index <= b.index)).toBe(true);
        }
      }),
    );
  });
});

describe('sortOutputsBip69', () => {
  it('sorts by value before script bytes', () => {
    const outputs = [
      { value: 100000000n, script: hexToBytes('76a9145be32612930b8323add2212a4ec03c1562084f8488ac') },
      { value: 40000000000n, script: hexToBytes('0014ff') }, // smaller script, larger value
      { value: 99999999n, script: hexToBytes('a914ff') },
    ];
    expect(sortOutputsBip69(outputs).map((o) => o.value)).toEqual([99999999n, 100000000n, 40000000000n]);
  });

  it('orders equal values by script, a prefix first', () => {
    const sorted = sortOutputsBip69([
      { value: 5n, script: hexToBytes('0014ff') },
      { value: 5n, script: hexToBytes('0014') },
      { value: 5n, script: hexToBytes('0013ff') },
      { value: 1n, script: hexToBytes('ff') },
    ]);
    expect(sorted.map((o) => `${o.value}:${bytesToHex(o.script)}`)).toEqual([
      '1:ff',
      '5:0013ff',
      '5:0014',
      '5:0014ff',
    ]);
  });

  it('is a permutation and idempotent', () => {
    const output = fc.record({
      value: fc.bigInt({ min: 0n, max: 10n }),
      script: fc.uint8Array({ minLength: 0, maxLength: 4 }),
    });
    fc.assert(
      fc.property(fc.array(output, { maxLength: 30 }), (xs) => {
        const sorted = sortOutputsBip69(xs);
        expect(sorted).toHaveLength(xs.length);
        for (const x of xs) expect(sorted.includes(x)).toBe(true);
        expect(sortOutputsBip69(sorted)).toEqual(sorted);
        for (let i = 1; i < sorted.length; i++) expect(sorted[i - 1]!.value <= sorted[i]!.value).toBe(true);
      }),
    );
  });
});
