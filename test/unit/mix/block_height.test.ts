/**
 * The `blockHeight` spread rule and its cached tip (addendum §6.1): the
 * §6.1 examples (H = 800000, spread 10), 0/absent unchecked, no cached tip
 * accepts, one RPC per refresh period, an RPC error unsets the tip.
 */
import { describe, expect, it } from 'vitest';
import { BlockHeightCache, isBlockHeightAccepted } from '#coordinator/mix/block_height.ts';
import { serverErrorCode } from '#shared/protocol/error_codes.ts';

describe('blockHeight spread (addendum §6.1)', () => {
  it('the examples', () => {
    for (const h of [799990, 800010, 800000]) expect(isBlockHeightAccepted(h, 800000, 10)).toBe(true);
    for (const h of [800011, 799989]) expect(isBlockHeightAccepted(h, 800000, 10)).toBe(false);
    expect(isBlockHeightAccepted(0, 800000, 10)).toBe(true);
    expect(isBlockHeightAccepted(undefined, 800000, 10)).toBe(true);
    expect(isBlockHeightAccepted(1, null, 10)).toBe(true);
  });

  it('caches the tip for the refresh period and forgets it after an RPC error', async () => {
    let now = 0;
    let calls = 0;
    let fail = false;
    const cache = new BlockHeightCache(
      async () => {
        calls++;
        if (fail) throw new Error('node down');
        return 100 + calls;
      },
      { refreshMs: 1000, now: () => now },
    );
    const [a, b] = await Promise.all([cache.height(), cache.height()]);
    expect([a, b, calls]).toEqual([101, 101, 1]);
    now = 999;
    expect(await cache.height()).toBe(101);
    now = 1000;
    expect(await cache.height()).toBe(102);
    fail = true;
    now = 2000;
    expect(await cache.height()).toBeNull();
  });
});

describe('errorCode of every text (addendum §2.3)', () => {
  it('maps the reference texts', () => {
    const cases: Array<[string, number]> = [
      ['Error', 500],
      ['Confirming input not found: username=x', 500],
      ['Version mismatch: server=0.23, client=unknown', 600],
      ['Pool not found', 601],
      ['Invalid signature', 601],
      ['Partner not found: partnerId=X', 601],
      ['Invalid unblindedSignedBordereau', 601],
      ['invalid blockHeight', 602],
      ['Input is not confirmed', 610],
      ['Input rejected (not a premix or whirlpool input)', 610],
      ['Invalid input balance (expected: 1-2, actual:3)', 610],
      ['Waiting for first mix confirmation', 610],
      ['Username already registered another input: u', 611],
      ['Input already confirmed', 611],
      ['Output already registered', 611],
      ['Bordereau already registered', 611],
      ['receiveAddress already registered: bcrt1q', 611],
      ['User already signed, username=u', 611],
      ['Banned from service. Contact us.', 612],
    ];
    for (const [text, code] of cases) expect([text, serverErrorCode(text)]).toEqual([text, code]);
  });
});
