import { describe, expect, it } from 'vitest';
import { verifiedRelayClientIp } from '#coordinator/cluster/cluster_routing.ts';
import {
  HEADER_RELAY_AUTH,
  isLoopbackHost,
  RELAY_AUTH_MAX_SKEW_MS,
  relayClaim,
  relayLink,
  verifyRelayClaim,
} from '#coordinator/cluster/relay_auth.ts';
import { HEADER_RELAY_CLIENT_IP, HEADER_RELAYED_BY } from '#coordinator/cluster/stomp_relay.ts';

const SECRET = 's'.repeat(32);
const CLAIM = { relayedBy: 'relay-1', ownerId: 'owner-1', clientIp: '203.0.113.7' };
const NOW = 1_800_000_000_000;

describe('relayLink: TLS to any non-loopback owner', () => {
  it('dials https owners over wss, loopback owners also in clear', () => {
    expect(relayLink('https://a.example/base/', '/ws/connect')).toEqual({
      url: 'wss://a.example/base/ws/connect',
      private: true,
    });
    expect(relayLink('http://127.0.0.1:8080', '/ws/connect')).toEqual({
      url: 'ws://127.0.0.1:8080/ws/connect',
      private: true,
    });
    expect(relayLink('http://[::1]:8080', '/ws/connect').url).toBe('ws://[::1]:8080/ws/connect');
    expect(relayLink('http://localhost:1', '/ws/connect').private).toBe(true);
  });

  it('refuses a clear link to a non-loopback owner and unknown schemes', () => {
    for (const url of [
      'http://a.example:8080',
      'ws://10.0.0.2',
      'http://127.0.0.1.example',
      'http://abc.onion',
    ]) {
      expect(() => relayLink(url, '/ws/connect')).toThrow(/only dialled over TLS/);
    }
    expect(() => relayLink('ftp://a.example', '/ws/connect')).toThrow(/unsupported URL scheme/);
  });

  it('knows loopback hosts', () => {
    expect(
      ['127.0.0.1', '127.8.9.1', '::1', '[::1]', 'localhost', 'LOCALHOST', 'a.localhost'].every(
        isLoopbackHost,
      ),
    ).toBe(true);
    expect(['10.0.0.1', '::2', 'example.com', '128.0.0.1', '0.0.0.0'].some(isLoopbackHost)).toBe(false);
  });
});

describe('relay claims (HMAC over relayedBy, owner, client IP, time)', () => {
  it('verifies its own claim within the skew, for exactly that owner, IP and relay', () => {
    const header = relayClaim(SECRET, CLAIM, NOW);
    expect(header).toMatch(/^v1\.\d+\.[0-9a-f]{64}$/);
    expect(header).not.toContain(SECRET);
    expect(verifyRelayClaim(SECRET, header, CLAIM, NOW)).toBe(true);
    expect(verifyRelayClaim(SECRET, header, CLAIM, NOW + RELAY_AUTH_MAX_SKEW_MS)).toBe(true);
    expect(verifyRelayClaim(SECRET, header, CLAIM, NOW + RELAY_AUTH_MAX_SKEW_MS + 1)).toBe(false);
    expect(verifyRelayClaim(SECRET, header, CLAIM, NOW - RELAY_AUTH_MAX_SKEW_MS - 1)).toBe(false);
    expect(verifyRelayClaim(SECRET, header, { ...CLAIM, clientIp: '203.0.113.8' }, NOW)).toBe(false);
    expect(verifyRelayClaim(SECRET, header, { ...CLAIM, ownerId: 'owner-2' }, NOW)).toBe(false);
    expect(verifyRelayClaim(SECRET, header, { ...CLAIM, relayedBy: 'evil' }, NOW)).toBe(false);
    expect(verifyRelayClaim('t'.repeat(32), header, CLAIM, NOW)).toBe(false);
    for (const bad of [undefined, '', 'v1.x.y', `v2${header.slice(2)}`, `${header}0`]) {
      expect(verifyRelayClaim(SECRET, bad, CLAIM, NOW)).toBe(false);
    }
  });

  it('the owner uses relayClientIp only when the claim verifies', () => {
    const headers = (auth: string | null, ip = CLAIM.clientIp): Map<string, string> =>
      new Map([
        [HEADER_RELAYED_BY, CLAIM.relayedBy],
        [HEADER_RELAY_CLIENT_IP, ip],
        ...(auth === null ? [] : ([[HEADER_RELAY_AUTH, auth]] as Array<[string, string]>)),
      ]);
    const auth = relayClaim(SECRET, CLAIM, NOW);
    expect(verifiedRelayClientIp(headers(auth), 'owner-1', SECRET, NOW)).toBe(CLAIM.clientIp);
    // a client that sets the headers itself, a claim for another IP, no secret here
    expect(verifiedRelayClientIp(headers(null), 'owner-1', SECRET, NOW)).toBeNull();
    expect(verifiedRelayClientIp(headers(auth, '198.51.100.1'), 'owner-1', SECRET, NOW)).toBeNull();
    expect(verifiedRelayClientIp(headers(auth), 'owner-1', null, NOW)).toBeNull();
    expect(verifiedRelayClientIp(headers(auth), 'owner-2', SECRET, NOW)).toBeNull();
  });
});
