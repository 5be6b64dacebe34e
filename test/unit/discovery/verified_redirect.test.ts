/**
 * Redirects only to verified instances (issue 12): the directory locator
 * resolves a STOMP redirect by instance id and a registerOutput 307 by the
 * published URL, always to the verified record's own URL on the client's
 * network; a redirect's epoch only triggers a refresh; an unknown instance,
 * or no record at all when no mirror answers, is refused; never onion →
 * clear. Also the pure URL rules of client/discovery/redirect_policy.ts.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { DirectoryLocator } from '#client/discovery/coordinator_locator.ts';
import { DirectoryClient } from '#client/discovery/directory_client.ts';
import {
  clearUrlVerdict,
  RedirectRefusedError,
  recordForLocation,
  unverifiedRedirectVerdict,
} from '#client/discovery/redirect_policy.ts';
import type { DirectoryRecord } from '#shared/directory/record.ts';
import { directoryPublicKey, signDirectoryRecord } from '#shared/directory/signing.ts';

const NOW = 1_800_000_000_000;
const key = ed25519.utils.randomSecretKey();
const ONION_A = `http://${'a'.repeat(56)}.onion`;

function rec(id: string, over: Partial<DirectoryRecord> = {}): DirectoryRecord {
  return {
    version: 1,
    instanceId: id,
    urlClear: `https://${id}.example.org`,
    urlOnion: null,
    state: 'active',
    pools: [],
    issuedAt: NOW - 1000,
    expiresAt: NOW + 60_000,
    ...over,
  };
}

const directoryBody = JSON.stringify({
  version: 1,
  records: [
    signDirectoryRecord(rec('a', { urlOnion: ONION_A, pools: [{ poolId: 'p', epoch: 3 }] }), key),
    signDirectoryRecord(rec('b'), key),
  ],
});

/** A locator over a real DirectoryClient whose one mirror can be switched off; counts mirror requests. */
function setup(opts: { network?: 'clear' | 'onion'; mirrorUp?: boolean } = {}) {
  const state = { mirrorUp: opts.mirrorUp ?? true, fetches: 0 };
  const warnings: string[] = [];
  const f = (async () => {
    state.fetches++;
    if (!state.mirrorUp) throw new TypeError('fetch failed (ECONNREFUSED)');
    return new Response(directoryBody, { status: 200 });
  }) as unknown as typeof fetch;
  const directory = new DirectoryClient({
    bootstrapUrls: ['https://mirror.example.org'],
    publicKey: directoryPublicKey(key),
    network: opts.network ?? 'clear',
    fetch: f,
    now: () => NOW,
    onWarning: (m) => warnings.push(m),
  });
  return { locator: new DirectoryLocator(directory), state, warnings };
}

describe('STOMP redirect through the directory', () => {
  it('higher epoch: only a reason to refresh; the session goes to the verified record, never the redirect URL', async () => {
    const { locator, state } = setup();
    expect(await locator.mixUrl('p')).toBe('https://a.example.org');
    expect(state.fetches).toBe(1);
    // the redirect names b with a huge epoch (its URLs are not even passed to the locator)
    expect(await locator.mixUrl('p', { reason: 'redirect', instanceId: 'b', minEpoch: 2 ** 40 })).toBe(
      'https://b.example.org',
    );
    expect(state.fetches).toBe(2);
  });

  it('unknown instance id: refused after a refresh', async () => {
    const { locator, state } = setup();
    await locator.mixUrl('p');
    const got = locator.mixUrl('p', { reason: 'redirect', instanceId: 'attacker', minEpoch: 2 ** 40 });
    await expect(got).rejects.toBeInstanceOf(RedirectRefusedError);
    await expect(got).rejects.toThrow(/'attacker' has no verified directory record/);
    expect(state.fetches).toBe(2);
  });

  it('no mirror answers: records already verified still count, nothing else; never the redirect', async () => {
    const { locator, state } = setup();
    await locator.mixUrl('p');
    state.mirrorUp = false;
    expect(await locator.mixUrl('p', { reason: 'redirect', instanceId: 'b', minEpoch: 9 })).toBe(
      'https://b.example.org',
    );
    await expect(
      locator.mixUrl('p', { reason: 'redirect', instanceId: 'c', minEpoch: 9 }),
    ).rejects.toBeInstanceOf(RedirectRefusedError);
    // a client that never read a directory: refused outright
    const cold = setup({ mirrorUp: false });
    await expect(
      cold.locator.mixUrl('p', { reason: 'redirect', instanceId: 'b', minEpoch: 9 }),
    ).rejects.toBeInstanceOf(RedirectRefusedError);
    expect(cold.state.fetches).toBe(1);
  });

  it('onion client: a redirect to an instance without an onion URL is refused, never followed to clear', async () => {
    const { locator } = setup({ network: 'onion' });
    expect(await locator.mixUrl('p')).toBe(ONION_A);
    await expect(locator.mixUrl('p', { reason: 'redirect', instanceId: 'b', minEpoch: 4 })).rejects.toThrow(
      /'b' publishes no onion URL/,
    );
    expect(await locator.mixUrl('p', { reason: 'redirect', instanceId: 'a', minEpoch: 4 })).toBe(ONION_A);
  });

  it('a redirect without an instance id is refused', async () => {
    const { locator } = setup();
    await expect(locator.mixUrl('p', { reason: 'redirect' })).rejects.toBeInstanceOf(RedirectRefusedError);
  });
});

