/**
 * Bootstrap node configuration from environment variables (same names on
 * Node, Deno and Workers vars), validated with zod. The only credential is
 * the read-only database account's, inside the database URL.
 *
 * - `BOOTSTRAP_DB_URL`: `mysql://reader:password@host:3306/whirlpool` (mysql2), or
 * - `BOOTSTRAP_PLANETSCALE_URL`: `https://user:password@host` (@planetscale/database; `http://` for ps-http-sim);
 *   exactly one of the two.
 * - `BOOTSTRAP_PORT` (default 8080; 0 = any free port), `BOOTSTRAP_HOST` (default 0.0.0.0) — Node and Deno.
 * - `BOOTSTRAP_CACHE_MS` (default and minimum 1000): time between database queries.
 * - `BOOTSTRAP_MAX_AGE` (default 1): Cache-Control max-age of /instances, seconds.
 * - `BOOTSTRAP_DIRECTORY_PUBLIC_KEY` (optional, 64 hex): serve only records verifying under it.
 *
 * @module
 */
import { z } from 'zod';
import { parseDirectoryKeyHex } from '#shared/directory/signing.ts';

/** Validated bootstrap configuration. */
export interface BootstrapConfig {
  database: { kind: 'mysql'; url: string } | { kind: 'planetscale'; url: string };
  port: number;
  host: string;
  cacheTtlMs: number;
  maxAgeSeconds: number;
  publicKey: Uint8Array | null;
}

const intFrom = (def: number, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a non-negative integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .optional()
    .transform((v) => v ?? def);

const EnvSchema = z.object({
  BOOTSTRAP_DB_URL: z.string().startsWith('mysql://', 'must start with mysql://').optional(),
  BOOTSTRAP_PLANETSCALE_URL: z
    .string()
    .regex(/^https?:\/\//, 'must start with https:// (or http:// for ps-http-sim)')
    .optional(),
  BOOTSTRAP_PORT: intFrom(8080, 0, 65535),
  BOOTSTRAP_HOST: z.string().min(1).optional(),
  BOOTSTRAP_CACHE_MS: intFrom(1000, 1000, 60_000),
  BOOTSTRAP_MAX_AGE: intFrom(1, 0, 3600),
  BOOTSTRAP_DIRECTORY_PUBLIC_KEY: z.string().optional(),
});

/** Parses the environment; throws an Error naming each invalid variable (never echoing URLs). */
export function parseBootstrapConfig(env: Record<string, string | undefined>): BootstrapConfig {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env))
    if (k.startsWith('BOOTSTRAP_') && v !== undefined && v !== '') clean[k] = v;
  const r = EnvSchema.safeParse(clean);
  if (!r.success) {
    const detail = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid bootstrap configuration: ${detail}`);
  }
  const e = r.data;
  if (!!e.BOOTSTRAP_DB_URL === !!e.BOOTSTRAP_PLANETSCALE_URL) {
    throw new Error(
      'Invalid bootstrap configuration: set exactly one of BOOTSTRAP_DB_URL and BOOTSTRAP_PLANETSCALE_URL',
    );
  }
  return {
    database: e.BOOTSTRAP_DB_URL
      ? { kind: 'mysql', url: e.BOOTSTRAP_DB_URL }
      : { kind: 'planetscale', url: e.BOOTSTRAP_PLANETSCALE_URL! },
    port: e.BOOTSTRAP_PORT,
    host: e.BOOTSTRAP_HOST ?? '0.0.0.0',
    cacheTtlMs: e.BOOTSTRAP_CACHE_MS,
    maxAgeSeconds: e.BOOTSTRAP_MAX_AGE,
    publicKey: e.BOOTSTRAP_DIRECTORY_PUBLIC_KEY
      ? parseDirectoryKeyHex(e.BOOTSTRAP_DIRECTORY_PUBLIC_KEY, 'BOOTSTRAP_DIRECTORY_PUBLIC_KEY')
      : null,
  };
}
