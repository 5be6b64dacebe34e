import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '#shared/errors.ts';
import {
  decodeSockjsClientMessage,
  decodeSockjsServerFrame,
  SOCKJS_HEARTBEAT,
  SOCKJS_OPEN,
  sockjsClientMessage,
  sockjsCloseFrame,
  sockjsMessageFrame,
  sockjsQuote,
} from '#shared/sockjs/framing.ts';

describe('SockJS server frames', () => {
  it('encodes open, heartbeat, messages and close like Spring', () => {
    expect(SOCKJS_OPEN).toBe('o');
    expect(SOCKJS_HEARTBEAT).toBe('h');
    expect(sockjsMessageFrame(['MESSAGE\ndestination:/private/reply\n\n{"a":1}\0'])).toBe(
      'a["MESSAGE\\ndestination:/private/reply\\n\\n{\\"a\\":1}\\u0000"]',
    );
    expect(sockjsMessageFrame(['a', 'b'])).toBe('a["a","b"]');
    expect(sockjsCloseFrame(3000, 'Go away!')).toBe('c[3000,"Go away!"]');
  });

  it('escapes characters proxies mangle', () => {
    expect(sockjsQuote('\u2028x\u200d\uffff')).toBe('"\\u2028x\\u200d\\uffff"');
    expect(JSON.parse(sockjsQuote('\u2028x\u200d\uffff\ud800'))).toBe('\u2028x\u200d\uffff\ud800');
  });

  it('decodes every server frame type, with or without trailing newline', () => {
    expect(decodeSockjsServerFrame('o')).toEqual({ type: 'open' });
    expect(decodeSockjsServerFrame('h\n')).toEqual({ type: 'heartbeat' });
    expect(decodeSockjsServerFrame('a["x\\u0000","y"]')).toEqual({
      type: 'messages',
      messages: ['x\0', 'y'],
    });
    expect(decodeSockjsServerFrame('c[3000,"Go away!"]\n')).toEqual({
      type: 'close',
      code: 3000,
      reason: 'Go away!',
    });
  });

  it('refuses malformed server frames', () => {
    for (const t of [
      '',
      'x',
      'oo',
      'a',
      'a[1]',
      'a{"x":1}',
      'c[3000]',
      'c["a","b"]',
      'c[1.5,"x"]',
      'a["x"',
    ]) {
      expect(() => decodeSockjsServerFrame(t), t).toThrow(DecodeError);
    }
  });

  it('round-trips arbitrary strings (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }), { maxLength: 5 }), (ms) => {
        expect(decodeSockjsServerFrame(sockjsMessageFrame(ms))).toEqual({ type: 'messages', messages: ms });
        expect(decodeSockjsClientMessage(sockjsClientMessage(ms))).toEqual(ms);
      }),
    );
  });
});

describe('SockJS client messages', () => {
  it('accepts an array of strings or a single string; blank is nothing', () => {
    expect(decodeSockjsClientMessage('["SEND\\n\\n\\u0000","\\n"]')).toEqual(['SEND\n\n\0', '\n']);
    expect(decodeSockjsClientMessage('"CONNECT\\n\\n\\u0000"')).toEqual(['CONNECT\n\n\0']);
    expect(decodeSockjsClientMessage('')).toEqual([]);
    expect(decodeSockjsClientMessage(' \n')).toEqual([]);
  });

  it('refuses anything else', () => {
    for (const t of ['[1]', '{}', 'null', '12', '[', '["a",null]', 'SEND\n\n\0']) {
      expect(() => decodeSockjsClientMessage(t), t).toThrow(DecodeError);
    }
  });

  it('random text throws only DecodeError (fast-check)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.json(), fc.string()), (t) => {
        for (const f of [decodeSockjsClientMessage, decodeSockjsServerFrame]) {
          try {
            f(t);
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
          }
        }
        for (const prefix of ['a', 'c']) {
          try {
            decodeSockjsServerFrame(prefix + t);
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});
