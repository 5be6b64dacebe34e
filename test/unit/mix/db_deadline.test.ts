import { describe, expect, it } from 'vitest';
import {
  DeadlineExceededError,
  isParticipantError,
  saveOutputDeadlineMs,
  withDeadline,
} from '#coordinator/mix/db_deadline.ts';

describe('database deadlines of a started mix', () => {
  it('saveOutput gets a quarter of the REGISTER_OUTPUT timeout, within [1 s, 10 s]', () => {
    expect(saveOutputDeadlineMs(120_000)).toBe(10_000);
    expect(saveOutputDeadlineMs(20_000)).toBe(5000);
    expect(saveOutputDeadlineMs(2500)).toBe(1000);
  });

  it('withDeadline passes results and errors through, and rejects a stalled operation', async () => {
    expect(await withDeadline(Promise.resolve(7), 1000, 'x')).toBe(7);
    await expect(withDeadline(Promise.reject(new Error('boom')), 1000, 'x')).rejects.toThrow('boom');
    const stalled = new Promise<never>(() => undefined);
    await expect(withDeadline(stalled, 20, 'saveOutput')).rejects.toBeInstanceOf(DeadlineExceededError);
    await expect(withDeadline(stalled, 20, 'saveOutput')).rejects.toThrow(
      'saveOutput did not finish within 20 ms',
    );
  });

  it('only a reused address is the participant’s fault', () => {
    const used = Object.assign(new Error('used'), { name: 'OutputAlreadyUsedError' });
    expect(isParticipantError(used)).toBe(true);
    expect(isParticipantError(Object.assign(new Error('x'), { code: 'PROTOCOL_CONNECTION_LOST' }))).toBe(
      false,
    );
    expect(isParticipantError(new DeadlineExceededError('saveOutput', 1))).toBe(false);
    expect(isParticipantError(Object.assign(new Error('fenced'), { name: 'FencedOutError' }))).toBe(false);
  });
});
