import { describe, expect, it } from 'vitest';
import type { MixSession } from '#coordinator/mix/mix_session.ts';
import {
  InputAlreadyRegisteredError,
  InputPool,
  outpointKey,
  type RegisteredInput,
} from '#coordinator/mix/registered_input.ts';

const session: MixSession = { id: 's', ip: '::1', closed: false, sendPrivate() {}, close() {} };

function input(username: string, txid: string, index = 0): RegisteredInput {
  return {
    poolId: 'p',
    txid,
    index,
    value: 1_000_300,
    confirmations: 1,
    scriptPubKey: new Uint8Array(22),
    address: `bcrt1q${txid.slice(0, 8)}${index}`,
    liquidity: false,
    username,
    session,
    ip: '::1',
    lastUserHash: null,
  };
}

describe('InputPool (spec §3.1 invariants)', () => {
  it('refuses the same outpoint twice with the swallowed "Input already registered" error', () => {
    const pool = new InputPool();
    pool.register(input('u1', 'aa'.repeat(32)));
    expect(() => pool.register(input('u2', 'aa'.repeat(32)))).toThrow(InputAlreadyRegisteredError);
    expect(() => pool.register(input('u2', 'aa'.repeat(32)))).toThrow(
      `Input already registered: ${'aa'.repeat(32)}:0`,
    );
  });

  it('refuses a second outpoint for one username with the spec text', () => {
    const pool = new InputPool();
    pool.register(input('u1', 'aa'.repeat(32)));
    expect(() => pool.register(input('u1', 'bb'.repeat(32)))).toThrow(
      'Username already registered another input: u1',
    );
  });

  it('removes by username and lists by outpoint', () => {
    const pool = new InputPool();
    const a = input('u1', 'aa'.repeat(32), 1);
    pool.register(a);
    pool.register(input('u2', 'bb'.repeat(32)));
    expect(pool.has(outpointKey(a))).toBe(true);
    expect(pool.removeByUsername('u1')).toBe(a);
    expect(pool.has(outpointKey(a))).toBe(false);
    expect(pool.list().map((i) => i.username)).toEqual(['u2']);
    pool.register(input('u1', 'cc'.repeat(32)));
    expect(pool.size).toBe(2);
  });
});
