/**
 * Bootstrap node entry for Cloudflare Workers (wrangler.toml `main`). The
 * database is either the `HYPERDRIVE` binding (mysql2 with `disableEval`, one
 * connection per query: Hyperdrive pools on its side) or the
 * `BOOTSTRAP_PLANETSCALE_URL` var/secret (@planetscale/database over fetch).
 * The cache lives per isolate: at most one query per second per isolate.
 *
 * @module
 */
import type { Hono } from 'hono';
import { createBootstrapApp } from './app.ts';
import { parseBootstrapConfig } from './config.ts';
import type { DirectoryReader } from './directory_cache.ts';
import { createPerQueryMysqlReader } from './mysql_reader.ts';
import { createPlanetscaleDirectoryReader } from './planetscale_reader.ts';

/** The Hyperdrive binding's connection parameters. */
export interface HyperdriveBinding {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Bindings and vars the worker reads. */
export interface BootstrapWorkerEnv {
  HYPERDRIVE?: HyperdriveBinding;
  BOOTSTRAP_PLANETSCALE_URL?: string;
  BOOTSTRAP_CACHE_MS?: string;
  BOOTSTRAP_MAX_AGE?: string;
  BOOTSTRAP_DIRECTORY_PUBLIC_KEY?: string;
}

let app: Hono | null = null;

function readerFor(env: BootstrapWorkerEnv): DirectoryReader {
  if (env.BOOTSTRAP_PLANETSCALE_URL) return createPlanetscaleDirectoryReader(env.BOOTSTRAP_PLANETSCALE_URL);
  const hd = env.HYPERDRIVE;
  if (!hd)
    throw new Error('Bootstrap worker needs a HYPERDRIVE binding or the BOOTSTRAP_PLANETSCALE_URL var');
  return createPerQueryMysqlReader({
    host: hd.host,
    port: Number(hd.port),
    user: hd.user,
    password: hd.password,
    database: hd.database,
    timezone: 'Z',
  });
}

function build(env: BootstrapWorkerEnv): Hono {
  const vars: Record<string, string | undefined> = {
    BOOTSTRAP_CACHE_MS: env.BOOTSTRAP_CACHE_MS,
    BOOTSTRAP_MAX_AGE: env.BOOTSTRAP_MAX_AGE,
    BOOTSTRAP_DIRECTORY_PUBLIC_KEY: env.BOOTSTRAP_DIRECTORY_PUBLIC_KEY,
    // the database is configured by binding here; satisfy the shared parser
    BOOTSTRAP_PLANETSCALE_URL: env.BOOTSTRAP_PLANETSCALE_URL ?? 'https://hyperdrive.invalid',
  };
  const config = parseBootstrapConfig(vars);
  return createBootstrapApp({
    reader: readerFor(env),
    cacheTtlMs: config.cacheTtlMs,
    maxAgeSeconds: config.maxAgeSeconds,
    publicKey: config.publicKey,
  }).app;
}

/** The Workers module: builds the app on the first request of an isolate. */
export default {
  fetch(request: Request, env: BootstrapWorkerEnv, ctx: unknown): Response | Promise<Response> {
    app ??= build(env);
    return app.fetch(request, env, ctx as never);
  },
};
