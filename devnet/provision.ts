/**
 * Provisioning of the local cluster: what the demo and the integration tests
 * need from the machine, checked and, where the project can, fetched or
 * built on first use (one progress line per step that does work) and reused
 * afterwards:
 *
 * - `mariadb`: the MySQL server answers (cannot be provided: the message says how);
 * - `btcd`, `ps-http-sim`: built with Go into the tool cache (`go_tools.ts`);
 * - `chromium`: Debian's package via apt-get (`chromium.ts`).
 *
 * Also a command line, `node devnet/provision.ts [--db-url URL] [step…]`
 * (all steps by default), which prints a missing prerequisite as its one
 * sentence and exits with status 1.
 *
 * @module
 */
import { fileURLToPath } from 'node:url';
import { ensureChromium } from './chromium.ts';
import { BTCD_TOOL, ensureGoTool, PS_HTTP_SIM_TOOL } from './go_tools.ts';
import { checkMysqlServer } from './mariadb.ts';
import { isMissingPrerequisite } from './prerequisite.ts';

/** A provisioning step. */
export type ProvisionStep = 'mariadb' | 'btcd' | 'ps-http-sim' | 'chromium';

/** Every step, in the order they run. */
export const PROVISION_STEPS: readonly ProvisionStep[] = ['mariadb', 'btcd', 'ps-http-sim', 'chromium'];

/** Options of {@link provision}. */
export interface ProvisionOptions {
  /** Server URL for the `mariadb` step and the setting it comes from (for the message). */
  db?: { url: string; setting: string };
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/** Runs `steps` in order; throws the first MissingPrerequisiteError. */
export async function provision(steps: readonly ProvisionStep[], opts: ProvisionOptions = {}): Promise<void> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const step of steps) {
    if (step === 'mariadb') {
      const db = opts.db ?? {
        url: env.WHIRLPOOL_TEST_DB_URL ?? 'mysql://root@127.0.0.1:3306',
        setting: 'WHIRLPOOL_TEST_DB_URL',
      };
      await checkMysqlServer(db.url, db.setting);
    } else if (step === 'btcd') {
      await ensureGoTool(BTCD_TOOL, { env, log });
    } else if (step === 'ps-http-sim') {
      await ensureGoTool(PS_HTTP_SIM_TOOL, { env, log });
    } else {
      await ensureChromium({ env, log });
    }
  }
}

async function main(argv: string[]): Promise<void> {
  let db: ProvisionOptions['db'];
  const steps: ProvisionStep[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--db-url') {
      db = { url: argv[++i] ?? '', setting: '--db-url' };
    } else if ((PROVISION_STEPS as readonly string[]).includes(a)) {
      steps.push(a as ProvisionStep);
    } else {
      process.stderr.write(
        `Unknown argument '${a}': usage node devnet/provision.ts [--db-url URL] [${PROVISION_STEPS.join('|')}]…\n`,
      );
      process.exitCode = 2;
      return;
    }
  }
  try {
    await provision(steps.length ? steps : PROVISION_STEPS, { db });
  } catch (err) {
    if (!isMissingPrerequisite(err)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main(process.argv.slice(2));
