/**
 * The random delay a client waits between the REGISTER_OUTPUT notification
 * and its `POST /rest/registerOutput` (issue 12): uniform in
 * `[0, maxMs]`, from the platform CSPRNG, so the order and timing of the
 * outputs reaching the coordinator do not follow the notification (or the
 * confirmation order) and do not line up with the input's connection.
 *
 * @module
 */

/** A uniform 32-bit random value in [0, 1) from `crypto.getRandomValues`. */
export function secureRandom(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32;
}

/**
 * Delay in whole ms, uniform over `0..maxMs` (both ends included); 0 when
 * `maxMs` is 0 or less. `random` gives values in [0, 1) (default {@link secureRandom}).
 */
export function registerOutputDelayMs(maxMs: number, random: () => number = secureRandom): number {
  if (!(maxMs > 0)) return 0;
  return Math.min(maxMs, Math.floor(random() * (Math.floor(maxMs) + 1)));
}
