import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '#shared/errors.ts';
import { StompDecoder, type StompItem, unescapeHeader } from '#shared/stomp/decoder.ts';
import {
  bodyText,
  encodeFrame,
  escapeHeader,
  frameToString,
  getHeader,
  makeFrame,
  type StompFrame,
} from '#shared/stomp/frame.ts';

const te = new TextEncoder();

function frames(items: StompItem[]): StompFrame[] {
  return items.flatMap((i) => (i.type === 'frame' ? [i.frame] : []));
}

// Spec §1.5.5, with ^@ replaced by NUL.
const EXAMPLE_CONNECT = 'CONNECT\naccept-version:1.1,1.2\nheart-beat:20000,20000\npoolId:0.01btc\n\n\0';
const EXAMPLE_SUBSCRIBE =
  'SUBSCRIBE\nid:0\ndestination:/private/reply\npoolId:0.01btc\nprotocolVersion:0.23\n\n\0';
const EXAMPLE_BODY =
  '{"networkId":"test","denomination":1000000,"mustMixBalanceMin":1000102,"mustMixBalanceCap":1009500,"mustMixBalanceMax":1010000}';
const EXAMPLE_MESSAGE =
  'MESSAGE\ndestination:/private/reply\ncontent-type:application/json;charset=UTF-8\nsubscription:0\nmessage-id:7a1c2a5e-0\nmessageType:com.samourai.whirlpool.protocol.websocket.messages.SubscribePoolResponse\nprotocolVersion:0.23\ncontent-length:127\n\n' +
  EXAMPLE_BODY +
  '\0';
const EXAMPLE_SEND =
  'SEND\ndestination:/ws/registerInput\nprotocolVersion:0.23\ncontent-type:application/json;charset=UTF-8\n\n{"poolId":"0.01btc","utxoHash":"cbef59ce0863490dfbd5427808a29564c8c81cd9f901623d5688faff12020717","utxoIndex":0,"signature":"H5vr0bgDNfKoUpbaY4Ah/dv39nEx/uKaKJi2yfZKCxw6cQDRE+/ZvgiyfTjQ2YvUTeoWpImNo1vdV+uPaM0XeNM=","liquidity":false}\0';

describe('spec §1.5.5 example frames', () => {
  for (const [name, text] of [
    ['CONNECT', EXAMPLE_CONNECT],
    ['SUBSCRIBE', EXAMPLE_SUBSCRIBE],
    ['MESSAGE', EXAMPLE_MESSAGE],
    ['SEND', EXAMPLE_SEND],
  ] as const) {
    it(`${name} decodes and re-encodes byte for byte`, () => {
      const items = new StompDecoder().push(text);
      expect(items).toHaveLength(1);
      const f = frames(items)[0]!;
      expect(f.command).toBe(name);
      expect(frameToString(f)).toBe(text);
      expect(encodeFrame(f)).toEqual(te.encode(text));
    });
  }

  it('MESSAGE example has a correct content-length and the Whirlpool headers', () => {
    expect(te.encode(EXAMPLE_BODY).length).toBe(127);
    const f = frames(new StompDecoder().push(EXAMPLE_MESSAGE))[0]!;
    expect(getHeader(f, 'messageType')).toBe(
      'com.samourai.whirlpool.protocol.websocket.messages.SubscribePoolResponse',
    );
    expect(getHeader(f, 'protocolVersion')).toBe('0.23');
    expect(bodyText(f)).toBe(EXAMPLE_BODY);
  });

  it('encodeFrame with contentLength appends content-length, as the server sends MESSAGE', () => {
    const f = makeFrame(
      'MESSAGE',
      [
        ['destination', '/private/reply'],
        ['content-type', 'application/json;charset=UTF-8'],
        ['subscription', '0'],
        ['message-id', '7a1c2a5e-0'],
        ['messageType', 'com.samourai.whirlpool.protocol.websocket.messages.SubscribePoolResponse'],
        ['protocolVersion', '0.23'],
      ],
      EXAMPLE_BODY,
    );
    expect(frameToString(f, { contentLength: true })).toBe(EXAMPLE_MESSAGE);
  });
});

