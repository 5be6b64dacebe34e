import { afterAll, beforeAll, describe, expect } from 'vitest';
import { type Unstable_DevWorker, unstable_dev } from 'wrangler';
import { defineBootstrapContract, seedDirectory } from '#test/support/bootstrap_contract.ts';
import { createDirectoryFixture, type DirectoryFixture } from '#test/support/directory_fixture.ts';

/**
 * bootstrap/worker.ts in local workerd through wrangler's unstable_dev, with
 * the project's wrangler.toml; mysql2 (disableEval) reaches MariaDB through
 * the local Hyperdrive binding, whose connection string points at the
 * per-suite database and read-only account (Hyperdrive needs a password).
 */
describe('bootstrap on workerd (wrangler unstable_dev, Hyperdrive + mysql2)', () => {
  let fx: DirectoryFixture;
  let worker: Unstable_DevWorker;

  beforeAll(async () => {
    fx = await createDirectoryFixture('boot_workerd');
    expect(fx.account.password).not.toBe('');
    await seedDirectory(fx);
    process.env.WRANGLER_SEND_METRICS = 'false';
    process.env.CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE = fx.account.url;
    worker = await unstable_dev('bootstrap/worker.ts', {
      config: 'wrangler.toml',
      ip: '127.0.0.1',
      logLevel: 'warn',
      experimental: { disableExperimentalWarning: true, disableDevRegistry: true },
    });
  });
  afterAll(async () => {
    await worker?.stop();
    delete process.env.CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE;
    await fx?.cleanup();
  });

  defineBootstrapContract(() => ({ fx, baseUrl: `http://${worker.address}:${worker.port}` }));
});
