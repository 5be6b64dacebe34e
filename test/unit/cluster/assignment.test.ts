/**
 * Pure properties of the pool assignment: one owner per pool, every pool
 * placed when at least one instance is live, fair share, independence from
 * input order, stickiness, and the over-share hysteresis counter.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignPools, fairShare, OverShareTracker, targetPools } from '#coordinator/cluster/assignment.ts';

const id = fc.stringMatching(/^[a-z0-9._-]{1,12}$/);
const ids = (min: number, max: number) => fc.uniqueArray(id, { minLength: min, maxLength: max });

/** A view: instances, pools and an arbitrary (possibly stale or partial) holder map. */
const viewArb = fc
  .record({ instances: ids(0, 7), pools: ids(0, 12), strangers: ids(0, 2) })
  .chain(({ instances, pools, strangers }) =>
    fc
      .array(fc.option(fc.constantFrom(...instances, ...strangers, 'zz-dead'), { nil: undefined }), {
        minLength: pools.length,
        maxLength: pools.length,
      })
      .map((owners) => {
        const holders = new Map<string, string>();
        pools.forEach((p, i) => {
          const o = owners[i];
          if (o !== undefined) holders.set(p, o);
        });
        return { instances, pools, holders };
      }),
  );

describe('assignPools', () => {
  it('never gives a pool to two instances: the target sets computed from one view are disjoint', () => {
    fc.assert(
      fc.property(viewArb, (view) => {
        const seen = new Map<string, string>();
        for (const self of view.instances) {
          for (const p of targetPools(self, view)) {
            expect(seen.get(p), `pool ${p}`).toBeUndefined();
            seen.set(p, self);
          }
        }
      }),
    );
  });

  it('places every pool on a listed instance when at least one instance is live', () => {
    fc.assert(
      fc.property(viewArb, (view) => {
        const map = assignPools(view);
        if (view.instances.length === 0) {
          expect(map.size).toBe(0);
          return;
        }
        expect([...map.keys()].sort()).toEqual([...view.pools].sort());
        for (const i of map.values()) expect(view.instances).toContain(i);
      }),
    );
  });

  it('gives each instance floor or ceil of pools / instances, and exactly nCeil of them the ceil', () => {
    fc.assert(
      fc.property(viewArb, (view) => {
        fc.pre(view.instances.length > 0);
        const { floor, ceil, nCeil } = fairShare(view.pools.length, view.instances.length);
        const counts = view.instances.map((i) => targetPools(i, view).size);
        for (const c of counts) expect(c === floor || c === ceil).toBe(true);
        if (ceil > floor) expect(counts.filter((c) => c === ceil).length).toBe(nCeil);
      }),
    );
  });

  it('does not depend on the order of instances, pools or holders', () => {
    fc.assert(
      fc.property(viewArb, fc.integer(), (view, seed) => {
        const shuffle = <T>(xs: readonly T[]): T[] =>
          xs
            .map((x, i) => ({ x, k: (Math.imul(i + 1, 2654435761) ^ seed) >>> 0 }))
            .sort((a, b) => a.k - b.k)
            .map((e) => e.x);
        const other = {
          instances: shuffle(view.instances),
          pools: shuffle(view.pools),
          holders: new Map(shuffle([...view.holders])),
        };
        expect([...assignPools(other)].sort()).toEqual([...assignPools(view)].sort());
      }),
    );
  });

  it('keeps a balanced allocation as it is (no pool moves)', () => {
    fc.assert(
      fc.property(viewArb, (view) => {
        fc.pre(view.instances.length > 0);
        const first = assignPools(view);
        const again = assignPools({ ...view, holders: first });
        expect([...again].sort()).toEqual([...first].sort());
      }),
    );
  });

  it('lets a lone instance take every pool', () => {
    fc.assert(
      fc.property(id, ids(0, 12), (self, pools) => {
        expect([...targetPools(self, { instances: [self], pools, holders: new Map() })].sort()).toEqual(
          [...pools].sort(),
        );
      }),
    );
  });

  it('leaves the extra instances idle when there are more instances than pools, and moves only the orphan', () => {
    const pools = ['p1', 'p2', 'p3', 'p4'];
    const instances = ['a', 'b', 'c', 'd', 'e'];
    const holders = new Map([
      ['p1', 'a'],
      ['p2', 'b'],
      ['p3', 'c'],
      ['p4', 'd'],
    ]);
    expect(targetPools('e', { instances, pools, holders }).size).toBe(0);
    expect([...assignPools({ instances, pools, holders })].sort()).toEqual([...holders].sort());
    // d dies: its pool goes to the stand-by e, nothing else moves.
    holders.delete('p4');
    const after = assignPools({ instances: ['a', 'b', 'c', 'e'], pools, holders });
    expect(after.get('p4')).toBe('e');
    expect(after.get('p1')).toBe('a');
    expect(after.get('p2')).toBe('b');
    expect(after.get('p3')).toBe('c');
  });

  it('asks an instance holding everything to give up exactly the excess when another joins', () => {
    const pools = ['p1', 'p2', 'p3', 'p4', 'p5'];
    const holders = new Map(pools.map((p) => [p, 'a']));
    const a = targetPools('a', { instances: ['a', 'b'], pools, holders });
    const b = targetPools('b', { instances: ['a', 'b'], pools, holders });
    expect(a.size).toBe(3);
    expect(b.size).toBe(2);
  });
});

describe('OverShareTracker', () => {
  it('reports a pool only after N consecutive polls outside the target, and resets when it comes back', () => {
    const t = new OverShareTracker(3);
    const held = new Set(['p1', 'p2']);
    expect(t.observe(held, new Set(['p1']))).toEqual([]);
    expect(t.observe(held, new Set(['p1']))).toEqual([]);
    expect(t.observe(held, new Set(['p1', 'p2']))).toEqual([]); // back in target: reset
    expect(t.observe(held, new Set(['p1']))).toEqual([]);
    expect(t.observe(held, new Set(['p1']))).toEqual([]);
    expect(t.observe(held, new Set(['p1']))).toEqual(['p2']);
  });

  it('rejects a non-positive poll count', () => {
    expect(() => new OverShareTracker(0)).toThrow(/Rebalance polls/);
  });
});