describe('StompDecoder', () => {
  it('reads a frame split at every byte', () => {
    const d = new StompDecoder();
    const bytes = te.encode(EXAMPLE_MESSAGE + EXAMPLE_SEND);
    const out: StompItem[] = [];
    for (const b of bytes) out.push(...d.push(new Uint8Array([b])));
    expect(frames(out).map((f) => f.command)).toEqual(['MESSAGE', 'SEND']);
    expect(d.bufferedBytes).toBe(0);
  });

  it('reads several frames and heart-beats batched in one chunk', () => {
    const items = new StompDecoder().push(`\n${EXAMPLE_CONNECT}\r\n\n${EXAMPLE_SUBSCRIBE}\n`);
    expect(items.map((i) => (i.type === 'frame' ? i.frame.command : 'hb'))).toEqual([
      'hb',
      'CONNECT',
      'hb',
      'hb',
      'SUBSCRIBE',
      'hb',
    ]);
  });

  it('accepts \\r\\n line ends', () => {
    const f = frames(new StompDecoder().push('SEND\r\ndestination:/ws/signing\r\na:b\r\n\r\nhello\0'))[0]!;
    expect(f.headers).toEqual([
      ['destination', '/ws/signing'],
      ['a', 'b'],
    ]);
    expect(bodyText(f)).toBe('hello');
  });

  it('waits for a CR that may be followed by LF', () => {
    const d = new StompDecoder();
    expect(d.push('\r')).toEqual([]);
    expect(d.push('\n')).toEqual([{ type: 'heartbeat' }]);
  });

  it('reads a body containing NUL when content-length is given', () => {
    const d = new StompDecoder();
    const items = d.push(
      new Uint8Array([...te.encode('SEND\ndestination:/x\ncontent-length:3\n\n'), 1, 0, 2, 0]),
    );
    expect(frames(items)[0]!.body).toEqual(new Uint8Array([1, 0, 2]));
  });

  it('refuses a content-length body not followed by NUL', () => {
    expect(() => new StompDecoder().push('SEND\ncontent-length:2\n\nabc\0')).toThrow(DecodeError);
  });

  it('refuses an invalid content-length', () => {
    expect(() => new StompDecoder().push('SEND\ncontent-length:-1\n\n\0')).toThrow(/content-length/);
    expect(() => new StompDecoder().push('SEND\ncontent-length:1e3\n\n\0')).toThrow(/content-length/);
  });

  it('keeps repeated headers, the first wins', () => {
    const f = frames(new StompDecoder().push('SEND\nfoo:1\nfoo:2\ndestination:/a\n\n\0'))[0]!;
    expect(getHeader(f, 'foo')).toBe('1');
    expect(f.headers.filter(([k]) => k === 'foo')).toHaveLength(2);
  });

  it('uses the first content-length when repeated', () => {
    const f = frames(new StompDecoder().push('SEND\ncontent-length:2\ncontent-length:5\n\nab\0'))[0]!;
    expect(bodyText(f)).toBe('ab');
  });

  it('unescapes headers except in CONNECT and CONNECTED', () => {
    const send = frames(new StompDecoder().push('SEND\nmessageType:a\\cb\\\\c\\nd\\re\n\n\0'))[0]!;
    expect(getHeader(send, 'messageType')).toBe('a:b\\c\nd\re');
    const connect = frames(new StompDecoder().push('CONNECT\nlogin:a\\cb\n\n\0'))[0]!;
    expect(getHeader(connect, 'login')).toBe('a\\cb');
    const connected = frames(new StompDecoder().push('CONNECTED\nx:a:b\n\n\0'))[0]!;
    expect(getHeader(connected, 'x')).toBe('a:b');
  });

  it('refuses undefined escapes', () => {
    expect(() => new StompDecoder().push('SEND\nfoo:a\\tb\n\n\0')).toThrow(/escape/);
    expect(() => new StompDecoder().push('SEND\nfoo:a\\\n\n\0')).toThrow(/escape/);
    expect(() => unescapeHeader('x\\')).toThrow(DecodeError);
  });

  it('refuses a bad command, a header without colon, and invalid UTF-8', () => {
    expect(() => new StompDecoder().push('send\n\n\0')).toThrow(/command/);
    expect(() => new StompDecoder().push('SEND\nnocolon\n\n\0')).toThrow(/header/);
    expect(() => new StompDecoder().push('SEND\n:empty-name\n\n\0')).toThrow(/header/);
    expect(() => new StompDecoder().push(new Uint8Array([0x53, 0x45, 0xff, 0x0a, 0x0a, 0x00]))).toThrow(
      DecodeError,
    );
    expect(() => new StompDecoder().push('\rX')).toThrow(/CR/);
  });

  it('stays failed after an error', () => {
    const d = new StompDecoder();
    expect(() => d.push('bad\n\n\0')).toThrow(DecodeError);
    expect(() => d.push(EXAMPLE_CONNECT)).toThrow(DecodeError);
  });

  it('refuses oversized frames: declared, headers, and body without content-length', () => {
    const max = 1024;
    expect(() => new StompDecoder({ maxFrameBytes: max }).push('SEND\ncontent-length:5000\n\n')).toThrow(
      /larger/,
    );
    const longHeader = 'SEND\nx:' + 'a'.repeat(max);
    expect(() => new StompDecoder({ maxFrameBytes: max }).push(longHeader)).toThrow(/larger/);
    const d = new StompDecoder({ maxFrameBytes: max });
    d.push('SEND\n\n');
    for (let i = 0; i < 3; i++) d.push('b'.repeat(300));
    expect(() => d.push('b'.repeat(300))).toThrow(/larger/);
  });

  it('accepts a frame of exactly maxFrameBytes and refuses one byte more', () => {
    const head = 'SEND\ndestination:/a\n\n';
    const max = 200;
    const exact = head + 'x'.repeat(max - head.length - 1) + '\0';
    expect(te.encode(exact).length).toBe(max);
    expect(frames(new StompDecoder({ maxFrameBytes: max }).push(exact))).toHaveLength(1);
    const over = head + 'x'.repeat(max - head.length) + '\0';
    expect(() => new StompDecoder({ maxFrameBytes: max }).push(over)).toThrow(/larger/);
  });

  it('default limit is 65536 bytes', () => {
    expect(new StompDecoder().maxFrameBytes).toBe(65536);
    expect(() => new StompDecoder().push(`SEND\n\n${'x'.repeat(70000)}`)).toThrow(/larger than 65536/);
  });

  it('reads a frame trickled byte by byte in linear time (no rescanning of what was already read)', () => {
    const head = `SEND\n${'h:v\n'.repeat(8000)}\n`;
    const bytes = te.encode(head + 'x'.repeat(65536 - head.length - 1) + '\0');
    expect(bytes.length).toBe(65536);
    const d = new StompDecoder();
    const t0 = performance.now();
    let n = 0;
    for (let i = 0; i < bytes.length; i++) n += d.push(bytes.subarray(i, i + 1)).length;
    expect(n).toBe(1);
    // Quadratic rescanning took over a minute here; linear takes well under a second.
    expect(performance.now() - t0).toBeLessThan(8000);
  });

  it('drops its buffer between frames', () => {
    const d = new StompDecoder();
    d.push(EXAMPLE_CONNECT);
    expect(d.bufferedBytes).toBe(0);
  });
});

