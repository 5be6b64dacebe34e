/**
 * A Hono middleware that rate-limits a route per source address
 * ({@link addressKey}: IPv6 per /64) and for the whole instance with token
 * buckets (per minute, burst = the per-minute figure): over either, 429
 * `{"message":"Too many requests, retry later"}` with `Retry-After` and the
 * `protocolVersion` header REST answers carry, counted in
 * {@link Refusals}. Used on `/rest/tx0*` (fee indices, scode guesses); other
 * routes can reuse it (`app.use(path, rateLimit(...))`).
 *
 * @module
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { HEADER_PROTOCOL_VERSION, PROTOCOL_VERSION } from '#shared/protocol/constants.ts';
import { addressKey } from './address_key.ts';
import type { LimitName, Refusals } from './refusals.ts';
import { KeyedTokenBuckets, TokenBucket } from './token_bucket.ts';

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  perAddressPerMinute: number;
  perMinute: number;
  /** Addresses not limited per address (Tor's 127.0.0.1); they still count toward `perMinute`. */
  exempt?: readonly string[];
  refusals: Refusals;
  /** Refusal names for the two limits. */
  names: { address: LimitName; total: LimitName };
  now?: () => number;
}

function remoteAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? '';
  } catch {
    return '';
  }
}

/** See module doc. */
export function rateLimit(o: RateLimitOptions): MiddlewareHandler {
  const now = o.now ?? Date.now;
  const perAddress = new KeyedTokenBuckets({
    capacity: o.perAddressPerMinute,
    refillPerMs: o.perAddressPerMinute / 60_000,
  });
  const total = new TokenBucket(o.perMinute, o.perMinute / 60_000, now());
  const exempt = new Set((o.exempt ?? []).map(addressKey));
  const refuse = (c: Context, limit: LimitName, ip: string) => {
    o.refusals.refused(limit, { ip, path: c.req.path });
    return c.json({ message: 'Too many requests, retry later' }, 429, {
      'Retry-After': '60',
      [HEADER_PROTOCOL_VERSION]: PROTOCOL_VERSION,
    });
  };
  return async (c, next) => {
    const ip = remoteAddress(c);
    const key = addressKey(ip);
    const t = now();
    if (!exempt.has(key) && !perAddress.take(key, t)) return refuse(c, o.names.address, ip);
    if (!total.take(t)) return refuse(c, o.names.total, ip);
    await next();
  };
}
