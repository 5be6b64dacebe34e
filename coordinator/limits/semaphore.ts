/**
 * A counting semaphore with a bounded wait queue: at most `permits` holders
 * at once and at most `maxWaiting` callers waiting; a caller beyond that is
 * refused at once (null) instead of queuing without bound. Used to cap the
 * RPC/database work of registerInput and the scrypt work of dashboard logins.
 *
 * @module
 */

/** Gives back a permit; calling it twice is harmless. */
export type Release = () => void;

/** See module doc. */
export class Semaphore {
  readonly #permits: number;
  readonly #maxWaiting: number;
  #held = 0;
  readonly #waiting: Array<(release: Release) => void> = [];

  constructor(permits: number, maxWaiting: number) {
    this.#permits = permits;
    this.#maxWaiting = maxWaiting;
  }

  #release(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiting.shift();
      if (next) next(this.#release());
      else this.#held--;
    };
  }

  /** A permit (now or when one is released), or null when the wait queue is full. */
  acquire(): Promise<Release> | null {
    if (this.#held < this.#permits) {
      this.#held++;
      return Promise.resolve(this.#release());
    }
    if (this.#waiting.length >= this.#maxWaiting) return null;
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Permits held. */
  get held(): number {
    return this.#held;
  }

  /** Callers waiting. */
  get waiting(): number {
    return this.#waiting.length;
  }
}