describe('encoder/decoder round trip', () => {
  it('escapes names and values', () => {
    expect(escapeHeader('a:b\\c\nd\re')).toBe('a\\cb\\\\c\\nd\\re');
    const f = makeFrame('MESSAGE', [['k:1', 'v\n:\\']], 'x');
    const back = frames(new StompDecoder().push(encodeFrame(f)))[0]!;
    expect(back.headers).toEqual([['k:1', 'v\n:\\']]);
  });

  it('adds content-length when the body contains NUL', () => {
    const f = makeFrame('SEND', [['destination', '/a']], new Uint8Array([0, 1, 0]));
    expect(frameToString(f)).toContain('content-length:3');
    expect(frames(new StompDecoder().push(encodeFrame(f)))[0]!.body).toEqual(new Uint8Array([0, 1, 0]));
  });

  const header = fc.tuple(
    fc.string({ minLength: 1, maxLength: 20 }).filter((k) => k !== 'content-length'),
    fc.string({ maxLength: 40 }),
  );
  const frameArb = fc.record({
    command: fc.constantFrom('SEND', 'MESSAGE', 'SUBSCRIBE', 'ERROR', 'RECEIPT', 'ACK'),
    headers: fc.array(header, { maxLength: 8 }),
    body: fc.uint8Array({ maxLength: 300 }),
  });

  it('decode(encode(frame)) = frame for arbitrary frames, any chunking (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 64 }),
        (fs, step) => {
          const parts = fs.map((f) => encodeFrame(f, { contentLength: true }));
          const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let o = 0;
          for (const p of parts) {
            all.set(p, o);
            o += p.length;
          }
          const d = new StompDecoder();
          const out: StompItem[] = [];
          for (let i = 0; i < all.length; i += step) out.push(...d.push(all.subarray(i, i + step)));
          const expected = fs.map((f) => ({
            ...f,
            headers: [...f.headers, ['content-length', String(f.body.length)]],
          }));
          expect(frames(out)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes and strings throw only DecodeError (fast-check)', () => {
    const chunk = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.string({ maxLength: 200 }),
      fc.string({
        unit: fc.constantFrom('S', 'E', 'N', 'D', '\n', '\r', ':', '\\', '\0', 'c', 'x', '1'),
        maxLength: 100,
      }),
      fc.constantFrom(EXAMPLE_CONNECT, EXAMPLE_SEND, 'content-length:', 'content-length:99999\n'),
    );
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 10 }), fc.integer({ min: 16, max: 4096 }), (chunks, max) => {
        const d = new StompDecoder({ maxFrameBytes: max });
        try {
          for (const c of chunks) {
            for (const item of d.push(c)) {
              if (item.type === 'frame')
                expect(te.encode(frameToString(item.frame)).length).toBeGreaterThan(0);
            }
            expect(d.bufferedBytes).toBeLessThanOrEqual(max + 4096);
          }
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
