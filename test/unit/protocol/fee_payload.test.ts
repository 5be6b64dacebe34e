import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, ProtocolError } from '#shared/errors.ts';
import {
  decodeFeePayload,
  encodeFeePayload,
  scodePayloadFromShort,
  shortFromScodePayload,
} from '#shared/protocol/fee_payload.ts';

/** Spec §8.2: (feeIndice, feePayload hex or null, feePartner) → first 12 bytes. */
const VECTORS: Array<[number, string | null, number, string]> = [
  [0, null, 0, '000100000000000000000000'],
  [1, null, 0, '000100000001000000000000'],
  [123456, null, 0, '00010001e240000000000000'],
  [0, '0000', 0, '000100000000000000000000'],
  [1, '0001', 0, '000100000001000100000000'],
  [123456, '0101', 0, '00010001e240010100000000'],
  [0, null, 1, '000100000000000000010000'],
  [1, '0001', 826, '0001000000010001033a0000'],
  [123456, '0101', 12345, '00010001e240010130390000'],
];

describe('fee payload (spec §8.2)', () => {
  for (const [feeIndice, payload, feePartner, head] of VECTORS) {
    it(`encodes (${feeIndice}, ${payload ?? 'none'}, ${feePartner})`, () => {
      const scodePayload = payload === null ? null : hexToBytes(payload);
      const encoded = encodeFeePayload({ feeIndice, scodePayload, feePartner });
      expect(encoded).toHaveLength(64);
      expect(bytesToHex(encoded)).toBe(head + '00'.repeat(52));
      const decoded = decodeFeePayload(encoded)!;
      expect(decoded.feeVersion).toBe(1);
      expect(decoded.feeIndice).toBe(feeIndice);
      expect(decoded.feePartner).toBe(feePartner);
      // payload 0000 decodes as none
      expect(decoded.scodePayload === null ? null : bytesToHex(decoded.scodePayload)).toBe(
        payload === '0000' ? null : payload,
      );
    });
  }

  it('defaults scodePayload and feePartner', () => {
    expect(bytesToHex(encodeFeePayload({ feeIndice: 1 }).subarray(0, 12))).toBe('000100000001000000000000');
  });

  it('rejects scode payloads that are not 2 bytes with the reference message', () => {
    expect(() => encodeFeePayload({ feeIndice: 0, scodePayload: new Uint8Array(0) })).toThrow(
      new ProtocolError('Invalid feePayload: 0 vs 2'),
    );
    expect(() => encodeFeePayload({ feeIndice: 0, scodePayload: new Uint8Array(3) })).toThrow(
      'Invalid feePayload: 3 vs 2',
    );
  });

  it('returns "no fee data" for 63 or 65 bytes or another version', () => {
    const ok = encodeFeePayload({ feeIndice: 1 });
    expect(decodeFeePayload(ok.subarray(0, 63))).toBeNull();
    expect(decodeFeePayload(Uint8Array.from([...ok, 0]))).toBeNull();
    const v2 = Uint8Array.from(ok);
    v2[1] = 2;
    expect(decodeFeePayload(v2)).toBeNull();
    expect(decodeFeePayload(new Uint8Array(64))).toBeNull();
  });

  it('decodes a negative feeIndice (the coordinator then rejects it)', () => {
    const p = encodeFeePayload({ feeIndice: -1 });
    expect(decodeFeePayload(p)!.feeIndice).toBe(-1);
  });

  it('round-trips (i, 0101, 1234) for i in 0..999', () => {
    for (let i = 0; i < 1000; i++) {
      const decoded = decodeFeePayload(
        encodeFeePayload({ feeIndice: i, scodePayload: hexToBytes('0101'), feePartner: 1234 }),
      )!;
      expect(decoded.feeIndice).toBe(i);
      expect(bytesToHex(decoded.scodePayload!)).toBe('0101');
      expect(decoded.feePartner).toBe(1234);
    }
  });

  it('round-trips arbitrary values (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.option(fc.integer({ min: -32768, max: 32767 }).filter((n) => n !== 0)),
        fc.integer({ min: -32768, max: 32767 }),
        (feeIndice, scode, feePartner) => {
          const scodePayload = scode === null ? null : scodePayloadFromShort(scode);
          const decoded = decodeFeePayload(encodeFeePayload({ feeIndice, scodePayload, feePartner }))!;
          expect(decoded.feeIndice).toBe(feeIndice);
          expect(decoded.feePartner).toBe(feePartner);
          expect(decoded.scodePayload === null ? null : shortFromScodePayload(decoded.scodePayload)).toBe(
            scode,
          );
        },
      ),
    );
  });

  it('rejects out-of-range integers', () => {
    expect(() => encodeFeePayload({ feeIndice: 2 ** 31 })).toThrow(RangeError);
    expect(() => encodeFeePayload({ feeIndice: 1.5 })).toThrow(RangeError);
    expect(() => encodeFeePayload({ feeIndice: 0, feePartner: 40000 })).toThrow(RangeError);
  });
});

describe('scode payload short ↔ 2 bytes (spec §8.2)', () => {
  const cases: Array<[number, string]> = [
    [1, '0001'],
    [1234, '04d2'],
    [5678, '162e'],
    [-5, 'fffb'],
    [-32768, '8000'],
    [32767, '7fff'],
  ];
  for (const [n, hex] of cases) {
    it(`${n} ↔ ${hex}`, () => {
      expect(bytesToHex(scodePayloadFromShort(n))).toBe(hex);
      expect(shortFromScodePayload(hexToBytes(hex))).toBe(n);
    });
  }
  it('rejects values outside int16 and payloads that are not 2 bytes', () => {
    expect(() => scodePayloadFromShort(32768)).toThrow(RangeError);
    expect(() => scodePayloadFromShort(-32769)).toThrow(RangeError);
    expect(() => shortFromScodePayload(new Uint8Array(3))).toThrow(DecodeError);
  });
});
