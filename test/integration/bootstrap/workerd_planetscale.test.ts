import { afterAll, beforeAll, describe } from 'vitest';
import { type Unstable_DevWorker, unstable_dev } from 'wrangler';
import { defineBootstrapContract, seedDirectory } from '#test/support/bootstrap_contract.ts';
import { createDirectoryFixture, type DirectoryFixture } from '#test/support/directory_fixture.ts';
import { type PsHttpSim, startPsHttpSim } from '#test/support/ps_http_sim.ts';

/**
 * bootstrap/worker.ts in local workerd with the BOOTSTRAP_PLANETSCALE_URL var
 * instead of Hyperdrive: @planetscale/database over workerd's fetch to
 * ps-http-sim, which logs in to MariaDB as the read-only account.
 */
describe('bootstrap on workerd with @planetscale/database (ps-http-sim)', () => {
  let fx: DirectoryFixture;
  let sim: PsHttpSim;
  let worker: Unstable_DevWorker;

  beforeAll(async () => {
    fx = await createDirectoryFixture('boot_workerd_ps');
    await seedDirectory(fx);
    sim = await startPsHttpSim(fx.db.name);
    process.env.WRANGLER_SEND_METRICS = 'false';
    worker = await unstable_dev('bootstrap/worker.ts', {
      config: 'wrangler.toml',
      ip: '127.0.0.1',
      logLevel: 'warn',
      vars: { BOOTSTRAP_PLANETSCALE_URL: sim.urlFor(fx.account.user, fx.account.password) },
      experimental: { disableExperimentalWarning: true, disableDevRegistry: true },
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await sim?.stop();
    await fx?.cleanup();
  });

  defineBootstrapContract(() => ({ fx, baseUrl: `http://${worker.address}:${worker.port}` }));
});
