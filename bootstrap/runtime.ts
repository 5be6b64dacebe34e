/**
 * Builds a bootstrap node (reader + app) from its configuration; shared by the
 * Node and Deno entry points. Runtime-neutral.
 *
 * @module
 */
import type { Hono } from 'hono';
import { createBootstrapApp } from './app.ts';
import type { BootstrapConfig } from './config.ts';
import type { DirectoryCache, DirectoryReader } from './directory_cache.ts';
import { createMysqlDirectoryReader } from './mysql_reader.ts';
import { createPlanetscaleDirectoryReader } from './planetscale_reader.ts';

/** A configured bootstrap node before it listens. */
export interface BootstrapNode {
  app: Hono;
  cache: DirectoryCache;
  reader: DirectoryReader;
}

/** Reader for the configured database (mysql2 pool or @planetscale/database). */
export function readerFromConfig(config: BootstrapConfig): DirectoryReader {
  return config.database.kind === 'mysql'
    ? createMysqlDirectoryReader(config.database.url)
    : createPlanetscaleDirectoryReader(config.database.url);
}

/** Reader, cache and app for `config`. */
export function createBootstrapNode(config: BootstrapConfig): BootstrapNode {
  const reader = readerFromConfig(config);
  const { app, cache } = createBootstrapApp({
    reader,
    cacheTtlMs: config.cacheTtlMs,
    maxAgeSeconds: config.maxAgeSeconds,
    publicKey: config.publicKey,
  });
  return { app, cache, reader };
}

/** The line every entry point prints once listening (tests and scripts read the URL from it). */
export function listeningLine(runtime: string, host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `bootstrap (${runtime}) listening on http://${shown}:${port}`;
}
