import { describe, expect, it } from 'vitest';
import {
  type CompositionInput,
  type CompositionRules,
  type ConfirmedCompositionInput,
  checkConfirmInput,
  compositionCounts,
  isCompositionReady,
  isOpenToLiquidities,
  liquiditiesToInvite,
} from '#coordinator/mix/mix_composition.ts';

const D = 1_000_000;
const RULES: CompositionRules = {
  denomination: D,
  anonymitySet: 5,
  mustMixMin: 1,
  liquidityMin: 1,
  minerFeeMix: 510,
  maxInputsSameHash: 1,
  maxInputsSameUserHash: 1,
};

let n = 0;
function input(opts: Partial<CompositionInput> = {}): CompositionInput {
  n++;
  const liquidity = opts.liquidity ?? false;
  return {
    txid: opts.txid ?? n.toString(16).padStart(64, '0'),
    index: opts.index ?? 0,
    address: opts.address ?? `bcrt1qaddress${n}`,
    value: opts.value ?? (liquidity ? D : D + 300),
    liquidity,
  };
}
function confirmed(opts: Partial<CompositionInput> & { userHash?: string } = {}): ConfirmedCompositionInput {
  return { ...input(opts), userHash: opts.userHash ?? `user${n}` };
}

describe('checkConfirmInput (spec §3.5 a–i)', () => {
  const twoMustMix = [confirmed(), confirmed()];
  const cases: Array<{
    name: string;
    status?: 'CONFIRM_INPUT' | 'REGISTER_OUTPUT' | 'SIGNING';
    confirmed: ConfirmedCompositionInput[];
    input: CompositionInput;
    userHash?: string | null;
    rules?: Partial<CompositionRules>;
    expected: ReturnType<typeof checkConfirmInput>;
  }> = [
    { name: 'ok', confirmed: twoMustMix, input: input(), expected: { outcome: 'ok' } },
    {
      name: 'a: mix already started',
      status: 'REGISTER_OUTPUT',
      confirmed: twoMustMix,
      input: input(),
      expected: { outcome: 'requeue', message: 'Mix already started' },
    },
    {
      name: 'b: full',
      confirmed: [confirmed(), confirmed(), confirmed(), confirmed(), confirmed({ liquidity: true })],
      input: input(),
      expected: { outcome: 'requeue', message: 'Current mix is full' },
    },
    {
      name: 'c: liquidity before mustMixMin',
      confirmed: [],
      input: input({ liquidity: true }),
      expected: { outcome: 'reject', message: 'Current mix not opened to liquidities yet' },
    },
    {
      name: 'c: liquidity before minerFeeMix',
      confirmed: [confirmed({ value: D + 200 })],
      input: input({ liquidity: true }),
      expected: { outcome: 'reject', message: 'Current mix not opened to liquidities yet' },
    },
    {
      // d (anonSet − (liquidities + 1) < mustMixMin) is shadowed by b and c: it can only hold when
      // mustMix < mustMixMin, which c already rejects. This pins the order c → d.
      name: 'c before d: liquidity that would also fail d is rejected by c',
      confirmed: [confirmed({ value: D + 600 }), ...[1, 2, 3].map(() => confirmed({ liquidity: true }))],
      input: input({ liquidity: true }),
      rules: { mustMixMin: 2 },
      expected: { outcome: 'reject', message: 'Current mix not opened to liquidities yet' },
    },
    {
      name: 'e: full for mustMix',
      confirmed: [confirmed(), confirmed(), confirmed()],
      input: input(),
      rules: { liquidityMin: 2 },
      expected: { outcome: 'requeue', message: 'Current mix is full for mustMix' },
    },
    {
      name: 'f: same userHash',
      confirmed: [confirmed({ userHash: 'same' })],
      input: input(),
      userHash: 'same',
      expected: { outcome: 'requeue', message: 'Your wallet already registered for this mix' },
    },
    {
      name: 'f skipped when userHash is null (mixability filter)',
      confirmed: [confirmed({ userHash: 'same' })],
      input: input(),
      userHash: null,
      expected: { outcome: 'ok' },
    },
    {
      name: 'g: same txid',
      confirmed: [confirmed({ txid: 'aa'.repeat(32), index: 0 })],
      input: input({ txid: 'aa'.repeat(32), index: 1 }),
      expected: { outcome: 'requeue', message: 'Current mix is full for inputs with same hash' },
    },
    {
      name: 'h: same address, case-insensitive',
      confirmed: [confirmed({ address: 'bcrt1qsame' })],
      input: input({ address: 'BCRT1QSAME' }),
      expected: { outcome: 'requeue', message: 'Current mix is full for inputs with same address' },
    },
    {
      name: 'i: outpoint already confirmed (same-hash rule relaxed)',
      confirmed: [confirmed({ txid: 'bb'.repeat(32), index: 3, address: 'bcrt1qone' })],
      input: input({ txid: 'bb'.repeat(32), index: 3, address: 'bcrt1qtwo' }),
      rules: { maxInputsSameHash: 2 },
      expected: { outcome: 'reject', message: 'Input already confirmed' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = checkConfirmInput(
        c.status ?? 'CONFIRM_INPUT',
        c.confirmed,
        c.input,
        c.userHash === undefined ? `fresh${n}` : c.userHash,
        { ...RULES, ...c.rules },
      );
      expect(result).toEqual(c.expected);
    });
  }

  it('applies the checks in order: a before b before c', () => {
    const full = [1, 2, 3, 4, 5].map(() => confirmed());
    expect(checkConfirmInput('SIGNING', full, input({ liquidity: true }), null, RULES)).toEqual({
      outcome: 'requeue',
      message: 'Mix already started',
    });
    expect(checkConfirmInput('CONFIRM_INPUT', full, input({ liquidity: true }), null, RULES)).toEqual({
      outcome: 'requeue',
      message: 'Current mix is full',
    });
  });
});

