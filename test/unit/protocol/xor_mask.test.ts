import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '#shared/errors.ts';
import { ecdhSharedX, serializeOutpoint, xorMask } from '#shared/protocol/xor_mask.ts';

// Spec §8.3
const NOTIF_PRIV = hexToBytes('725f8de3f2f5d6b064660309a398d0c4b193b53df8dc538ffdd4d279c43fa01f');
const NOTIF_PUB = hexToBytes('02631b285dbecd7ef9d1445bfd88e99d3f9699a45d05b749b3a1a699dfc3bdfb26');
const TXID = 'cbef59ce0863490dfbd5427808a29564c8c81cd9f901623d5688faff12020717';
const OUTPOINT = '17070212fffa88563d6201f9d91cc8c86495a2087842d5fb0d496308ce59efcb00000000';
const SHARED_X = 'f7bb2f512fa4e83170af99c6067b77a515b6ce3f253e390390ae0c488f7b60fd';
const MASK =
  '10d9594615984f519c7e1a82fe44ee8993bf58fffe42ad8515f7e8cb691d4df9375b88c1de26ccef8dfce7f91b768603f8f93108f8e3b35db56018207a5918db';
const MASKED =
  '10d8bb0615984f519c7e1a82fe44ee8993bf58fffe42ad8515f7e8cb691d4df9375b88c1de26ccef8dfce7f91b768603f8f93108f8e3b35db56018207a5918db';

describe('XorMask (spec §8.3)', () => {
  it('reconstructs the outpoint transaction and its txid', () => {
    const raw = concatBytes(
      hexToBytes('01000000'), // version
      hexToBytes('01'), // one input
      new Uint8Array(32),
      hexToBytes('ffffffff'),
      hexToBytes('020100'), // scriptSig 0100
      hexToBytes('ffffffff'),
      hexToBytes('01'), // one output
      hexToBytes('d204000000000000'), // 1234 sats
      hexToBytes('160014390f6d8966dc57204fc0250ed3b6a0194d8a52d3'), // tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g
      hexToBytes('00000000'),
    );
    expect(bytesToHex(sha256(sha256(raw)).reverse())).toBe(TXID);
  });

  it('serializes the outpoint with the txid in wire order', () => {
    expect(bytesToHex(serializeOutpoint(TXID, 0))).toBe(OUTPOINT);
    expect(bytesToHex(serializeOutpoint(TXID.toUpperCase(), 0x01020304).subarray(32))).toBe('04030201');
  });

  it('computes the ECDH x-coordinate from either side', () => {
    // input key = notification key in this test, so both sides use the same pair
    expect(bytesToHex(ecdhSharedX(NOTIF_PRIV, NOTIF_PUB))).toBe(SHARED_X);
  });

  it('masks 0001e240 + 60 zero bytes to the Java test value, and unmasks back', () => {
    const plain = hexToBytes(`0001e240${'00'.repeat(60)}`);
    const outpoint = hexToBytes(OUTPOINT);
    const sharedX = hexToBytes(SHARED_X);
    expect(bytesToHex(xorMask(new Uint8Array(64), sharedX, outpoint))).toBe(MASK);
    const masked = xorMask(plain, sharedX, outpoint);
    expect(bytesToHex(masked)).toBe(MASKED);
    expect(bytesToHex(xorMask(masked, sharedX, outpoint))).toBe(bytesToHex(plain));
  });

  it('rejects malformed outpoints and data longer than the mask', () => {
    expect(() => serializeOutpoint('zz', 0)).toThrow(DecodeError);
    expect(() => serializeOutpoint(TXID, -1)).toThrow(DecodeError);
    expect(() => serializeOutpoint(TXID, 2 ** 32)).toThrow(DecodeError);
    expect(() => xorMask(new Uint8Array(65), hexToBytes(SHARED_X), hexToBytes(OUTPOINT))).toThrow(RangeError);
  });
});
