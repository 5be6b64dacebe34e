import { describe, expect, it } from 'vitest';
import {
  admitOutput,
  type OutputAttempt,
  onSignedInputLeft,
  SignatureLedger,
} from '#coordinator/mix/signature_ledger.ts';

const A = `${'aa'.repeat(32)}:0`;
const B = `${'bb'.repeat(32)}:1`;

describe('SignatureLedger: one signature per outpoint and per userHash over the mix life', () => {
  it('refuses an outpoint signed before, even after its input left the mix', () => {
    const ledger = new SignatureLedger();
    expect(ledger.refusal(A, 'u1', 1)).toBeNull();
    ledger.record(A, 'u1');
    // the input disconnected and re-registered: still the same outpoint under the same key
    expect(ledger.refusal(A, 'u9', 1)).toEqual({ outcome: 'reject', message: 'Input already confirmed' });
    expect(() => ledger.record(A, 'u9')).toThrow(/already signed/);
    expect(ledger.size).toBe(1);
  });

  it('refuses a second signature for one userHash (requeue), up to maxInputsSameUserHash', () => {
    const ledger = new SignatureLedger();
    ledger.record(A, 'wallet');
    expect(ledger.refusal(B, 'wallet', 1)).toEqual({
      outcome: 'requeue',
      message: 'Your wallet already registered for this mix',
    });
    expect(ledger.refusal(B, 'wallet', 2)).toBeNull();
    expect(ledger.refusal(B, 'other', 1)).toBeNull();
    ledger.record(B, 'other');
    expect(ledger.size).toBe(2);
  });
});

describe('onSignedInputLeft', () => {
  it('restarts before REGISTER_OUTPUT, blames and fails after, ignores an ended mix', () => {
    expect(onSignedInputLeft('CONFIRM_INPUT', false)).toBe('restart');
    for (const s of ['REGISTER_OUTPUT', 'REVEAL_OUTPUT', 'SIGNING'] as const) {
      expect(onSignedInputLeft(s, false)).toBe('blame-and-fail');
    }
    expect(onSignedInputLeft('CONFIRM_INPUT', true)).toBe('ignore');
    expect(onSignedInputLeft('SUCCESS', false)).toBe('ignore');
    expect(onSignedInputLeft('FAIL', false)).toBe('ignore');
  });
});

describe('admitOutput', () => {
  const base: OutputAttempt = {
    status: 'REGISTER_OUTPUT',
    signatureValid: true,
    alreadyRegistered: false,
    outputs: 1,
    signedInputs: 3,
    signaturesIssued: 3,
  };

  it('accepts a valid signature for a new address while outputs < signed inputs', () => {
    expect(admitOutput(base)).toEqual({ outcome: 'accept' });
    expect(admitOutput({ ...base, outputs: 2 })).toEqual({ outcome: 'accept' });
  });

  it('judges the signature first: an invalid one is refused whatever the address', () => {
    expect(admitOutput({ ...base, signatureValid: false, alreadyRegistered: true })).toEqual({
      outcome: 'refuse',
      message: 'Invalid unblindedSignedBordereau',
      notifiable: true,
    });
  });

  it('refuses a repeated address without counting it (an honest retry keeps its output)', () => {
    expect(admitOutput({ ...base, alreadyRegistered: true })).toMatchObject({
      outcome: 'refuse',
      message: 'receiveAddress already registered',
    });
  });

  it('a valid new output when the outputs are full ends the mix without blame (REGISTER_OUTPUT and SIGNING)', () => {
    for (const status of ['REGISTER_OUTPUT', 'SIGNING'] as const) {
      expect(admitOutput({ ...base, status, outputs: 3 }).outcome).toBe('fail-without-blame');
    }
  });

  it('never accepts when more signatures were issued than signed inputs are present', () => {
    expect(admitOutput({ ...base, signaturesIssued: 4 }).outcome).toBe('fail-without-blame');
  });

  it('after REGISTER_OUTPUT: a late output (not full) or an invalid one is an internal "Mix failed"', () => {
    expect(admitOutput({ ...base, status: 'REVEAL_OUTPUT' })).toMatchObject({
      outcome: 'refuse',
      notifiable: false,
    });
    expect(admitOutput({ ...base, status: 'SIGNING', outputs: 3, signatureValid: false })).toMatchObject({
      outcome: 'refuse',
      notifiable: false,
    });
    expect(admitOutput({ ...base, status: 'SIGNING', outputs: 3, alreadyRegistered: true })).toMatchObject({
      outcome: 'refuse',
      notifiable: false,
    });
  });
});
