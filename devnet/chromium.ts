/**
 * Chromium for the browser tests (driven by playwright-core): `$CHROMIUM_BIN`,
 * else `chromium` on PATH (Debian's package installs `/usr/bin/chromium`); when none exists it is
 * installed on first use with Debian's apt (`apt-get install chromium`),
 * which needs root.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { toolsDir } from './go_tools.ts';
import { findOnPath, isExecutable, MissingPrerequisiteError } from './prerequisite.ts';

/** The Chromium binary if one is there, else null. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.CHROMIUM_BIN) return isExecutable(env.CHROMIUM_BIN) ? env.CHROMIUM_BIN : null;
  return findOnPath('chromium', env.PATH ?? '');
}

async function apt(args: string[], env: NodeJS.ProcessEnv, logPath: string): Promise<number | null> {
  const log = await open(logPath, 'a');
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn('apt-get', args, {
        env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
        stdio: ['ignore', log.fd, log.fd],
      });
      child.once('error', reject);
      child.once('close', resolve);
    });
  } finally {
    await log.close();
  }
}

/**
 * Path of a Chromium binary, installing Debian's `chromium` package first
 * when there is none (see the module doc). Throws a
 * {@link MissingPrerequisiteError} when it is missing and cannot be installed.
 */
export async function ensureChromium(
  opts: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<string> {
  const env = opts.env ?? process.env;
  if (env.CHROMIUM_BIN && !isExecutable(env.CHROMIUM_BIN)) {
    throw new MissingPrerequisiteError(
      `CHROMIUM_BIN is set to '${env.CHROMIUM_BIN}', which is not an executable file: unset it to use or install Debian's chromium, or point it at a Chromium binary.`,
    );
  }
  const found = findChromium(env);
  if (found) return found;
  const root = process.getuid?.() === 0;
  if (!root || !findOnPath('apt-get', env.PATH ?? '')) {
    throw new MissingPrerequisiteError(
      `The browser tests need Chromium, which is not installed${root ? ' and apt-get is not available' : ', and installing it needs root'}: run 'sudo apt-get install -y chromium' (or set CHROMIUM_BIN to a Chromium binary).`,
    );
  }
  const dir = toolsDir(env);
  await mkdir(dir, { recursive: true });
  const logPath = join(dir, 'apt-chromium.log');
  opts.log?.(`[devnet] installing chromium with apt-get (first run only; log ${logPath})`);
  const updated = await apt(['update', '-qq'], env, logPath);
  const installed = updated === 0 ? await apt(['install', '-y', '-qq', 'chromium'], env, logPath) : updated;
  const path = findChromium(env);
  if (installed !== 0 || !path) {
    throw new MissingPrerequisiteError(
      `Installing chromium with apt-get failed (exit ${installed}, log ${logPath}): run 'apt-get update && apt-get install -y chromium' by hand to see why, or set CHROMIUM_BIN to a Chromium binary.`,
    );
  }
  return path;
}