describe('mix readiness (spec §8.7 vectors)', () => {
  const rules: CompositionRules = {
    denomination: 200_000_000,
    anonymitySet: 2,
    mustMixMin: 1,
    liquidityMin: 0,
    minerFeeMix: 510,
    maxInputsSameHash: 1,
    maxInputsSameUserHash: 1,
  };
  const ready = (xs: CompositionInput[]) =>
    isCompositionReady(compositionCounts(xs, rules.denomination), rules);

  it('two mustMix of 200000400 → ready', () => {
    expect(ready([input({ value: 200_000_400 }), input({ value: 200_000_400 })])).toBe(true);
  });
  it('one mustMix of 200000255 + liquidity → not ready (fee 255 < 510)', () => {
    expect(ready([input({ value: 200_000_255 }), input({ liquidity: true, value: 200_000_000 })])).toBe(
      false,
    );
  });
  it('two mustMix of 200000255 → ready (fee 510)', () => {
    expect(ready([input({ value: 200_000_255 }), input({ value: 200_000_255 })])).toBe(true);
  });
  it('needs exactly anonSet inputs, mustMixMin and liquidityMin', () => {
    expect(ready([input({ value: 200_000_600 })])).toBe(false);
    const r2 = { ...rules, liquidityMin: 1 };
    const xs = [input({ value: 200_000_400 }), input({ value: 200_000_400 })];
    expect(isCompositionReady(compositionCounts(xs, r2.denomination), r2)).toBe(false);
    const r3 = { ...rules, mustMixMin: 2 };
    const ys = [input({ value: 200_000_600 }), input({ liquidity: true, value: 200_000_000 })];
    expect(isCompositionReady(compositionCounts(ys, r3.denomination), r3)).toBe(false);
  });
});

describe('confirm-input queueing (spec §8.7 vectors)', () => {
  const rules = { ...RULES, anonymitySet: 2, liquidityMin: 0 };
  it('two inputs from the same tx: one confirmed, one requeued', () => {
    const tx = 'cc'.repeat(32);
    const first = input({ txid: tx, index: 0 });
    expect(checkConfirmInput('CONFIRM_INPUT', [], first, 'u1', rules).outcome).toBe('ok');
    const second = checkConfirmInput(
      'CONFIRM_INPUT',
      [{ ...first, userHash: 'u1' }],
      input({ txid: tx, index: 1 }),
      'u2',
      rules,
    );
    expect(second).toEqual({ outcome: 'requeue', message: 'Current mix is full for inputs with same hash' });
  });
  it('same userHash twice: one confirmed, one requeued', () => {
    const first = input();
    const second = checkConfirmInput('CONFIRM_INPUT', [{ ...first, userHash: 'w' }], input(), 'w', rules);
    expect(second).toEqual({ outcome: 'requeue', message: 'Your wallet already registered for this mix' });
  });
  it('anonSet 2 with liquidityMin 1: second mustMix requeued, a liquidity is then invited', () => {
    const r = { ...RULES, anonymitySet: 2, liquidityMin: 1 };
    const first = { ...input({ value: D + 600 }), userHash: 'a' };
    expect(checkConfirmInput('CONFIRM_INPUT', [first], input(), 'b', r)).toEqual({
      outcome: 'requeue',
      message: 'Current mix is full for mustMix',
    });
    const counts = compositionCounts([first], D);
    expect(isOpenToLiquidities(counts, r)).toBe(true);
    expect(liquiditiesToInvite(counts, r)).toBe(2);
    expect(checkConfirmInput('CONFIRM_INPUT', [first], input({ liquidity: true }), 'c', r).outcome).toBe(
      'ok',
    );
  });
});

describe('liquiditiesToInvite', () => {
  it('over-invites by one and invites none when full', () => {
    expect(liquiditiesToInvite({ inputs: 3, mustMix: 3, liquidities: 0, minerFee: 900 }, RULES)).toBe(3);
    expect(liquiditiesToInvite({ inputs: 5, mustMix: 5, liquidities: 0, minerFee: 900 }, RULES)).toBe(0);
  });
});
