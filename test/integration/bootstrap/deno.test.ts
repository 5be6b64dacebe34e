import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ListeningProcess, spawnListening } from '#devnet/spawn_listening.ts';
import { defineBootstrapContract, seedDirectory } from '#test/support/bootstrap_contract.ts';
import { createDirectoryFixture, type DirectoryFixture } from '#test/support/directory_fixture.ts';

/** bootstrap/deno.ts under the real Deno runtime, mysql2 through the read-only account. */
describe('bootstrap on Deno (spawned node_modules/.bin/deno run bootstrap/deno.ts, mysql2)', () => {
  let fx: DirectoryFixture;
  let proc: ListeningProcess;

  beforeAll(async () => {
    fx = await createDirectoryFixture('boot_deno');
    await seedDirectory(fx);
    proc = await spawnListening(
      'node_modules/.bin/deno',
      ['run', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', 'bootstrap/deno.ts'],
      {
        timeoutMs: 60_000,
        env: { BOOTSTRAP_DB_URL: fx.account.url, BOOTSTRAP_PORT: '0', BOOTSTRAP_HOST: '127.0.0.1' },
      },
    );
    expect(proc.output()).toContain('bootstrap (deno) listening');
  });
  afterAll(async () => {
    await proc?.stop();
    await fx?.cleanup();
  });

  defineBootstrapContract(() => ({ fx, baseUrl: proc.url }));

  it('type-checks under Deno (tsc excludes bootstrap/deno.ts)', async () => {
    // rejects on a non-zero exit (a type error)
    const { stderr } = await promisify(execFile)('node_modules/.bin/deno', ['check', 'bootstrap/deno.ts'], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(stderr).toContain('Check bootstrap/deno.ts');
  });
});
