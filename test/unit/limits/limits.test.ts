/**
 * Unit tests of the abuse-limit building blocks (coordinator/limits/): the
 * per-address key (IPv6 by /64), token buckets, the bounded semaphore, the
 * address counter with Tor exemption, and the body-limit decisions.
 */

import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { AddressCounter } from '#coordinator/limits/address_counter.ts';
import { addressKey } from '#coordinator/limits/address_key.ts';
import {
  bodyLimitFor,
  checkDeclaredLength,
  payloadTooLarge,
  readBodyWithin,
} from '#coordinator/limits/body_limit.ts';
import { rateLimit } from '#coordinator/limits/rate_limit_middleware.ts';
import type { LimitName } from '#coordinator/limits/refusals.ts';
import { Semaphore } from '#coordinator/limits/semaphore.ts';
import { KeyedTokenBuckets, TokenBucket } from '#coordinator/limits/token_bucket.ts';

describe('addressKey', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6, and groups IPv6 by /64', () => {
    expect(addressKey('10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('')).toBe('');
  });
});

describe('TokenBucket / KeyedTokenBuckets', () => {
  it('allows the burst, then the refill rate', () => {
    const b = new TokenBucket(2, 1 / 1000, 0);
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([true, true, false]);
    expect(b.take(999)).toBe(false);
    expect(b.take(1000)).toBe(true);
    expect(b.full(5000)).toBe(true);
  });
  it('keeps one budget per key, prunes full buckets, and refuses new keys beyond maxKeys', () => {
    const k = new KeyedTokenBuckets({ capacity: 1, refillPerMs: 1 / 100, maxKeys: 2 });
    expect(k.take('a', 0)).toBe(true);
    expect(k.take('a', 0)).toBe(false);
    expect(k.take('b', 0)).toBe(true);
    expect(k.take('c', 0)).toBe(false); // two keys held, none full yet
    expect(k.take('c', 100)).toBe(true); // a and b refilled: pruned, c admitted
    expect(k.size).toBe(1);
  });
});

describe('Semaphore', () => {
  it('holds `permits`, queues up to maxWaiting in order, refuses beyond', async () => {
    const s = new Semaphore(1, 1);
    const r1 = await s.acquire()!;
    const p2 = s.acquire();
    expect(p2).not.toBeNull();
    expect(s.acquire()).toBeNull();
    expect([s.held, s.waiting]).toEqual([1, 1]);
    r1();
    r1(); // twice is harmless
    const r2 = await p2!;
    expect([s.held, s.waiting]).toEqual([1, 0]);
    r2();
    expect(s.held).toBe(0);
  });
});

describe('AddressCounter', () => {
  it('caps per address and in total; exempt addresses count only toward the total', () => {
    const c = new AddressCounter({ max: 4, maxPerAddress: 2, exempt: ['127.0.0.1'] });
    const a1 = c.open('10.0.0.1');
    expect(typeof a1).toBe('function');
    c.open('::ffff:10.0.0.1');
    expect(c.open('10.0.0.1')).toBe('address');
    c.open('127.0.0.1');
    c.open('127.0.0.1');
    expect(c.total).toBe(4);
    expect(c.open('10.0.0.9')).toBe('total');
    (a1 as () => void)();
    expect(c.of('10.0.0.1')).toBe(1);
    expect(typeof c.open('127.0.0.1')).toBe('function'); // exempt: past maxPerAddress
  });
});

describe('body limits', () => {
  const limits = { output: 4096, tx0: 131072, dashboard: 1024, default: 16384 };
  it('picks the limit of each route family', () => {
    expect(bodyLimitFor('/rest/registerOutput', limits)).toBe(4096);
    expect(bodyLimitFor('/rest/checkOutput', limits)).toBe(4096);
    expect(bodyLimitFor('/rest/tx0', limits)).toBe(131072);
    expect(bodyLimitFor('/rest/tx0/push', limits)).toBe(131072);
    expect(bodyLimitFor('/dashboard/login', limits)).toBe(1024);
    expect(bodyLimitFor('/rest/pools', limits)).toBe(16384);
  });
  it('decides from Content-Length unless Transfer-Encoding is present', () => {
    expect(checkDeclaredLength(new Headers({ 'content-length': '10' }), 10)).toBe('within');
    expect(checkDeclaredLength(new Headers({ 'content-length': '11' }), 10)).toBe('too-large');
    expect(checkDeclaredLength(new Headers({ 'content-length': 'x' }), 10)).toBe('too-large');
    expect(
      checkDeclaredLength(new Headers({ 'content-length': '1', 'transfer-encoding': 'chunked' }), 10),
    ).toBe('unknown');
    expect(checkDeclaredLength(new Headers(), 10)).toBe('unknown');
  });
  it('reads a streamed body up to the limit and stops beyond it', async () => {
    let pulled = 0;
    const stream = (chunks: number) =>
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (pulled++ >= chunks) c.close();
          else c.enqueue(new Uint8Array(100));
        },
      });
    const ok = await readBodyWithin(
      new Request('http://x/', { method: 'POST', body: stream(3), duplex: 'half' } as RequestInit),
      300,
    );
    expect((await ok!.arrayBuffer()).byteLength).toBe(300);
    pulled = 0;
    const big = await readBodyWithin(
      new Request('http://x/', { method: 'POST', body: stream(1_000_000), duplex: 'half' } as RequestInit),
      300,
    );
    expect(big).toBeNull();
    expect(pulled).toBeLessThan(10);
  });
  it('answers 413 with a JSON message, leaving the close to the server (lingering drain)', async () => {
    const r = payloadTooLarge(4096);
    expect(r.status).toBe(413);
    // Connection: close would make Node reset the socket with the body unread (the client can lose the 413)
    expect(r.headers.get('connection')).toBeNull();
    expect(r.headers.get('x-body-limit')).toBe('4096');
    expect(await r.json()).toEqual({ message: 'Request body too large' });
  });
});

describe('rateLimit middleware', () => {
  it('answers 429 with Retry-After and protocolVersion beyond the per-address or the total rate', async () => {
    let now = 0;
    const refused: LimitName[] = [];
    const app = new Hono();
    app.use(
      '/rest/tx0/*',
      rateLimit({
        perAddressPerMinute: 2,
        perMinute: 100,
        refusals: { refused: (l) => refused.push(l) },
        names: { address: 'tx0_address_rate', total: 'tx0_rate' },
        now: () => now,
      }),
    );
    app.get('/rest/tx0', (c) => c.text('ok'));
    app.post('/rest/tx0/v1', (c) => c.text('ok'));
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await app.request('/rest/tx0')).status);
    expect(statuses).toEqual([200, 200, 429]);
    const r = await app.request('/rest/tx0');
    expect(r.headers.get('retry-after')).toBe('60');
    expect(r.headers.get('protocolVersion')).toBe('0.23');
    expect(await r.json()).toEqual({ message: 'Too many requests, retry later' });
    expect(refused).toEqual(['tx0_address_rate', 'tx0_address_rate']);
    now = 30_000; // one token back (2 per minute): '/rest/tx0/*' counts /rest/tx0 and its sub-routes once each
    expect((await app.request('/rest/tx0/v1', { method: 'POST' })).status).toBe(200);
    expect((await app.request('/rest/tx0')).status).toBe(429);
  });
});
