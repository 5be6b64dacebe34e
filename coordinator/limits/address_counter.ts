/**
 * Counts open resources (connections, sessions) in total and per source
 * address ({@link addressKey}), and decides whether one more may open: at
 * most `max` in total and `maxPerAddress` per address, the addresses in
 * `exempt` (e.g. Tor's 127.0.0.1 for an onion service, where every client
 * shares one address) counting only toward the total.
 *
 * @module
 */
import { addressKey } from './address_key.ts';

/** Why {@link AddressCounter.open} refused. */
export type OpenRefusal = 'total' | 'address';

/** See module doc. */
export class AddressCounter {
  readonly #max: number;
  readonly #maxPerAddress: number;
  readonly #exempt: ReadonlySet<string>;
  readonly #perAddress = new Map<string, number>();
  #total = 0;

  constructor(opts: { max: number; maxPerAddress: number; exempt?: readonly string[] }) {
    this.#max = opts.max;
    this.#maxPerAddress = opts.maxPerAddress;
    this.#exempt = new Set((opts.exempt ?? []).map(addressKey));
  }

  /** Counts one more for `ip`; returns a release function, or the refusal (nothing counted). */
  open(ip: string): (() => void) | OpenRefusal {
    if (this.#total >= this.#max) return 'total';
    const key = addressKey(ip);
    const exempt = this.#exempt.has(key);
    const n = this.#perAddress.get(key) ?? 0;
    if (!exempt && n >= this.#maxPerAddress) return 'address';
    this.#total++;
    if (!exempt) this.#perAddress.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      if (exempt) return;
      const left = (this.#perAddress.get(key) ?? 1) - 1;
      if (left <= 0) this.#perAddress.delete(key);
      else this.#perAddress.set(key, left);
    };
  }

  /** Open in total. */
  get total(): number {
    return this.#total;
  }

  /** Open for the address of `ip`. */
  of(ip: string): number {
    return this.#perAddress.get(addressKey(ip)) ?? 0;
  }
}
