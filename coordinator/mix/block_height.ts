/**
 * The `blockHeight` spread check of REGISTER_INPUT (addendum §6.1): G5+
 * clients send the chain tip height their wallet backend knows; the
 * coordinator compares it with its own cached tip (`getblockcount`, refreshed
 * at most every `refreshMs`, unset after an RPC error) and refuses a height
 * more than `maxSpread` blocks away with `invalid blockHeight` (602). Absent
 * or 0 is not checked; no cached height accepts. {@link isBlockHeightAccepted}
 * is the pure rule, {@link BlockHeightCache} the I/O around it.
 *
 * @module
 */

/** The rule: true when `clientHeight` may register (0 = not sent; unknown tip = accept). */
export function isBlockHeightAccepted(
  clientHeight: number | undefined,
  tipHeight: number | null,
  maxSpread: number,
): boolean {
  if (clientHeight === undefined || clientHeight <= 0) return true;
  if (tipHeight === null) return true;
  return Math.abs(clientHeight - tipHeight) <= maxSpread;
}

/** The coordinator's cached tip height. */
export class BlockHeightCache {
  readonly #getBlockCount: () => Promise<number>;
  readonly #refreshMs: number;
  readonly #now: () => number;
  #height: number | null = null;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | null = null;

  constructor(getBlockCount: () => Promise<number>, opts: { refreshMs?: number; now?: () => number } = {}) {
    this.#getBlockCount = getBlockCount;
    this.#refreshMs = opts.refreshMs ?? 120_000;
    this.#now = opts.now ?? Date.now;
  }

  /** The tip height, refreshed first when older than `refreshMs` (concurrent callers share one RPC); null after an error. */
  async height(): Promise<number | null> {
    if (this.#now() - this.#fetchedAt >= this.#refreshMs) {
      this.#pending ??= this.#getBlockCount()
        .then(
          (h) => {
            this.#height = h;
          },
          () => {
            this.#height = null;
          },
        )
        .finally(() => {
          this.#fetchedAt = this.#now();
          this.#pending = null;
        });
      await this.#pending;
    }
    return this.#height;
  }
}
