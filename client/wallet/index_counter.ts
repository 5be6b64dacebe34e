/**
 * Address index counter of one BIP84 chain, with the reservation rules of the
 * Java client's postmix receive chain (spec §4.10): an index handed out for a
 * mix attempt is *reserved*; it becomes *confirmed* (never handed out again)
 * as soon as the client posts registerOutput, even if the POST fails, and is
 * *released* (reusable) when the attempt is reset before REGISTER_OUTPUT.
 * The CLI uses only even postmix indices and Android only odd ones, so two
 * apps on one wallet never pick the same address (`parity`).
 *
 * @module
 */

/** Which indices a counter hands out. */
export type IndexParity = 'any' | 'even' | 'odd';

/** Serializable state of an {@link IndexCounter}. */
export interface IndexCounterState {
  /** Lowest index never confirmed (every index below it is used). */
  next: number;
}

/** Address index counter with reserve / confirm / release. */
export class IndexCounter {
  readonly parity: IndexParity;
  #next: number;
  readonly #reserved = new Set<number>();

  constructor(opts: { next?: number; parity?: IndexParity } = {}) {
    this.parity = opts.parity ?? 'any';
    this.#next = opts.next ?? 0;
    if (!Number.isSafeInteger(this.#next) || this.#next < 0) {
      throw new RangeError(`Invalid index counter start ${String(opts.next)}`);
    }
  }

  /** Lowest index not yet confirmed. */
  get next(): number {
    return this.#next;
  }

  /** Indices currently reserved by running attempts. */
  get reserved(): number[] {
    return [...this.#reserved].sort((a, b) => a - b);
  }

  /** Reserves and returns the lowest free index of the right parity. */
  reserve(): number {
    let i = this.#alignUp(this.#next);
    while (this.#reserved.has(i)) i = this.#alignUp(i + 1);
    this.#reserved.add(i);
    return i;
  }

  /** Marks `index` as used for good (registerOutput posted). */
  confirm(index: number): void {
    this.#reserved.delete(index);
    if (index + 1 > this.#next) this.#next = index + 1;
  }

  /** Gives `index` back (attempt reset before REGISTER_OUTPUT). A confirmed index stays used. */
  release(index: number): void {
    this.#reserved.delete(index);
  }

  /** Returns the next index and confirms it at once (Tx0 outputs, change). */
  take(): number {
    const i = this.reserve();
    this.confirm(i);
    return i;
  }

  /** State to persist. */
  toJSON(): IndexCounterState {
    return { next: this.#next };
  }

  #alignUp(i: number): number {
    if (this.parity === 'even' && i % 2 !== 0) return i + 1;
    if (this.parity === 'odd' && i % 2 === 0) return i + 1;
    return i;
  }
}
