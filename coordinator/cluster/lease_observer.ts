/**
 * The taker's side of the skew-immune lease (notes-galera §4 option b): a
 * pure record of how long each `pool_lease` row has stayed exactly the same
 * `(owner, epoch, renew_seq)` on THIS process's monotonic clock. No database
 * timestamp is ever compared with another clock, so the decision holds with
 * one clock per Galera node, and through a clock step of a single server.
 *
 * Every renewal, acquisition and release bumps `renew_seq`, so a row that
 * stays the same is a lease nobody renews. A row held by another instance
 * becomes **takeable** once this process has seen it unchanged for
 * `waitMs` = TTL + margin, counted from the moment the read that first
 * showed it came BACK (the renewal that wrote it was sent before that). The
 * owner stopped trusting that renewal at most TTL − margin after sending it
 * (its monotonic step-down, lease_keeper.ts), so the taker's acquisition —
 * a conditional write on the very `(owner, epoch, renew_seq)` it watched —
 * comes at least 2 × margin after the owner stopped serving, and fails if the
 * owner renewed meanwhile.
 *
 * A free row (owner NULL: released) is takeable at once; a row naming this
 * instance too (it stepped down on its own and the release did not land).
 *
 * @module
 */

/** One `pool_lease` row as read: the identity of the lease. */
export interface ObservedLeaseRow {
  poolId: string;
  owner: string | null;
  epoch: number;
  /** `renew_seq`: +1 on every acquisition, renewal and release. */
  renewSeq: number;
}

/** What the observer concludes about one row. */
export interface LeaseView extends ObservedLeaseRow {
  /**
   * `free`: no owner; `held`: another owner renewed it within `waitMs`;
   * `silent`: another owner's row unchanged for `waitMs` or more (takeable);
   * `own`: the row names this instance.
   */
  state: 'free' | 'held' | 'silent' | 'own';
  /** How long this row has been unchanged, on the local monotonic clock. */
  unchangedForMs: number;
  /** For `free` and `silent`: how long it has been takeable; 0 otherwise. */
  takeableForMs: number;
  /** For `held`: how long until it turns `silent` if nobody renews it; 0 otherwise. */
  silentInMs: number;
}

interface Seen {
  owner: string | null;
  epoch: number;
  renewSeq: number;
  since: number;
}

/** Remembers the rows of the lease table between polls (see module doc). */
export class LeaseObserver {
  readonly #self: string;
  readonly #waitMs: number;
  readonly #seen = new Map<string, Seen>();

  /** `waitMs` is TTL + margin; `self` is this instance's id. */
  constructor(opts: { self: string; waitMs: number }) {
    if (!(opts.waitMs > 0)) throw new Error(`Lease observation wait must be > 0 ms, got ${opts.waitMs}`);
    this.#self = opts.self;
    this.#waitMs = opts.waitMs;
  }

  /**
   * Records `rows` as read by a query whose answer arrived at monotonic time
   * `receivedAt`, and returns the view of each row. A row that differs from
   * the last one seen (or is new) starts its count at `receivedAt`.
   */
  observe(rows: readonly ObservedLeaseRow[], receivedAt: number): LeaseView[] {
    const present = new Set<string>();
    const out: LeaseView[] = [];
    for (const r of rows) {
      present.add(r.poolId);
      let s = this.#seen.get(r.poolId);
      if (!s || s.owner !== r.owner || s.epoch !== r.epoch || s.renewSeq !== r.renewSeq) {
        s = { owner: r.owner, epoch: r.epoch, renewSeq: r.renewSeq, since: receivedAt };
        this.#seen.set(r.poolId, s);
      }
      out.push(this.#view(r, s, receivedAt));
    }
    for (const p of [...this.#seen.keys()]) if (!present.has(p)) this.#seen.delete(p);
    return out;
  }

  #view(r: ObservedLeaseRow, s: Seen, now: number): LeaseView {
    const unchangedForMs = Math.max(0, now - s.since);
    const base = { ...r, unchangedForMs, takeableForMs: 0, silentInMs: 0 };
    if (r.owner === null) return { ...base, state: 'free', takeableForMs: unchangedForMs };
    if (r.owner === this.#self) return { ...base, state: 'own' };
    if (unchangedForMs >= this.#waitMs)
      return { ...base, state: 'silent', takeableForMs: unchangedForMs - this.#waitMs };
    return { ...base, state: 'held', silentInMs: this.#waitMs - unchangedForMs };
  }
}
