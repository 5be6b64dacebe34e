/**
 * Polling for integration tests: call a probe until it gives a value (not
 * `null`), sleeping between calls, and fail with `Timed out waiting for
 * <what>` once the deadline has passed.
 *
 * @module
 */

/** Options of {@link pollFor}. */
export interface PollOptions {
  /** Give up after this many ms (checked after each unsuccessful call). */
  timeoutMs: number;
  /** Sleep between calls, ms. */
  intervalMs: number;
  /**
   * Treat a throwing probe as "not yet" and attach its last error as the
   * timeout's `cause` (default false: the probe's error propagates).
   */
  retryErrors?: boolean;
}

/** Calls `fn` until it returns a non-null value, which it returns. */
export async function pollFor<T>(what: string, fn: () => Promise<T | null>, opts: PollOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown = null;
  for (;;) {
    if (opts.retryErrors) {
      try {
        const v = await fn();
        if (v !== null) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`, { cause: last });
    } else {
      const v = await fn();
      if (v !== null) return v;
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}
