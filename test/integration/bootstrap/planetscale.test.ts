import { afterAll, beforeAll, describe, expect } from 'vitest';
import { type ListeningProcess, spawnListening } from '#devnet/spawn_listening.ts';
import { defineBootstrapContract, seedDirectory } from '#test/support/bootstrap_contract.ts';
import { createDirectoryFixture, type DirectoryFixture } from '#test/support/directory_fixture.ts';
import { type PsHttpSim, startPsHttpSim } from '#test/support/ps_http_sim.ts';

/**
 * bootstrap/node.ts with BOOTSTRAP_PLANETSCALE_URL: @planetscale/database over
 * HTTP to ps-http-sim, which logs in to MariaDB as the read-only account.
 */
describe('bootstrap on Node with @planetscale/database (ps-http-sim in front of MariaDB)', () => {
  let fx: DirectoryFixture;
  let sim: PsHttpSim;
  let proc: ListeningProcess;

  beforeAll(async () => {
    fx = await createDirectoryFixture('boot_pscale');
    await seedDirectory(fx);
    sim = await startPsHttpSim(fx.db.name);
    proc = await spawnListening(process.execPath, ['bootstrap/node.ts'], {
      env: {
        BOOTSTRAP_PLANETSCALE_URL: sim.urlFor(fx.account.user, fx.account.password),
        BOOTSTRAP_PORT: '0',
        BOOTSTRAP_HOST: '127.0.0.1',
      },
    });
    expect(proc.output()).toContain('bootstrap (node) listening');
  });
  afterAll(async () => {
    await proc?.stop();
    await sim?.stop();
    await fx?.cleanup();
  });

  defineBootstrapContract(() => ({ fx, baseUrl: proc.url }));
});
