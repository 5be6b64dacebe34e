/**
 * The coordinator's logger: pino writing JSON lines to stdout, with
 * redaction of every field that may carry a secret (wallet words,
 * passphrases, passwords, database URLs) so that no log line ever holds one,
 * even when a whole config object is logged by mistake.
 *
 * @module
 */
import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Log levels accepted by `WHIRLPOOL_LOG_LEVEL`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Field names that always hold a secret. Keep in sync with the secret-bearing config fields. */
const SECRET_KEYS = [
  'password',
  'passphrase',
  'words',
  'mnemonic',
  'secret',
  'dbUrl',
  'rpcUrl',
  'privateKey',
  'feeAddressSeed',
  'secretWalletNotificationPrivKey',
  'notificationPrivKey',
  'secretWalletWords',
  'secretWalletPassphrase',
  'authorization',
  'cookie',
];

/** Paths pino replaces with `[redacted]`: every secret key at the top level or one/two levels deep. */
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/**
 * Creates the root logger. `destination` defaults to stdout; tests pass a
 * writable stream to capture lines.
 */
export function createLogger(
  opts: { level?: LogLevel; name?: string; base?: Record<string, unknown> } = {},
  destination?: NodeJS.WritableStream,
): Logger {
  const options = {
    level: opts.level ?? 'info',
    name: opts.name ?? 'coordinator',
    base: { pid: process.pid, ...(opts.base ?? {}) },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

/** A logger that drops everything (tests, tools). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** URL redaction for logs lives with the database URL parsing (runtime-neutral); re-exported here. */
export { redactUrl } from '#shared/db/mysql_url.ts';