describe('registerOutput 307 through the directory', () => {
  const from = 'https://b.example.org/rest/registerOutput';

  it('goes to the verified instance publishing the Location, at its record URL', async () => {
    const { locator } = setup();
    await locator.mixUrl('p');
    expect(await locator.registerOutputRedirect('https://a.example.org/rest/registerOutput', from)).toBe(
      'https://a.example.org/rest/registerOutput',
    );
  });

  it('a Location no verified record publishes is refused after one refresh', async () => {
    const { locator, state } = setup();
    await locator.mixUrl('p');
    await expect(
      locator.registerOutputRedirect('http://attacker.invalid:1/rest/registerOutput', from),
    ).rejects.toBeInstanceOf(RedirectRefusedError);
    expect(state.fetches).toBe(2);
    // a published URL with another path, or a query, is not the instance's registerOutput
    await expect(
      locator.registerOutputRedirect('https://a.example.org/evil/rest/registerOutput', from),
    ).rejects.toBeInstanceOf(RedirectRefusedError);
    await expect(
      locator.registerOutputRedirect('https://a.example.org/rest/registerOutput?x=1', from),
    ).rejects.toBeInstanceOf(RedirectRefusedError);
  });

  it('onion client: a 307 to the clear URL of an instance goes to its onion URL; without one it is refused', async () => {
    const { locator } = setup({ network: 'onion' });
    await locator.mixUrl('p');
    expect(
      await locator.registerOutputRedirect('https://a.example.org/rest/registerOutput', `${ONION_A}/x`),
    ).toBe(`${ONION_A}/rest/registerOutput`);
    await expect(
      locator.registerOutputRedirect('https://b.example.org/rest/registerOutput', `${ONION_A}/x`),
    ).rejects.toThrow(/no onion URL/);
  });
});

describe('redirect policy (pure rules)', () => {
  it('clear URLs: https, or http on loopback / regtest with a warning; onion hosts refused as clear', () => {
    expect(clearUrlVerdict('https://x.org', false)).toEqual({ use: true, warning: null });
    expect(clearUrlVerdict('http://127.0.0.1:8080', false)).toMatchObject({
      use: true,
      warning: /not https/,
    });
    expect(clearUrlVerdict('http://localhost:1', false)).toMatchObject({ use: true });
    expect(clearUrlVerdict('http://[::1]:1', false)).toMatchObject({ use: true });
    expect(clearUrlVerdict('http://x.org', false)).toMatchObject({ use: false, reason: /not https/ });
    expect(clearUrlVerdict('http://x.org', true)).toMatchObject({ use: true, warning: /regtest/ });
    expect(clearUrlVerdict(`${ONION_A}`, true)).toMatchObject({ use: false });
  });

  it('a record with an http clear URL off loopback is not used (and warned about) outside regtest', async () => {
    const body = JSON.stringify({
      version: 1,
      records: [
        signDirectoryRecord(
          rec('h', { urlClear: 'http://h.example.org', pools: [{ poolId: 'p', epoch: 1 }] }),
          key,
        ),
      ],
    });
    const warnings: string[] = [];
    const c = new DirectoryClient({
      bootstrapUrls: ['https://m'],
      publicKey: directoryPublicKey(key),
      fetch: (async () => new Response(body)) as unknown as typeof fetch,
      now: () => NOW,
      onWarning: (m) => warnings.push(m),
    });
    await expect(c.ownerOf('p')).rejects.toThrow(/no usable clear URL .*not https/);
    expect(warnings).toEqual([expect.stringMatching(/not used: .*not https/)]);
  });

  it('recordForLocation matches base + /rest/registerOutput exactly (relative Locations resolved)', () => {
    const records = [rec('a', { urlClear: 'https://a.example.org/' }), rec('b', { urlOnion: ONION_A })];
    expect(
      recordForLocation(records, 'https://a.example.org/rest/registerOutput', 'https://z')?.instanceId,
    ).toBe('a');
    expect(recordForLocation(records, '/rest/registerOutput', 'https://a.example.org/q')?.instanceId).toBe(
      'a',
    );
    expect(recordForLocation(records, `${ONION_A}/rest/registerOutput`, 'https://z')?.instanceId).toBe('b');
    expect(
      recordForLocation(records, 'https://a.example.org:444/rest/registerOutput', 'https://z'),
    ).toBeNull();
  });

  it('without a directory: never onion → clear, never https → http', () => {
    expect(unverifiedRedirectVerdict('http://127.0.0.1:1', 'http://127.0.0.1:2/x')).toEqual({ ok: true });
    expect(unverifiedRedirectVerdict('https://a.org', `${ONION_A}/x`)).toEqual({ ok: true });
    expect(unverifiedRedirectVerdict(`${ONION_A}/x`, 'https://a.org/x')).toMatchObject({ ok: false });
    expect(unverifiedRedirectVerdict('https://a.org', 'http://b.org/x')).toMatchObject({ ok: false });
    expect(unverifiedRedirectVerdict('https://a.org', 'ftp://b.org/x')).toMatchObject({ ok: false });
  });
});
