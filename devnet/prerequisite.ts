/**
 * What the local cluster needs from the machine (Go to build btcd, MariaDB,
 * Chromium): the error raised when one is missing, whose message is one
 * sentence naming what is missing and the command that provides it, and the
 * PATH lookup used to find commands.
 *
 * @module
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * A prerequisite the project's scripts cannot provide by themselves. Its
 * message is complete on its own: entry points print it alone (no stack)
 * and exit.
 */
export class MissingPrerequisiteError extends Error {
  override readonly name = 'MissingPrerequisiteError';
}

/** True for a {@link MissingPrerequisiteError}, also one thrown by another copy of this module. */
export function isMissingPrerequisite(err: unknown): err is MissingPrerequisiteError {
  return err instanceof Error && err.name === 'MissingPrerequisiteError';
}

/** True when `path` is an executable file. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `command` on `pathVar` (default `$PATH`), or null. */
export function findOnPath(command: string, pathVar: string = process.env.PATH ?? ''): string | null {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}
