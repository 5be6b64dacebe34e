/**
 * Pool assignment: a pure function from one view of the cluster (live
 * instances, configured pools, current lease holders) to the instance that
 * should serve each pool. Every instance computes the same map from the same
 * view, and takes its own share of it.
 *
 * Rules:
 * - fair share: with P pools and N instances every instance gets
 *   floor(P/N) or ceil(P/N) pools; a lone instance gets every pool; with
 *   N > P the extra instances get none (they stay idle as stand-bys);
 * - stickiness: current holders keep their pools up to their share, so a
 *   balanced cluster never moves a pool; the instances that get the extra
 *   ceil(P/N) slots are those holding the most (ties by rendezvous hash);
 * - the rest is placed by rendezvous (highest-random-weight) hashing, so the
 *   result does not depend on the order of the inputs.
 *
 * Hysteresis (giving a pool up only after N polls over share, at a mix
 * boundary) is the cluster node's job; see {@link OverShareTracker}.
 *
 * @module
 */

/** One view of the cluster, as read from the database in one poll. */
export interface AssignmentView {
  /** Ids of the instances that may serve pools (live, not draining). */
  instances: readonly string[];
  /** Configured pool ids. */
  pools: readonly string[];
  /** Current valid lease holder per pool (pools absent or mapped to a non-listed instance count as free). */
  holders: ReadonlyMap<string, string>;
}

/** 32-bit FNV-1a of a string, finished with a murmur3 mix for avalanche. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Rendezvous weight of (pool, instance); ties broken by instance id in {@link byWeight}. */
function weight(poolId: string, instanceId: string): number {
  return hash32(`${poolId}\u0000${instanceId}`);
}

function byWeight(poolId: string): (a: string, b: string) => number {
  return (a, b) => weight(poolId, b) - weight(poolId, a) || (a < b ? -1 : a > b ? 1 : 0);
}

function sortedUnique(xs: readonly string[]): string[] {
  return [...new Set(xs)].sort();
}

/** floor / ceil share of `pools` over `instances`, and how many instances get the ceil. */
export function fairShare(pools: number, instances: number): { floor: number; ceil: number; nCeil: number } {
  if (instances <= 0) return { floor: 0, ceil: 0, nCeil: 0 };
  const floor = Math.floor(pools / instances);
  const nCeil = pools % instances;
  return { floor, ceil: nCeil > 0 ? floor + 1 : floor, nCeil };
}

/** The full assignment pool → instance for one view (empty when no instance). */
export function assignPools(view: AssignmentView): Map<string, string> {
  const instances = sortedUnique(view.instances);
  const pools = sortedUnique(view.pools);
  const out = new Map<string, string>();
  if (instances.length === 0) return out;
  const live = new Set(instances);
  const { floor, nCeil } = fairShare(pools.length, instances.length);

  const heldBy = new Map<string, string[]>(instances.map((i) => [i, []]));
  for (const p of pools) {
    const h = view.holders.get(p);
    if (h !== undefined && live.has(h)) heldBy.get(h)!.push(p);
  }
  // The nCeil instances holding the most get the larger share (ties: hash, then id).
  const order = [...instances].sort(
    (a, b) =>
      heldBy.get(b)!.length - heldBy.get(a)!.length ||
      hash32(`ceil\u0000${b}`) - hash32(`ceil\u0000${a}`) ||
      (a < b ? -1 : 1),
  );
  const capacity = new Map<string, number>(order.map((i, idx) => [i, floor + (idx < nCeil ? 1 : 0)]));

  // Keep: holders keep their pools up to capacity (the ones they weigh highest).
  for (const i of instances) {
    const mine = heldBy.get(i)!.sort((a, b) => weight(b, i) - weight(a, i) || (a < b ? -1 : 1));
    const cap = capacity.get(i)!;
    for (const p of mine.slice(0, cap)) out.set(p, i);
    capacity.set(i, cap - Math.min(cap, mine.length));
  }
  // Fill: every other pool goes to the highest-weight instance with room left.
  for (const p of pools) {
    if (out.has(p)) continue;
    const candidates = instances.filter((i) => capacity.get(i)! > 0).sort(byWeight(p));
    const chosen = candidates[0];
    if (chosen === undefined) throw new Error(`Assignment ran out of capacity placing pool '${p}' (bug)`);
    out.set(p, chosen);
    capacity.set(chosen, capacity.get(chosen)! - 1);
  }
  return out;
}

/** The pools `self` should serve in this view (empty when `self` is not among the instances). */
export function targetPools(self: string, view: AssignmentView): Set<string> {
  const out = new Set<string>();
  for (const [p, i] of assignPools(view)) if (i === self) out.add(p);
  return out;
}

/**
 * Hysteresis for giving pools up: counts, per pool this instance holds, the
 * consecutive polls in which the pool was NOT in its target set. A pool
 * becomes "due" for release after `polls` such polls in a row; one poll back
 * in the target resets it.
 */
export class OverShareTracker {
  readonly #polls: number;
  readonly #counts = new Map<string, number>();

  constructor(polls: number) {
    if (!(Number.isInteger(polls) && polls >= 1))
      throw new Error(`Rebalance polls must be an integer >= 1, got ${polls}`);
    this.#polls = polls;
  }

  /** Records one poll; returns the held pools now due to be given up (sorted). */
  observe(held: ReadonlySet<string>, target: ReadonlySet<string>): string[] {
    for (const p of [...this.#counts.keys()]) if (!held.has(p) || target.has(p)) this.#counts.delete(p);
    const due: string[] = [];
    for (const p of held) {
      if (target.has(p)) continue;
      const n = (this.#counts.get(p) ?? 0) + 1;
      this.#counts.set(p, n);
      if (n >= this.#polls) due.push(p);
    }
    return due.sort();
  }

  /** Forgets a pool (given up or lost). */
  forget(poolId: string): void {
    this.#counts.delete(poolId);
  }
}
