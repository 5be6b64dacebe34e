/**
 * The error thrown when the coordinator's configuration (environment or
 * pools file) is invalid: one message listing every problem, one per line,
 * naming the variable or file path, never echoing a secret value.
 *
 * @module
 */

/** Invalid configuration; `problems` holds one line per bad variable or field. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`,
      options,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
