/**
 * V0/V1 fee OP_RETURNs and payloads against the generations addendum's
 * vectors (§9.1–§9.6), plus fast-check properties: random bytes given to the
 * new decoders give typed errors (DecodeError) or null, never anything else.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { mnemonicToSeedSync } from '@scure/bip39';
import { Transaction } from '@scure/btc-signer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bip47AccountFromSeed, notificationPubKeyFromPaymentCode } from '#shared/bitcoin/bip47.ts';
import { z85Encode } from '#shared/codec/z85.ts';
import { DecodeError } from '#shared/errors.ts';
import {
  FEE_OP_RETURN_V1_LENGTH,
  feeOpReturnScript,
  feeOpReturnVersion,
  maskFeeOpReturnV0,
  maskFeeOpReturnV1,
  unmaskFeeOpReturnV0,
  unmaskFeeOpReturnV1,
} from '#shared/protocol/fee_op_return.ts';
import {
  encodeFeePayload,
  FEE_PAYLOAD_V1_LENGTH,
  parseFeePayload,
  scodePayloadFromShort,
  shortFromScodePayload,
} from '#shared/protocol/fee_payload.ts';
import { decodeTx0FeeData, findFeeOpReturn } from '#shared/protocol/tx0_fee_data.ts';
import {
  CASCADING_PASSPHRASE,
  CASCADING_PAYMENT_CODE,
  CASCADING_WORDS,
  MASKING_PRIV,
  OUTPOINT_HEX,
  TX0_4F63F508_HEX,
  TX0_4F63F508_TXID,
  TX0_35FCB936_HEX,
  TX0_D5C0995F_HEX,
  V0_TEST_NOTIFICATION_PRIV,
  V0_TEST_NOTIFICATION_PUB,
  V0_TEST_PASSPHRASE,
  V0_TEST_WORDS,
  V1_TEST_NOTIFICATION_PRIV,
  V1_TEST_NOTIFICATION_PUB,
  V1_TEST_PASSPHRASE,
  V1_TEST_PAYMENT_CODE,
  V1_TEST_WORDS,
} from './generations_vectors.ts';

function payload(indice: number, scode: number, partner: number, length: number): Uint8Array {
  return encodeFeePayload(
    {
      feeIndice: indice,
      scodePayload: scode === 0 ? null : scodePayloadFromShort(scode),
      feePartner: partner,
    },
    length,
  );
}

describe('fee payload (addendum §9.1)', () => {
  const cases: Array<[number, number, number, string]> = [
    [0, 0, 0, '00010000000000000000'],
    [1, 0, 0, '00010000000100000000'],
    [123456, 0, 0, '00010001e24000000000'],
    [0, 1, 0, '00010000000000010000'],
    [1, 1, 0, '00010000000100010000'],
    [123456, 257, 0, '00010001e24001010000'],
    [0, 0, 1, '00010000000000000001'],
    [1, 1, 826, '0001000000010001033a'],
    [123456, 257, 12345, '00010001e24001013039'],
  ];
  for (const [indice, scode, partner, hex] of cases) {
    it(`(${indice}, ${scode}, ${partner}) at 46 and 64 bytes`, () => {
      for (const length of [46, 64]) {
        const bytes = payload(indice, scode, partner, length);
        expect(bytes.length).toBe(length);
        expect(bytesToHex(bytes)).toBe(hex + '00'.repeat(length - 10));
        const back = parseFeePayload(bytes);
        expect(back.feeIndice).toBe(indice);
        expect(back.scodePayload === null ? 0 : shortFromScodePayload(back.scodePayload)).toBe(scode);
        expect(back.feePartner).toBe(partner);
      }
    });
  }

  it('Z85 of the §9.1 payloads', () => {
    expect(z85Encode(payload(1, 0, 0, 46))).toBe(
      '0096100961000000000000000000000000000000000000000000000000',
    );
    expect(z85Encode(payload(1, 0, 0, 64))).toBe(
      '00961009610000000000000000000000000000000000000000000000000000000000000000000000',
    );
    expect(z85Encode(payload(0, 22222, 0, 46))).toBe(
      '009610036B000000000000000000000000000000000000000000000000',
    );
    expect(z85Encode(payload(1, 0, 1, 46))).toBe(
      '0096100961009610000000000000000000000000000000000000000000',
    );
  });

  it('parse refuses a short payload and another version with typed errors', () => {
    expect(() => parseFeePayload(new Uint8Array(9))).toThrow(DecodeError);
    const v2 = payload(1, 0, 0, 46);
    v2[1] = 2;
    expect(() => parseFeePayload(v2)).toThrow('Invalid FeePayload version: 2 vs 1');
  });
});

describe('secret wallets (addendum §4.6)', () => {
  it('V0 and V1 test wallets give the addendum notification keys and payment codes', () => {
    const v0 = bip47AccountFromSeed(mnemonicToSeedSync(V0_TEST_WORDS, V0_TEST_PASSPHRASE), 'testnet');
    expect(bytesToHex(v0.notificationPrivKey)).toBe(V0_TEST_NOTIFICATION_PRIV);
    expect(bytesToHex(v0.notificationPubKey)).toBe(V0_TEST_NOTIFICATION_PUB);
    const v1 = bip47AccountFromSeed(mnemonicToSeedSync(V1_TEST_WORDS, V1_TEST_PASSPHRASE), 'testnet');
    expect(v1.paymentCode).toBe(V1_TEST_PAYMENT_CODE);
    expect(bytesToHex(v1.notificationPrivKey)).toBe(V1_TEST_NOTIFICATION_PRIV);
    expect(bytesToHex(notificationPubKeyFromPaymentCode(V1_TEST_PAYMENT_CODE))).toBe(
      V1_TEST_NOTIFICATION_PUB,
    );
    const cascading = bip47AccountFromSeed(
      mnemonicToSeedSync(CASCADING_WORDS, CASCADING_PASSPHRASE),
      'testnet',
    );
    expect(cascading.paymentCode).toBe(CASCADING_PAYMENT_CODE);
  });
});

describe('OP_RETURN V0 (addendum §9.2)', () => {
  const outpoint = hexToBytes(OUTPOINT_HEX);
  it('masks (0,0,0) and (123456,257,12345) as the Java test, and unmasks back', () => {
    const inputPriv = hexToBytes(MASKING_PRIV);
    const inputPub = hexToBytes('036e350b47817fe80c931d2e7317d46b6017af2427f201bec425e41ae8d89a029d');
    const expected: Array<[Uint8Array, string]> = [
      [
        payload(0, 0, 0, 64),
        '9dc44eb229215faf7180a98a9d83a3a4e9de2a493df037628d62f291b23cef8c64b310cb7558d6e99fa66c149f5590a43d219a5cdf0298138487ea742f9e69e9',
      ],
      [
        payload(123456, 257, 12345, 64),
        '9dc44eb3cb615eae41b9a98a9d83a3a4e9de2a493df037628d62f291b23cef8c64b310cb7558d6e99fa66c149f5590a43d219a5cdf0298138487ea742f9e69e9',
      ],
    ];
    for (const [plain, hex] of expected) {
      const masked = maskFeeOpReturnV0(plain, outpoint, inputPriv, hexToBytes(V0_TEST_NOTIFICATION_PUB));
      expect(bytesToHex(masked)).toBe(hex);
      expect(feeOpReturnVersion(masked)).toBe(0);
      const back = unmaskFeeOpReturnV0(masked, outpoint, inputPub, hexToBytes(V0_TEST_NOTIFICATION_PRIV));
      expect(bytesToHex(back)).toBe(bytesToHex(plain));
    }
  });
});

describe('OP_RETURN V1 (addendum §9.3)', () => {
  const outpoint = hexToBytes(OUTPOINT_HEX);
  const expected: Array<[Uint8Array, string]> = [
    [
      payload(0, 0, 0, 46),
      'dc57a20f926b0cbd7b67ba346dccba374c6e7c0ccf6d51cbcc65ae3022395e154c2d266abd28da47475d3b91696a036e350b47817fe80c931d2e7317d46b6017af2427f201bec425e41ae8d89a029d01',
    ],
    [
      payload(123456, 257, 12345, 46),
      'dc57a20e702b0dbc4b5eba346dccba374c6e7c0ccf6d51cbcc65ae3022395e154c2d266abd28da47475d3b91696a036e350b47817fe80c931d2e7317d46b6017af2427f201bec425e41ae8d89a029d01',
    ],
  ];
  it('masks with the fixed test masking key exactly as the Java test', () => {
    for (const [plain, hex] of expected) {
      const data = maskFeeOpReturnV1(
        plain,
        outpoint,
        hexToBytes(V1_TEST_NOTIFICATION_PUB),
        hexToBytes(MASKING_PRIV),
      );
      expect(data.length).toBe(FEE_OP_RETURN_V1_LENGTH);
      expect(bytesToHex(data)).toBe(hex);
      expect(bytesToHex(feeOpReturnScript(data).subarray(0, 3))).toBe('6a4c50');
    }
  });
  it('unmasks with the V1 notification private key', () => {
    for (const [plain, hex] of expected) {
      const back = unmaskFeeOpReturnV1(hexToBytes(hex), outpoint, hexToBytes(V1_TEST_NOTIFICATION_PRIV));
      expect(bytesToHex(back)).toBe(bytesToHex(plain));
    }
  });
  it('refuses a payload that is not 46 bytes', () => {
    expect(() =>
      maskFeeOpReturnV1(
        new Uint8Array(64),
        outpoint,
        hexToBytes(V1_TEST_NOTIFICATION_PUB),
        hexToBytes(MASKING_PRIV),
      ),
    ).toThrow('Invalid feePayload.length: 64 vs 46');
  });
  it('a bad masking key is a DecodeError', () => {
    const bad = hexToBytes(expected[0]![1]);
    bad.fill(0xff, 46, 79);
    expect(() => unmaskFeeOpReturnV1(bad, outpoint, hexToBytes(V1_TEST_NOTIFICATION_PRIV))).toThrow(
      DecodeError,
    );
  });
});

describe('Tx0 decoding of raw V1 transactions (addendum §9.4–§9.6)', () => {
  const keysFor = (words: string, pass: string) =>
    bip47AccountFromSeed(mnemonicToSeedSync(words, pass), 'testnet').notificationPrivKey;

  it('4f63f508… (V1) decodes to (1, 0, 0) with the V1 secret, OP_RETURN at output 0', () => {
    const tx = Transaction.fromRaw(hexToBytes(TX0_4F63F508_HEX), { allowUnknownOutputs: true });
    expect(tx.id).toBe(TX0_4F63F508_TXID);
    const v0 = hexToBytes(V0_TEST_NOTIFICATION_PRIV);
    const v1 = hexToBytes(V1_TEST_NOTIFICATION_PRIV);
    const fee = decodeTx0FeeData(TX0_4F63F508_HEX, { v0, v1 })!;
    expect(fee).toMatchObject({
      feeIndice: 1,
      scodePayload: null,
      feePartner: 0,
      opReturnVersion: 1,
      opReturnIndex: 0,
    });
    // the V0 key is not the one: the payload's version does not parse
    expect(decodeTx0FeeData(TX0_4F63F508_HEX, { v0, v1: v0 })).toBeNull();
  });

  it('35fcb936… (client test, V0 payment code) decodes to (1, 2, 0)', () => {
    const fee = decodeTx0FeeData(TX0_35FCB936_HEX, hexToBytes(V0_TEST_NOTIFICATION_PRIV))!;
    expect(fee.feeIndice).toBe(1);
    expect(shortFromScodePayload(fee.scodePayload!)).toBe(2);
    expect(fee.opReturnVersion).toBe(1);
  });

  it('d5c0995f… (cascading child) decodes to (0, 22222, 0)', () => {
    const fee = decodeTx0FeeData(TX0_D5C0995F_HEX, keysFor(CASCADING_WORDS, CASCADING_PASSPHRASE))!;
    expect(fee.feeIndice).toBe(0);
    expect(shortFromScodePayload(fee.scodePayload!)).toBe(22222);
  });
});

describe('properties: random bytes give typed errors only', () => {
  it('parseFeePayload', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        try {
          const p = parseFeePayload(bytes);
          return p.feeVersion === 1 && bytes.length >= 10;
        } catch (err) {
          return err instanceof DecodeError;
        }
      }),
    );
  });
  it('unmaskFeeOpReturnV1 / V0', () => {
    const priv = hexToBytes(V1_TEST_NOTIFICATION_PRIV);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ minLength: 36, maxLength: 36 }),
        (bytes, op) => {
          for (const f of [
            () => unmaskFeeOpReturnV1(bytes, op, priv),
            () => unmaskFeeOpReturnV0(bytes, op, bytes.slice(0, 33), priv),
          ]) {
            try {
              const out = f();
              if (!(out instanceof Uint8Array)) return false;
            } catch (err) {
              if (!(err instanceof DecodeError)) return false;
            }
          }
          return true;
        },
      ),
    );
  });
  it('V1 OP_RETURNs with a random masking key round-trip', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.integer({ min: 0, max: 0x7fff }),
        fc.uint8Array({ minLength: 36, maxLength: 36 }),
        (indice, partner, op) => {
          const plain = payload(indice, 0, partner, FEE_PAYLOAD_V1_LENGTH);
          const maskingKey = sha256(op); // a random scalar (below n with overwhelming probability)
          const data = maskFeeOpReturnV1(plain, op, hexToBytes(V1_TEST_NOTIFICATION_PUB), maskingKey);
          const back = parseFeePayload(unmaskFeeOpReturnV1(data, op, hexToBytes(V1_TEST_NOTIFICATION_PRIV)));
          return back.feeIndice === indice && back.feePartner === partner;
        },
      ),
      { numRuns: 30 },
    );
  });
  it('findFeeOpReturn / decodeTx0FeeData on random raw bytes: null, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const r = decodeTx0FeeData(bytes, hexToBytes(V1_TEST_NOTIFICATION_PRIV));
        return r === null || typeof r.feeIndice === 'number';
      }),
    );
    const tx = Transaction.fromRaw(hexToBytes(TX0_4F63F508_HEX), { allowUnknownOutputs: true });
    expect(findFeeOpReturn(tx)?.version).toBe(1);
  });
});
