/**
 * Database faults during a started mix (issue 17): no participant is blamed
 * for the database. A write the mix waits on under the pool's lock
 * (`saveOutput` at REGISTER_OUTPUT) gets a deadline so a stalled connection
 * cannot hold the lock past the phase timers (which would then blame clients
 * whose requests were only queued behind it); a write that fails or misses
 * its deadline ends the mix at once, without blame.
 *
 * @module
 */

/** Thrown by {@link withDeadline} when the operation did not settle in time. */
export class DeadlineExceededError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'DeadlineExceededError';
  }
}

/** `promise`, or a {@link DeadlineExceededError} after `ms` (the operation itself keeps running). */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(what, ms)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Deadline of one `saveOutput` (ms): a quarter of the REGISTER_OUTPUT timeout,
 * between 1 s and 10 s (a healthy insert takes milliseconds).
 */
export function saveOutputDeadlineMs(registerOutputTimeoutMs: number): number {
  return Math.max(1000, Math.min(10_000, Math.floor(registerOutputTimeoutMs / 4)));
}

/** True when a store error is the participant's doing (the address was already used), not a database fault. */
export function isParticipantError(err: unknown): boolean {
  return err instanceof Error && err.name === 'OutputAlreadyUsedError';
}
