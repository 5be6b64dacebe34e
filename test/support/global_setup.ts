/**
 * vitest globalSetup of the `integration` project: provisions what the
 * suites need before any of them starts (`#devnet/provision.ts`: MariaDB
 * answers, btcd and ps-http-sim built into the tool cache on first use,
 * Chromium installed with apt if missing). A missing prerequisite ends the
 * run at once with its one sentence on stderr — no stack trace, no suite
 * failing later with a confusing error.
 *
 * @module
 */

import { isMissingPrerequisite } from '#devnet/prerequisite.ts';
import { PROVISION_STEPS, provision } from '#devnet/provision.ts';

/** Runs once per `vitest` run that includes integration tests. */
export default async function setup(): Promise<void> {
  try {
    await provision(PROVISION_STEPS);
  } catch (err) {
    if (!isMissingPrerequisite(err)) throw err;
    process.stderr.write(`\n${err.message}\n\n`);
    process.exit(1);
  }
}
