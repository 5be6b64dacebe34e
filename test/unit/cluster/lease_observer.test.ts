/**
 * The taker's side of the skew-immune lease (coordinator/cluster/lease_observer.ts),
 * on a fake monotonic clock: a row turns takeable only after TTL + margin of
 * being seen unchanged, counted from the read that first showed it; any
 * change of owner, epoch or renewal counter restarts the count; free rows
 * and our own rows are takeable at once.
 */
import { describe, expect, it } from 'vitest';
import { LeaseObserver, type ObservedLeaseRow } from '#coordinator/cluster/lease_observer.ts';

const row = (over: Partial<ObservedLeaseRow> = {}): ObservedLeaseRow => ({
  poolId: 'p',
  owner: 'other',
  epoch: 3,
  renewSeq: 10,
  ...over,
});

describe('LeaseObserver', () => {
  it('holds another owner until it has seen the same row for waitMs, then reports it silent', () => {
    const o = new LeaseObserver({ self: 'me', waitMs: 4000 });
    expect(o.observe([row()], 1000)[0]).toMatchObject({ state: 'held', unchangedForMs: 0, silentInMs: 4000 });
    expect(o.observe([row()], 4999)[0]).toMatchObject({ state: 'held', silentInMs: 1 });
    expect(o.observe([row()], 5000)[0]).toMatchObject({ state: 'silent', takeableForMs: 0 });
    expect(o.observe([row()], 6500)[0]).toMatchObject({ state: 'silent', takeableForMs: 1500 });
  });

  it('restarts the count at every renewal, new epoch or new owner', () => {
    const o = new LeaseObserver({ self: 'me', waitMs: 4000 });
    o.observe([row()], 0);
    expect(o.observe([row({ renewSeq: 11 })], 3900)[0]).toMatchObject({ state: 'held', unchangedForMs: 0 });
    expect(o.observe([row({ renewSeq: 11 })], 7800)[0]?.state).toBe('held');
    expect(o.observe([row({ renewSeq: 11 })], 7900)[0]?.state).toBe('silent');
    expect(o.observe([row({ renewSeq: 11, epoch: 4 })], 8000)[0]).toMatchObject({
      state: 'held',
      unchangedForMs: 0,
    });
    expect(o.observe([row({ renewSeq: 11, epoch: 4, owner: 'third' })], 13000)[0]?.state).toBe('held');
  });

  it('never looks at a timestamp: a row is judged only by local observation time', () => {
    // two observers with very different clocks agree on durations, not on instants
    const a = new LeaseObserver({ self: 'a', waitMs: 4000 });
    const b = new LeaseObserver({ self: 'b', waitMs: 4000 });
    a.observe([row()], 1_000_000);
    b.observe([row()], 5);
    expect(a.observe([row()], 1_003_999)[0]?.state).toBe('held');
    expect(b.observe([row()], 4_004)[0]?.state).toBe('held');
    expect(a.observe([row()], 1_004_000)[0]?.state).toBe('silent');
    expect(b.observe([row()], 4_005)[0]?.state).toBe('silent');
  });

  it('reports free rows and our own rows takeable at once, with how long they have been so', () => {
    const o = new LeaseObserver({ self: 'me', waitMs: 4000 });
    const v = o.observe([row({ poolId: 'f', owner: null }), row({ poolId: 'm', owner: 'me' })], 100);
    expect(v.map((x) => x.state)).toEqual(['free', 'own']);
    expect(o.observe([row({ poolId: 'f', owner: null })], 2100)[0]).toMatchObject({
      state: 'free',
      takeableForMs: 2000,
    });
  });

  it('forgets a pool that is no longer listed, so a re-created row is counted afresh', () => {
    const o = new LeaseObserver({ self: 'me', waitMs: 4000 });
    o.observe([row()], 0);
    o.observe([], 1000);
    expect(o.observe([row()], 4500)[0]).toMatchObject({ state: 'held', unchangedForMs: 0 });
  });

  it('refuses a non-positive wait', () => {
    expect(() => new LeaseObserver({ self: 'me', waitMs: 0 })).toThrow(/must be > 0/);
  });
});
