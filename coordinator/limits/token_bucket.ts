/**
 * Token buckets for rate limits: {@link TokenBucket} (one budget, e.g. the
 * whole instance) and {@link KeyedTokenBuckets} (one budget per key, e.g. per
 * source address or session, with a bound on the number of keys held). Pure:
 * the caller passes the time, so decisions are unit-tested without clocks.
 *
 * @module
 */

/** A bucket of `capacity` tokens refilled at `refillPerMs` tokens per ms. */
export class TokenBucket {
  readonly capacity: number;
  readonly refillPerMs: number;
  #tokens: number;
  #at: number;

  constructor(capacity: number, refillPerMs: number, now: number) {
    this.capacity = capacity;
    this.refillPerMs = refillPerMs;
    this.#tokens = capacity;
    this.#at = now;
  }

  #refill(now: number): void {
    if (now > this.#at) {
      this.#tokens = Math.min(this.capacity, this.#tokens + (now - this.#at) * this.refillPerMs);
      this.#at = now;
    }
  }

  /** Takes one token if there is one; false = over the rate. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whether the bucket is full at `now` (its key can be forgotten). */
  full(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.capacity;
  }
}

/** One {@link TokenBucket} per key, at most `maxKeys` of them. */
export class KeyedTokenBuckets {
  readonly #capacity: number;
  readonly #refillPerMs: number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(opts: { capacity: number; refillPerMs: number; maxKeys?: number }) {
    this.#capacity = opts.capacity;
    this.#refillPerMs = opts.refillPerMs;
    this.#maxKeys = opts.maxKeys ?? 100_000;
  }

  /** Takes a token of `key`'s bucket; false = over the rate (or too many keys held: refused too). */
  take(key: string, now: number): boolean {
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= this.#maxKeys) {
        this.prune(now);
        if (this.#buckets.size >= this.#maxKeys) return false;
      }
      b = new TokenBucket(this.#capacity, this.#refillPerMs, now);
      this.#buckets.set(key, b);
    }
    return b.take(now);
  }

  /** Forgets `key` (its session ended). */
  delete(key: string): void {
    this.#buckets.delete(key);
  }

  /** Drops the buckets that are full again (they hold no information); returns how many remain. */
  prune(now: number): number {
    for (const [k, b] of this.#buckets) if (b.full(now)) this.#buckets.delete(k);
    return this.#buckets.size;
  }

  /** Keys held. */
  get size(): number {
    return this.#buckets.size;
  }
}
