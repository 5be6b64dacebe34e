import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { computeInputsHash } from '#shared/protocol/inputs_hash.ts';

const A = { txid: '040df121854c7db49e38b6fcb61c2b0953c8b234ce53c1b2a2fb122a4e1c3d2e', index: 0 };
const B = { txid: '6517ece36402a89d76d075c60a8d3d0e051e4e5efa42a01c9033328707631b61', index: 5 };

describe('computeInputsHash (spec §8.1)', () => {
  it('hashes one input', () => {
    expect(computeInputsHash([A])).toBe(
      'd98762e7d256e9cbc93d6cf9f4ff160c6a3253e8665d34ab6321b0220bc00c9393ba6f6008b75b8ca89a37514c1fcda8a4ad01069af8488ea86357ff219a25bd',
    );
  });

  it('hashes two inputs in any order', () => {
    const expected =
      'a8615d928839ab1a23c7a32f2f58cfa5af92bfc46469d3acf42df75f23b731cc4a8fccd94bf65477c887c5b8705e4ef86574362dc9244ae5d4d5835b6eb3a357';
    expect(computeInputsHash([A, B])).toBe(expected);
    expect(computeInputsHash([B, A])).toBe(expected);
  });

  it('sorts the txid+index strings, not (txid, index) pairs', () => {
    const t = 'ab'.repeat(32);
    // "…10" < "…2" as strings
    const x = computeInputsHash([
      { txid: t, index: 2 },
      { txid: t, index: 10 },
    ]);
    const y = computeInputsHash([
      { txid: t, index: 10 },
      { txid: t, index: 2 },
    ]);
    expect(x).toBe(y);
    expect(x).toBe(bytesToHex(sha512(utf8ToBytes(`${t}10;${t}2`))));
  });

  it('does not mutate its input', () => {
    const inputs = [B, A];
    computeInputsHash(inputs);
    expect(inputs).toEqual([B, A]);
  });
});
