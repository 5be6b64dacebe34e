/**
 * Provisioning on a fresh machine (devnet/provision.ts, what `npm test` and
 * `npm run demo` run first): pointed at an empty tool cache it builds btcd
 * with Go (Go's own module and build caches may be warm) into that cache,
 * prints one progress line, and the binary runs; a second run reuses it
 * silently. Each missing prerequisite stops with exactly one sentence on
 * stderr (no stack trace): `go` not on PATH (also through the demo), MariaDB
 * not answering, Chromium missing without root to install it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '#devnet/ports.ts';
import { findOnPath } from '#devnet/prerequisite.ts';

let cache: string;

/** The current environment without the tool overrides, with `over` applied. */
function envWith(over: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...over };
  delete env.BTCD_BIN;
  delete env.PS_HTTP_SIM_BIN;
  delete env.CHROMIUM_BIN;
  return env;
}

/** `$PATH` without every directory holding `command`. */
function pathWithout(command: string): string {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((d) => d && findOnPath(command, d) === null)
    .join(delimiter);
}

function node(args: string[], env: NodeJS.ProcessEnv, extra: { uid?: number; gid?: number } = {}) {
  const r = spawnSync(process.execPath, args, { env, encoding: 'utf8', timeout: 300_000, ...extra });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

/** Asserts that `text` is one line holding one sentence (no stack trace). */
function expectOneSentence(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  expect(lines, text).toHaveLength(1);
  expect(lines[0]).toMatch(/^[A-Za-z].*\.$/);
  expect(text).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

beforeAll(async () => {
  cache = await mkdtemp(join(tmpdir(), 'wpt-tools-'));
});
afterAll(async () => {
  await rm(cache, { recursive: true, force: true });
});

describe('provisioning the local cluster', () => {
  it('builds btcd into an empty tool cache, the binary runs, and a second run reuses it', {
    timeout: 300_000,
  }, () => {
    const env = envWith({ WHIRLPOOL_TOOLS_DIR: cache });
    const first = node(['devnet/provision.ts', 'btcd'], env);
    expect(first.status, `${first.stderr}${first.error ?? ''}`).toBe(0);
    const progress = first.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(progress).toHaveLength(1);
    expect(progress[0]).toMatch(/^\[devnet\] building btcd v0\.26\.0 with \S+go into /);
    expect(progress[0]).toContain(cache);

    const version = spawnSync(join(cache, 'btcd'), ['--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout).toMatch(/btcd version 0\.26\.0/);

    const second = node(['devnet/provision.ts', 'btcd'], env);
    expect(second.status).toBe(0);
    expect(second.stderr).toBe('');
  });

  it('without go on PATH fails with one sentence naming Go and how to install it', async () => {
    const empty = await mkdtemp(join(cache, 'empty-'));
    const env = envWith({ WHIRLPOOL_TOOLS_DIR: empty, PATH: pathWithout('go') });
    const r = node(['devnet/provision.ts', 'btcd'], env);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const sentence = expectOneSentence(r.stderr);
    expect(sentence).toMatch(
      /^btcd v0\.26\.0 must be built with Go, and 'go' is not on PATH: install Go with 'curl -fsSL https:\/\/go\.dev\/dl\/go[\d.]+\.linux-\w+\.tar\.gz \| sudo tar -C \/usr\/local -xz && export PATH=\$PATH:\/usr\/local\/go\/bin' \(or set BTCD_BIN to a btcd binary\)\.$/,
    );

    // the demo stops with the same sentence before starting anything
    const demo = node(['client/demo/main.ts', '--duration', '10'], env);
    expect(demo.status).toBe(1);
    expect(demo.stdout).toBe('');
    expect(expectOneSentence(demo.stderr)).toBe(sentence);
  });

  it('with MariaDB not answering fails with one sentence saying how to start it', async () => {
    const port = await freePort();
    const r = node(
      ['devnet/provision.ts', '--db-url', `mysql://root@127.0.0.1:${port}`, 'mariadb'],
      envWith({}),
    );
    expect(r.status).toBe(1);
    expect(expectOneSentence(r.stderr)).toBe(
      `MariaDB does not answer on 127.0.0.1:${port} (ECONNREFUSED): start it with 'sudo service mariadb start' (install it first with 'sudo apt-get install -y mariadb-server'), or set --db-url to a running server.`,
    );
  });

  it('without Chromium and without root fails with one sentence giving the apt command', () => {
    const env = envWith({ WHIRLPOOL_TOOLS_DIR: cache, PATH: pathWithout('chromium') });
    const r = node(['devnet/provision.ts', 'chromium'], env, { uid: 65534, gid: 65534 });
    expect(r.status, `${r.stderr}${r.error ?? ''}`).toBe(1);
    expect(expectOneSentence(r.stderr)).toBe(
      "The browser tests need Chromium, which is not installed, and installing it needs root: run 'sudo apt-get install -y chromium' (or set CHROMIUM_BIN to a Chromium binary).",
    );
  });
});
