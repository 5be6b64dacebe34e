import { describe, expect, it } from 'vitest';
import { DecodeError } from '#shared/errors.ts';
import { negotiateHeartbeat, parseHeartbeatHeader } from '#shared/stomp/heartbeat.ts';

describe('parseHeartbeatHeader', () => {
  it('parses cx,cy and treats absence as 0,0', () => {
    expect(parseHeartbeatHeader('20000,20000')).toEqual([20000, 20000]);
    expect(parseHeartbeatHeader('0, 10000')).toEqual([0, 10000]);
    expect(parseHeartbeatHeader(undefined)).toEqual([0, 0]);
  });
  it('refuses malformed values', () => {
    for (const v of ['', '1', '1,2,3', '-1,0', 'a,b', '1.5,2', '9999999999,1']) {
      expect(() => parseHeartbeatHeader(v)).toThrow(DecodeError);
    }
  });
});

describe('negotiateHeartbeat', () => {
  it('uses the larger interval each way, 0 when either side is 0', () => {
    expect(negotiateHeartbeat([20000, 20000], [20000, 20000])).toEqual({
      sendEveryMs: 20000,
      expectEveryMs: 20000,
    });
    expect(negotiateHeartbeat([1000, 5000], [20000, 3000])).toEqual({
      sendEveryMs: 20000,
      expectEveryMs: 3000,
    });
    expect(negotiateHeartbeat([10000, 10000], [1000, 1000])).toEqual({
      sendEveryMs: 10000,
      expectEveryMs: 10000,
    });
    expect(negotiateHeartbeat([0, 1000], [1000, 1000])).toEqual({ sendEveryMs: 1000, expectEveryMs: 0 });
    expect(negotiateHeartbeat([1000, 0], [1000, 1000])).toEqual({ sendEveryMs: 0, expectEveryMs: 1000 });
    expect(negotiateHeartbeat([1000, 1000], [0, 0])).toEqual({ sendEveryMs: 0, expectEveryMs: 0 });
  });
});
