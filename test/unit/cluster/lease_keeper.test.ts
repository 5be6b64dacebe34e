/**
 * The lease keeper's step-down rules with a fake lease store and a fake
 * monotonic clock: refused renewal → immediate step-down; a late renewal
 * answer (paused process) or no renewal for TTL − margin → step-down before
 * the TTL; DB errors extend nothing but do not drop the lease by themselves.
 */
import { describe, expect, it } from 'vitest';
import { LeaseKeeper, type LeaseLoss } from '#coordinator/cluster/lease_keeper.ts';
import { silentLogger } from '#coordinator/log.ts';
import type { LeaseFence } from '#coordinator/mix/types.ts';

type RenewAnswer = boolean | Error;

function setup() {
  let now = 1000;
  let epoch = 0;
  const renewAnswers: Array<() => Promise<RenewAnswer>> = [];
  const released: LeaseFence[] = [];
  const lost: LeaseLoss[] = [];
  const store = {
    async acquire(poolId: string, instanceId: string) {
      epoch++;
      return { poolId, instanceId, epoch };
    },
    async renew() {
      const next = renewAnswers.shift();
      const a = next ? await next() : true;
      if (a instanceof Error) throw a;
      return a;
    },
    async release(f: LeaseFence) {
      released.push(f);
      return true;
    },
  };
  const keeper = new LeaseKeeper({
    store,
    instanceId: 'i1',
    ttlMs: 4000,
    renewIntervalMs: 1000,
    safetyMarginMs: 1000,
    monotonicNow: () => now,
    onLost: (l) => lost.push(l),
    logger: silentLogger(),
  });
  return {
    keeper,
    lost,
    released,
    renewAnswers,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('LeaseKeeper', () => {
  it('holds an acquired lease and keeps it across successful renewals', async () => {
    const s = setup();
    const f = await s.keeper.acquire('p1');
    expect(f).toEqual({ poolId: 'p1', instanceId: 'i1', epoch: 1 });
    for (let i = 0; i < 10; i++) {
      s.advance(1000);
      await s.keeper.renewAll();
    }
    expect(s.keeper.held()).toEqual([f]);
    expect(s.lost).toEqual([]);
  });

  it('steps down at once when a renewal is refused (affectedRows = 0)', async () => {
    const s = setup();
    await s.keeper.acquire('p1');
    s.renewAnswers.push(async () => false);
    s.advance(1000);
    await s.keeper.renewAll();
    expect(s.keeper.held()).toEqual([]);
    expect(s.lost.map((l) => l.reason)).toEqual(['renewal-refused']);
  });

  it('keeps the lease through DB errors until TTL - margin, then steps down on the watchdog', async () => {
    const s = setup();
    await s.keeper.acquire('p1');
    s.renewAnswers.push(
      async () => new Error('ECONNREFUSED'),
      async () => new Error('ECONNREFUSED'),
    );
    s.advance(1000);
    await s.keeper.renewAll();
    s.advance(1000);
    await s.keeper.renewAll();
    expect(s.keeper.held().length).toBe(1);
    s.advance(999);
    s.keeper.checkDeadlines();
    expect(s.keeper.held().length).toBe(1);
    s.advance(1);
    s.keeper.checkDeadlines();
    expect(s.lost.map((l) => l.reason)).toEqual(['local-expiry']);
    expect(s.lost[0]!.deadlineMono).toBe(1000 + 3000);
  });

  it('does not trust a successful renewal whose answer arrives after the deadline (paused process)', async () => {
    const s = setup();
    await s.keeper.acquire('p1');
    s.advance(1000);
    s.renewAnswers.push(async () => {
      s.advance(5000); // SIGSTOP while the renewal was in flight
      return true;
    });
    await s.keeper.renewAll();
    expect(s.keeper.held()).toEqual([]);
    expect(s.lost.map((l) => l.reason)).toEqual(['local-expiry']);
  });

  it('counts the trust window from when the renewal was sent, not when it was answered', async () => {
    const s = setup();
    await s.keeper.acquire('p1'); // deadline 4000
    s.advance(1000); // t = 2000
    s.renewAnswers.push(async () => {
      s.advance(1500); // answered at 3500
      return true;
    });
    await s.keeper.renewAll(); // new deadline 2000 + 3000 = 5000
    s.advance(1499); // 4999
    s.keeper.checkDeadlines();
    expect(s.keeper.held().length).toBe(1);
    s.advance(1);
    s.keeper.checkDeadlines();
    expect(s.keeper.held()).toEqual([]);
  });

  it('release forgets the lease first, frees the row, and does not report a loss', async () => {
    const s = setup();
    const f = await s.keeper.acquire('p1');
    expect(await s.keeper.release('p1')).toBe(true);
    expect(s.released).toEqual([f]);
    expect(s.keeper.held()).toEqual([]);
    expect(s.lost).toEqual([]);
  });

  it('markLost steps down only for the matching epoch', async () => {
    const s = setup();
    await s.keeper.acquire('p1');
    s.keeper.markLost('p1', 99);
    expect(s.keeper.held().length).toBe(1);
    s.keeper.markLost('p1', 1);
    expect(s.lost.map((l) => l.reason)).toEqual(['lost']);
  });

  it('refuses timings that cannot keep the invariant', () => {
    const base = {
      store: { acquire: async () => null, renew: async () => false, release: async () => false },
      instanceId: 'x',
      onLost: () => undefined,
      logger: silentLogger(),
    };
    expect(
      () => new LeaseKeeper({ ...base, ttlMs: 4000, renewIntervalMs: 1000, safetyMarginMs: 4000 }),
    ).toThrow(/safety margin/);
    expect(
      () => new LeaseKeeper({ ...base, ttlMs: 4000, renewIntervalMs: 3000, safetyMarginMs: 1000 }),
    ).toThrow(/renew interval/);
  });
});
