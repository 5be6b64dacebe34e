import { describe, expect, it } from 'vitest';
import { shuffled } from '#coordinator/mix/notify_order.ts';

/** A deterministic [0, 1) sequence (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('REGISTER_OUTPUT notification order', () => {
  it('is a permutation of the confirmation order and leaves the input untouched', () => {
    const confirmed = ['a', 'b', 'c', 'd', 'e'];
    const out = shuffled(confirmed, seeded(1));
    expect([...out].sort()).toEqual(confirmed);
    expect(confirmed).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('is not always the confirmation order: every permutation of 3 appears, roughly uniformly', () => {
    const random = seeded(42);
    const counts = new Map<string, number>();
    for (let i = 0; i < 6000; i++) {
      const key = shuffled(['a', 'b', 'c'], random).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const n of counts.values()) expect(n).toBeGreaterThan(800); // 1000 expected each
  });

  it('is deterministic for an injected source (random ≡ 0 → rotate: [b, c, a])', () => {
    expect(shuffled(['a', 'b', 'c'], () => 0)).toEqual(['b', 'c', 'a']);
    expect(shuffled([], () => 0)).toEqual([]);
    // a source returning 1 (out of contract) still yields a permutation
    expect([...shuffled(['a', 'b', 'c'], () => 1)].sort()).toEqual(['a', 'b', 'c']);
  });
});
