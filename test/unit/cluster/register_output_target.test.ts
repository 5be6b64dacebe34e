import { describe, expect, it } from 'vitest';
import {
  clusterRegisterOutput,
  isOnionHost,
  registerOutputTarget,
} from '#coordinator/cluster/cluster_routing.ts';
import { silentLogger } from '#coordinator/log.ts';

const ONION = 'http://ownerxyz2345abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopq.onion';
const BOTH = { urlClear: 'https://owner.example/', urlOnion: ONION };

describe('the registerOutput 307 follows the request host', () => {
  it('recognises onion hosts (port, case, trailing dot)', () => {
    expect(isOnionHost('abc.onion')).toBe(true);
    expect(isOnionHost('ABC.ONION:8080')).toBe(true);
    expect(isOnionHost('abc.onion.')).toBe(true);
    expect(isOnionHost('onion.example.com')).toBe(false);
    expect(isOnionHost('abc.onion.example.com')).toBe(false);
    expect(isOnionHost(undefined)).toBe(false);
  });

  it('onion in ⇒ onion out; clear in ⇒ clear out', () => {
    expect(registerOutputTarget(BOTH, { host: 'me234.onion' })).toBe(ONION);
    expect(registerOutputTarget(BOTH, { host: 'me.example:443' })).toBe('https://owner.example');
    expect(registerOutputTarget(BOTH, {})).toBe('https://owner.example');
  });

  it('never downgrades onion to clear: no onion URL ⇒ no target', () => {
    expect(
      registerOutputTarget({ urlClear: 'https://owner.example', urlOnion: null }, { host: 'me.onion' }),
    ).toBeNull();
    // a clear client of an onion-only owner may still be sent to the onion URL (not a downgrade)
    expect(registerOutputTarget({ urlClear: null, urlOnion: ONION }, { host: 'me.example' })).toBe(ONION);
  });

  const holder = (urlClear: string | null, urlOnion: string | null) => ({
    find: async () => ({
      inputsHash: 'h',
      poolId: 'p',
      mixId: 'm',
      instanceId: 'them',
      epoch: 1,
      urlClear,
      urlOnion,
    }),
  });
  const req = { inputsHash: 'h', unblindedSignedBordereau64: 'x', receiveAddress: 'bcrt1q' };

  it('clusterRegisterOutput redirects an onion request to the holder onion URL', async () => {
    const fn = clusterRegisterOutput({
      engine: {
        findMixByInputsHash: () => null,
        registerOutput: async () => {
          throw new Error('must not be called');
        },
      },
      instanceId: 'me',
      inputsHashes: holder('https://owner.example', ONION),
      logger: silentLogger(),
    });
    expect(await fn(req as never, { host: 'me234.onion' })).toEqual({
      redirectTo: `${ONION}/rest/registerOutput`,
    });
    expect(await fn(req as never, { host: 'me.example' })).toEqual({
      redirectTo: 'https://owner.example/rest/registerOutput',
    });
  });

  it('an onion request for a holder without onion URL is not redirected (the engine answers)', async () => {
    const fn = clusterRegisterOutput({
      engine: {
        findMixByInputsHash: () => null,
        registerOutput: async () => {
          throw new Error('Mix failed');
        },
      },
      instanceId: 'me',
      inputsHashes: holder('https://owner.example', null),
      logger: silentLogger(),
      lookupWaitMs: 50,
    });
    await expect(fn(req as never, { host: 'me234.onion' })).rejects.toThrow('Mix failed');
  });
});
