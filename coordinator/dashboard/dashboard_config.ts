/**
 * Dashboard settings from `WHIRLPOOL_DASHBOARD_*` environment variables
 * (zod). The dashboard is enabled only when a password hash is configured
 * (directly or through a `_FILE`); without one its routes answer 404 with an
 * explanation, so an instance never serves an unprotected dashboard.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isPasswordHash } from './password_hash.ts';

/** What {@link dashboardConfigFromEnv} yields. */
export interface DashboardConfig {
  enabled: boolean;
  user: string;
  passwordHash: string | null;
  /** Secret for session cookies (null: random per process). */
  sessionSecret: Uint8Array | null;
  sessionTtlMs: number;
  /** Set the cookie's Secure flag (default: true unless the clear URL is http://). */
  secureCookie: boolean;
  /** How often each instance records a history sample for the pictures, ms. */
  historySampleMs: number;
  /** How long history samples are kept, ms. */
  historyRetentionMs: number;
}

const EnvSchema = z.object({
  WHIRLPOOL_DASHBOARD_USER: z
    .string()
    .regex(/^[A-Za-z0-9._@-]{1,64}$/, 'letters, digits, . _ @ - (at most 64)')
    .optional(),
  WHIRLPOOL_DASHBOARD_PASSWORD_HASH: z.string().optional(),
  WHIRLPOOL_DASHBOARD_PASSWORD_HASH_FILE: z.string().optional(),
  WHIRLPOOL_DASHBOARD_SESSION_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  WHIRLPOOL_DASHBOARD_SESSION_TTL_MS: z.coerce.number().int().positive().optional(),
  WHIRLPOOL_URL_CLEAR: z.string().optional(),
  WHIRLPOOL_HISTORY_SAMPLE_MS: z.coerce.number().int().min(500).max(600_000).optional(),
  WHIRLPOOL_HISTORY_RETENTION_HOURS: z.coerce.number().int().min(1).max(8760).optional(),
});

/** Parses the dashboard variables of `env` (throws naming the offending variable, never its value). */
export function dashboardConfigFromEnv(
  env: Record<string, string | undefined> = process.env,
): DashboardConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Invalid dashboard setting '${String(issue?.path[0])}': ${issue?.message}`);
  }
  const e = parsed.data;
  let hash = e.WHIRLPOOL_DASHBOARD_PASSWORD_HASH ?? null;
  if (!hash && e.WHIRLPOOL_DASHBOARD_PASSWORD_HASH_FILE) {
    try {
      hash = readFileSync(e.WHIRLPOOL_DASHBOARD_PASSWORD_HASH_FILE, 'utf8').trim();
    } catch (err) {
      throw new Error(
        `Invalid dashboard setting 'WHIRLPOOL_DASHBOARD_PASSWORD_HASH_FILE': cannot read '${e.WHIRLPOOL_DASHBOARD_PASSWORD_HASH_FILE}'`,
        { cause: err },
      );
    }
  }
  if (hash && !isPasswordHash(hash)) {
    throw new Error(
      "Invalid dashboard setting 'WHIRLPOOL_DASHBOARD_PASSWORD_HASH': not a scrypt hash (make one with npm run dashboard:hash-password)",
    );
  }
  return {
    enabled: hash !== null,
    user: e.WHIRLPOOL_DASHBOARD_USER ?? 'admin',
    passwordHash: hash,
    sessionSecret: e.WHIRLPOOL_DASHBOARD_SESSION_SECRET
      ? new TextEncoder().encode(e.WHIRLPOOL_DASHBOARD_SESSION_SECRET)
      : null,
    sessionTtlMs: e.WHIRLPOOL_DASHBOARD_SESSION_TTL_MS ?? 8 * 3600_000,
    secureCookie: !(e.WHIRLPOOL_URL_CLEAR ?? '').startsWith('http://'),
    historySampleMs: e.WHIRLPOOL_HISTORY_SAMPLE_MS ?? 10_000,
    historyRetentionMs: (e.WHIRLPOOL_HISTORY_RETENTION_HOURS ?? 72) * 3600_000,
  };
}
