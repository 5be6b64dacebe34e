import { describe, expect, it } from 'vitest';
import { dashboardConfigFromEnv } from '#coordinator/dashboard/dashboard_config.ts';
import { hashPassword, isPasswordHash, verifyPassword } from '#coordinator/dashboard/password_hash.ts';
import { SessionSigner } from '#coordinator/dashboard/session_token.ts';

const FAST = { n: 1024, r: 8, p: 1 };

describe('password_hash', () => {
  it('hashPassword() output verifies the password and nothing else', async () => {
    const hash = await hashPassword('correct horse battery', FAST);
    expect(isPasswordHash(hash)).toBe(true);
    expect(hash).not.toContain('correct horse');
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse batterx', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });
  it('salts every hash', async () => {
    expect(await hashPassword('same', FAST)).not.toBe(await hashPassword('same', FAST));
  });
  it('verifyPassword() refuses malformed hashes without throwing', async () => {
    for (const bad of ['', 'scrypt$', 'bcrypt$2$x', 'scrypt$1024$8$1$AAAA$AAAA', 'plain-text-password']) {
      expect(await verifyPassword('x', bad)).toBe(false);
    }
  });
});

describe('SessionSigner', () => {
  it('verifies its own tokens and returns user and csrf', () => {
    const s = new SessionSigner();
    const { token, session } = s.issue('admin', 60_000, 1_000);
    expect(s.verify(token, 2_000)).toEqual(session);
    expect(session.csrf.length).toBeGreaterThanOrEqual(20);
  });
  it('refuses expired, altered, forged and malformed tokens', () => {
    const s = new SessionSigner();
    const { token } = s.issue('admin', 60_000, 1_000);
    expect(s.verify(token, 61_001)).toBeNull();
    const [payload, mac] = token.split('.') as [string, string];
    const altered = Buffer.from(
      Buffer.from(payload, 'base64url').toString().replace('admin', 'root!'),
    ).toString('base64url');
    expect(s.verify(`${altered}.${mac}`, 2_000)).toBeNull();
    expect(new SessionSigner().verify(token, 2_000)).toBeNull();
    for (const bad of [undefined, '', 'a', 'a.b.c', `${payload}.`, '.'.repeat(2000)]) {
      expect(s.verify(bad, 2_000)).toBeNull();
    }
  });
  it('accepts tokens of another process sharing the configured secret', () => {
    const secret = new TextEncoder().encode('x'.repeat(32));
    const { token } = new SessionSigner(secret).issue('admin', 60_000);
    expect(new SessionSigner(secret).verify(token)?.user).toBe('admin');
  });
});

describe('dashboardConfigFromEnv', () => {
  it('is disabled without a password hash', () => {
    expect(dashboardConfigFromEnv({}).enabled).toBe(false);
  });
  it('is enabled with a valid hash, defaults user to admin, Secure cookie unless http', async () => {
    const hash = await hashPassword('pw-long-enough', FAST);
    const c = dashboardConfigFromEnv({ WHIRLPOOL_DASHBOARD_PASSWORD_HASH: hash });
    expect(c).toMatchObject({ enabled: true, user: 'admin', passwordHash: hash, secureCookie: true });
    expect(
      dashboardConfigFromEnv({
        WHIRLPOOL_DASHBOARD_PASSWORD_HASH: hash,
        WHIRLPOOL_URL_CLEAR: 'http://127.0.0.1:8080',
      }).secureCookie,
    ).toBe(false);
  });
  it('refuses a clear-text password in the hash variable without echoing it', () => {
    expect(() => dashboardConfigFromEnv({ WHIRLPOOL_DASHBOARD_PASSWORD_HASH: 'hunter2-secret' })).toThrow(
      /WHIRLPOOL_DASHBOARD_PASSWORD_HASH/,
    );
    try {
      dashboardConfigFromEnv({ WHIRLPOOL_DASHBOARD_PASSWORD_HASH: 'hunter2-secret' });
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
  it('names a bad user variable', () => {
    expect(() => dashboardConfigFromEnv({ WHIRLPOOL_DASHBOARD_USER: 'a b' })).toThrow(
      /WHIRLPOOL_DASHBOARD_USER/,
    );
  });
});
