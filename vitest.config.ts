import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure, fast, parallel) and `integration` (real MariaDB, btcd,
 * runtimes, browser). Every integration suite creates its own database and its own
 * btcd node on free ports, so files may run in parallel, but this machine has 2 cores.
 * Before the integration suites, `test/support/global_setup.ts` provisions what they
 * need (btcd, ps-http-sim, Chromium) or stops with one sentence saying what is missing.
 */
export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: 'test-artifacts/vitest-results.json' },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
          // projects with different maxWorkers need distinct groups: unit runs first
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global_setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
