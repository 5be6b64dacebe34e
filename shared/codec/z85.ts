/**
 * Samourai's Z85 variant (spec §4.1): the ZeroMQ Z85 alphabet and big-endian
 * base-85 groups, but any input length is accepted (Ascii85-style partial last
 * group). Hand-written: the npm Z85 codecs implement strict ZeroMQ Z85, which
 * only accepts multiples of 4 bytes / 5 characters.
 *
 * @module
 */

import { DecodeError } from '../errors.ts';

/** The Z85 alphabet (spec §0.3); index = digit value. */
export const Z85_ALPHABET =
  '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

const DECODE_TABLE: Int16Array = buildDecodeTable();

function buildDecodeTable(): Int16Array {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < Z85_ALPHABET.length; i++) table[Z85_ALPHABET.charCodeAt(i)] = i;
  return table;
}

/**
 * Encodes bytes of any length: zero-pads to a multiple of 4, encodes each
 * 4-byte group as 5 characters, then drops as many trailing characters as
 * padding bytes were added. Output length is `ceil(len * 5 / 4)`.
 */
export function z85Encode(bytes: Uint8Array): string {
  const pad = (4 - (bytes.length % 4)) % 4;
  const padded = new Uint8Array(bytes.length + pad);
  padded.set(bytes);
  const out: string[] = [];
  const digits = new Array<string>(5);
  for (let i = 0; i < padded.length; i += 4) {
    let value = ((padded[i]! << 24) | (padded[i + 1]! << 16) | (padded[i + 2]! << 8) | padded[i + 3]!) >>> 0;
    for (let j = 4; j >= 0; j--) {
      digits[j] = Z85_ALPHABET[value % 85]!;
      value = Math.floor(value / 85);
    }
    out.push(digits.join(''));
  }
  const text = out.join('');
  return pad === 0 ? text : text.slice(0, text.length - pad);
}

/**
 * Decodes text of any length: pads with `#` (digit 84) to a multiple of 5,
 * decodes each group modulo 2^32 as 4 big-endian bytes (like the reference,
 * which keeps the low 32 bits), then drops as many trailing bytes as padding
 * characters were added. Throws {@link DecodeError} on a character outside the
 * alphabet.
 */
export function z85Decode(text: string): Uint8Array {
  const pad = (5 - (text.length % 5)) % 5;
  const total = text.length + pad;
  const out = new Uint8Array((total / 5) * 4);
  let o = 0;
  for (let i = 0; i < total; i += 5) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const pos = i + j;
      let digit = 84;
      if (pos < text.length) {
        const code = text.charCodeAt(pos);
        digit = code < 128 ? DECODE_TABLE[code]! : -1;
        if (digit < 0) {
          throw new DecodeError('z85', `Invalid character ${JSON.stringify(text[pos])} at offset ${pos}`);
        }
      }
      // value < 85^5 < 2^53: exact in a double; reduce modulo 2^32 at the end.
      value = value * 85 + digit;
    }
    const low = value % 0x1_0000_0000;
    out[o++] = (low >>> 24) & 0xff;
    out[o++] = (low >>> 16) & 0xff;
    out[o++] = (low >>> 8) & 0xff;
    out[o++] = low & 0xff;
  }
  return pad === 0 ? out : out.slice(0, out.length - pad);
}
