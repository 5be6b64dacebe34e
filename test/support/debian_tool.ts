/**
 * Debian tools that some tests run (promtool, tor, systemd-analyze): found on
 * PATH, or installed once with apt-get when the test runs as root, without
 * starting the services those packages ship. When neither works the error is
 * one sentence naming the package and the command that provides it.
 *
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';

/** Absolute path of `command`, or null when it is not on PATH. */
export function findOnPath(command: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : null;
}

/**
 * Returns the path of `command`, installing Debian package `pkg` first when it
 * is missing. Service start-up is blocked during the install (policy-rc.d), so
 * installing `tor` or `prometheus` starts no daemon.
 */
export function ensureDebianTool(command: string, pkg: string): string {
  const found = findOnPath(command);
  if (found) return found;
  const hint = `apt-get update && apt-get install -y --no-install-recommends ${pkg}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`${command} is missing and only root can install it: run \`sudo ${hint}\`.`);
  }
  const script = [
    'set -e',
    "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d",
    'trap "rm -f /usr/sbin/policy-rc.d" EXIT',
    'apt-get update -qq',
    `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${pkg}`,
  ].join('\n');
  try {
    execFileSync('sh', ['-c', script], { stdio: 'pipe', timeout: 300_000 });
  } catch {
    throw new Error(`${command} is missing and installing Debian package ${pkg} failed: run \`${hint}\`.`);
  }
  const installed = findOnPath(command);
  if (!installed) throw new Error(`Debian package ${pkg} installed no ${command}: run \`${hint}\`.`);
  return installed;
}
