import { describe, expect, it } from 'vitest';
import { banIdentifiers, blameIdentifier } from '#coordinator/mix/blame_identifier.ts';

const TX = 'cb2fad88ae75fdabb2bcc131b2f4f0ff2c82af22b6dd804dc341900195fb6187';

describe('blame identifiers (spec §5.5, §8.7)', () => {
  it('mustMix → the Tx0 txid', () => {
    expect(blameIdentifier({ txid: TX, index: 2, liquidity: false })).toBe(TX);
  });
  it('liquidity → txid:index', () => {
    expect(blameIdentifier({ txid: TX, index: 2, liquidity: true })).toBe(`${TX}:2`);
  });
  it('bans are checked on both the txid and the outpoint', () => {
    expect(banIdentifiers(TX, 100)).toEqual([TX, `${TX}:100`]);
    // a mustMix ban (txid) covers indexes 0, 1, 100 of the same tx; a liquidity ban only its index
    for (const i of [0, 1, 100])
      expect(banIdentifiers(TX, i)).toContain(blameIdentifier({ txid: TX, index: 2, liquidity: false }));
    expect(banIdentifiers(TX, 1)).not.toContain(blameIdentifier({ txid: TX, index: 2, liquidity: true }));
    expect(banIdentifiers(TX, 2)).toContain(blameIdentifier({ txid: TX, index: 2, liquidity: true }));
  });
});
