/**
 * Dashboard login sessions as signed cookies: `<payload>.<HMAC-SHA256>`, both
 * base64url, payload `{u, exp, csrf}`. The key is random per process unless
 * `WHIRLPOOL_DASHBOARD_SESSION_SECRET` is set, so a restart logs everyone out
 * (each instance has its own login). The `csrf` value must come back in the
 * `x-csrf-token` header of every state-changing request.
 *
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** What a valid session cookie carries. */
export interface DashboardSession {
  user: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
  csrf: string;
}

const PayloadSchema = z.object({ u: z.string().min(1).max(64), exp: z.number().int(), csrf: z.string() });

/** Signs and checks session tokens with one key. */
export class SessionSigner {
  readonly #key: Buffer;
  constructor(secret?: Uint8Array) {
    this.#key = Buffer.from(secret ?? randomBytes(32));
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#key).update(payload).digest('base64url');
  }

  /** A new session for `user`, valid `ttlMs` from `now`. */
  issue(user: string, ttlMs: number, now: number = Date.now()): { token: string; session: DashboardSession } {
    const session = { user, expiresAt: now + ttlMs, csrf: randomBytes(16).toString('base64url') };
    const payload = Buffer.from(
      JSON.stringify({ u: session.user, exp: session.expiresAt, csrf: session.csrf }),
    ).toString('base64url');
    return { token: `${payload}.${this.#mac(payload)}`, session };
  }

  /** The session of a token, or null when it is forged, altered, malformed or expired. */
  verify(token: string | undefined, now: number = Date.now()): DashboardSession | null {
    if (!token || token.length > 1024) return null;
    const [payload, mac, extra] = token.split('.');
    if (!payload || !mac || extra !== undefined) return null;
    const expected = Buffer.from(this.#mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    let parsed: z.infer<typeof PayloadSchema>;
    try {
      parsed = PayloadSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    } catch {
      return null;
    }
    if (parsed.exp <= now) return null;
    return { user: parsed.u, expiresAt: parsed.exp, csrf: parsed.csrf };
  }
}
