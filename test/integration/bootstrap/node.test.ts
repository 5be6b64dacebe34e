import { afterAll, beforeAll, describe, expect } from 'vitest';
import { type ListeningProcess, spawnListening } from '#devnet/spawn_listening.ts';
import { defineBootstrapContract, seedDirectory } from '#test/support/bootstrap_contract.ts';
import { createDirectoryFixture, type DirectoryFixture } from '#test/support/directory_fixture.ts';

/** bootstrap/node.ts as a separate Node process, mysql2 through the read-only account. */
describe('bootstrap on Node (spawned bootstrap/node.ts, mysql2)', () => {
  let fx: DirectoryFixture;
  let proc: ListeningProcess;

  beforeAll(async () => {
    fx = await createDirectoryFixture('boot_node');
    await seedDirectory(fx);
    proc = await spawnListening(process.execPath, ['bootstrap/node.ts'], {
      env: { BOOTSTRAP_DB_URL: fx.account.url, BOOTSTRAP_PORT: '0', BOOTSTRAP_HOST: '127.0.0.1' },
    });
    expect(proc.output()).toContain('bootstrap (node) listening');
  });
  afterAll(async () => {
    await proc?.stop();
    await fx?.cleanup();
  });

  defineBootstrapContract(() => ({ fx, baseUrl: proc.url }));
});
