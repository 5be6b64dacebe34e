import { describe, expect, it } from 'vitest';
import { userHash, userPreHash } from '#shared/protocol/user_hash.ts';

describe('userHash (spec §8.10)', () => {
  it('computes userPreHash of the premix(0,0) address and the salted userHash', () => {
    const pre = userPreHash('tb1qkgv4ljdkthdse8kscwvj9tuvysuqlkcr4mp957');
    expect(pre).toBe('112870dcea3c8b85148fd586d7c68685fe0aee7da2fa12238ba13537097d9b71');
    expect(userHash('c5cd0d1b6ba84c37a1bd1e6d1b1f2a5a', pre)).toBe(
      '1f357ff4f81eb756292e05e6fd9e766c2d549509d1aff6aef55a0e09b92af30d',
    );
  });

  it('differs across mixes for the same wallet', () => {
    const pre = userPreHash('tb1qkgv4ljdkthdse8kscwvj9tuvysuqlkcr4mp957');
    expect(userHash('mix1', pre)).not.toBe(userHash('mix2', pre));
  });
});
