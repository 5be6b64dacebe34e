import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { WhirlpoolClient } from '#client/api.ts';
import {
  DirectoryLocator,
  FixedLocator,
  isVerificationFailure,
} from '#client/discovery/coordinator_locator.ts';
import { type DirectoryClient, DiscoveryError } from '#client/discovery/directory_client.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import type { DirectoryRecord } from '#shared/directory/record.ts';
import { directoryPublicKey, signDirectoryRecord } from '#shared/directory/signing.ts';

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

  it('directory: owner without refresh at start, refreshed after a lost / failed connection', async () => {
    const { dir, calls } = stub({ url: 'http://owner', epoch: 5 });
    const l = new DirectoryLocator(dir);
    expect(await l.mixUrl('p')).toBe('http://owner');
    expect(await l.mixUrl('p', { reason: 'lost' })).toBe('http://owner');
    expect(await l.mixUrl('p', { reason: 'failed' })).toBe('http://owner');
    expect(await l.restUrl()).toBe('http://any');
    expect(calls).toEqual([
      { poolId: 'p', opts: { refresh: false } },
      { poolId: 'p', opts: { refresh: true } },
      { poolId: 'p', opts: { refresh: true } },
      { poolId: '*', opts: {} },
    ]);
  });

  it('directory: a lost connection with no readable directory is an error (retried as a failed connection)', async () => {
    const down = new DirectoryLocator(stub(new DiscoveryError('down')).dir);
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

describe('REST through the directory when a listed instance is dead', () => {
  const key = ed25519.utils.randomSecretKey();
  const POOL = {
    poolId: '0.01btc',
    denomination: 1_000_000,
    feeValue: 50_000,
    mustMixBalanceMin: 1_000_102,
    mustMixBalanceCap: 1_009_500,
    mustMixBalanceMax: 1_010_000,
    minAnonymitySet: 2,
    minMustMix: 1,
    nbRegistered: 0,
    mixAnonymitySet: 2,
    mixStatus: 'CONFIRM_INPUT',
    elapsedTime: 1,
    nbConfirmed: 0,
  };

  /** Directory on the mirror lists `dead` (killed, record not expired yet) and `live`; only `live` answers. */
  function cluster() {
    const now = Date.now();
    const record = (id: string): DirectoryRecord => ({
      version: 1,
      instanceId: id,
      urlClear: `http://${id}.test`,
      urlOnion: null,
      state: 'active',
      pools: id === 'live' ? [{ poolId: POOL.poolId, epoch: 2 }] : [],
      issuedAt: now - 1000,
      expiresAt: now + 60_000,
    });
    const directory = JSON.stringify({
      version: 1,
      records: [signDirectoryRecord(record('dead'), key), signDirectoryRecord(record('live'), key)],
      pools: {},
    });
    const hits = { dead: 0, live: 0, mirror: 0 };
    const f = (async (input: RequestInfo | URL) => {
      const url = new URL(String(input));
      if (url.host === 'mirror.test') {
        hits.mirror++;
        return new Response(directory, { status: 200 });
      }
      if (url.host === 'dead.test') {
        hits.dead++;
        throw new TypeError('fetch failed (ECONNREFUSED)');
      }
      hits.live++;
      return new Response(JSON.stringify({ pools: [POOL] }), { status: 200 });
    }) as typeof fetch;
    return { f, hits };
  }

  it('every call reaches the live instance; the dead one is tried at most once, then avoided', async () => {
    const { f, hits } = cluster();
    const c = new WhirlpoolClient({
      bootstrap: { urls: ['http://mirror.test'], directoryPublicKey: directoryPublicKey(key) },
      wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' }),
      fetch: f,
    });
    // picking among both listed instances would fail a call ~1 in 4 times (dead twice)
    for (let i = 0; i < 30; i++) expect((await c.listPools()).map((p) => p.poolId)).toEqual([POOL.poolId]);
    expect(hits.live).toBe(30);
    expect(hits.dead).toBeLessThanOrEqual(1);
  });

  it('the locator avoids a reported URL for avoidUnreachableMs, then hands it out again', async () => {
    let now = 1000;
    const exclusions: unknown[] = [];
    const dir = {
      async randomInstance(opts: { exclude?: ReadonlySet<string> }) {
        exclusions.push(opts.exclude ? [...opts.exclude] : null);
        return { url: 'http://x', instanceId: 'x', urlClear: 'http://x', urlOnion: null, state: 'active' };
      },
    } as unknown as DirectoryClient;
    const l = new DirectoryLocator(dir, { avoidUnreachableMs: 5000, now: () => now });
    l.reportUnreachable('http://dead');
    await l.restUrl({ refresh: true });
    now += 4999;
    await l.restUrl();
    now += 1;
    await l.restUrl();
    expect(exclusions).toEqual([['http://dead'], ['http://dead'], null]);
  });
});
