import { describe, expect, it } from 'vitest';
import {
  DirectoryLocator,
  FixedLocator,
  isVerificationFailure,
} from '#client/discovery/coordinator_locator.ts';
import { type DirectoryClient, DiscoveryError } from '#client/discovery/directory_client.ts';

/** A DirectoryClient stand-in recording ownerOf calls. */
function stub(owner: { url: string; epoch: number } | Error) {
  const calls: Array<{ poolId: string; opts: unknown }> = [];
  const dir = {
    async ownerOf(poolId: string, opts: unknown) {
      calls.push({ poolId, opts });
      if (owner instanceof Error) throw owner;
      return { ...owner, poolId, instanceId: 'x', urlClear: owner.url, urlOnion: null, state: 'active' };
    },
    async randomInstance(opts: unknown) {
      calls.push({ poolId: '*', opts });
      return { url: 'http://any', instanceId: 'y', urlClear: 'http://any', urlOnion: null, state: 'active' };
    },
  } as unknown as DirectoryClient;
  return { dir, calls };
}

describe('CoordinatorLocator', () => {
  it('fixed: always the one URL', async () => {
    const l = new FixedLocator('http://c');
    expect(await l.restUrl()).toBe('http://c');
    expect(await l.mixUrl()).toBe('http://c');
  });

  it('directory: owner without refresh at start, refreshed (with minEpoch) after a redirect / lost / failed', async () => {
    const { dir, calls } = stub({ url: 'http://owner', epoch: 5 });
    const l = new DirectoryLocator(dir);
    expect(await l.mixUrl('p')).toBe('http://owner');
    expect(await l.mixUrl('p', { reason: 'lost' })).toBe('http://owner');
    expect(await l.mixUrl('p', { reason: 'redirect', minEpoch: 5, redirectTo: 'http://r' })).toBe(
      'http://owner',
    );
    expect(await l.restUrl()).toBe('http://any');
    expect(calls).toEqual([
      { poolId: 'p', opts: { refresh: false, minEpoch: undefined } },
      { poolId: 'p', opts: { refresh: true, minEpoch: undefined } },
      { poolId: 'p', opts: { refresh: true, minEpoch: 5 } },
      { poolId: '*', opts: {} },
    ]);
  });

  it('directory: follows the redirect when the directory lags its epoch or cannot be read', async () => {
    const lagging = new DirectoryLocator(stub({ url: 'http://old', epoch: 3 }).dir);
    expect(await lagging.mixUrl('p', { reason: 'redirect', minEpoch: 4, redirectTo: 'http://new' })).toBe(
      'http://new',
    );
    const down = new DirectoryLocator(stub(new DiscoveryError('down')).dir);
    expect(await down.mixUrl('p', { reason: 'redirect', minEpoch: 4, redirectTo: 'http://new' })).toBe(
      'http://new',
    );
    await expect(down.mixUrl('p', { reason: 'lost' })).rejects.toThrow('down');
  });

  it('a directory refused by verification is not retried; an unreachable one is', () => {
    const forged = new DiscoveryError('x', [{ url: 'u', reason: 'forged', message: 'bad signature' }]);
    const unreachable = new DiscoveryError('x', [{ url: 'u', reason: 'unreachable', message: 'down' }]);
    expect(isVerificationFailure(forged)).toBe(true);
    expect(isVerificationFailure(unreachable)).toBe(false);
    expect(isVerificationFailure(new DiscoveryError('no owner'))).toBe(false);
  });
});
