import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '#shared/errors.ts';
import { MESSAGE_TYPES, PROTOCOL_VERSION } from '#shared/protocol/constants.ts';
import {
  ConfirmInputMixStatusNotificationSchema,
  ConfirmInputRequestSchema,
  ConfirmInputResponseSchema,
  ErrorResponseSchema,
  FailMixStatusNotificationSchema,
  HealthResponseSchema,
  PoolsResponseSchema,
  parseJson,
  RegisterInputRequestSchema,
  RegisterOutputMixStatusNotificationSchema,
  RegisterOutputRequestSchema,
  RestErrorResponseSchema,
  RevealOutputMixStatusNotificationSchema,
  RevealOutputRequestSchema,
  SigningMixStatusNotificationSchema,
  SigningRequestSchema,
  STOMP_PAYLOAD_SCHEMAS,
  SubscribePoolResponseSchema,
  SuccessMixStatusNotificationSchema,
  Tx0DataResponseSchema,
} from '#shared/protocol/messages.ts';

const MIX_ID = 'c5cd0d1b6ba84c37a1bd1e6d1b1f2a5a';
const INPUTS_HASH =
  'a8615d928839ab1a23c7a32f2f58cfa5af92bfc46469d3acf42df75f23b731cc4a8fccd94bf65477c887c5b8705e4ef86574362dc9244ae5d4d5835b6eb3a357';
const Z85_320 = 'A7Nb<4f-t}]g=qbKNNy^CHi(M1AjK*F<!trW{J]z5YM48EP'.padEnd(320, 'x');

describe('constants', () => {
  it('has the 0.23 protocol version and the nine Java class names', () => {
    expect(PROTOCOL_VERSION).toBe('0.23');
    expect(Object.keys(MESSAGE_TYPES).sort()).toEqual(Object.keys(STOMP_PAYLOAD_SCHEMAS).sort());
    expect(MESSAGE_TYPES.ErrorResponse).toBe(
      'com.samourai.whirlpool.protocol.websocket.messages.ErrorResponse',
    );
    expect(MESSAGE_TYPES.FailMixStatusNotification).toBe(
      'com.samourai.whirlpool.protocol.websocket.notifications.FailMixStatusNotification',
    );
  });
});

describe('spec §2 examples parse', () => {
  const cases: Array<[string, { description?: string }, string]> = [
    [
      'RegisterInputRequest',
      RegisterInputRequestSchema,
      '{"poolId":"0.01btc","utxoHash":"cbef59ce0863490dfbd5427808a29564c8c81cd9f901623d5688faff12020717","utxoIndex":0,"signature":"H5vr0bgDNfKoUpbaY4Ah/dv39nEx/uKaKJi2yfZKCxw6cQDRE+/ZvgiyfTjQ2YvUTeoWpImNo1vdV+uPaM0XeNM=","liquidity":false}',
    ],
    [
      'ConfirmInputRequest',
      ConfirmInputRequestSchema,
      `{"mixId":"${MIX_ID}","blindedBordereau64":"${Z85_320}","userHash":"1f357ff4f81eb756292e05e6fd9e766c2d549509d1aff6aef55a0e09b92af30d"}`,
    ],
    [
      'RevealOutputRequest',
      RevealOutputRequestSchema,
      `{"mixId":"${MIX_ID}","receiveAddress":"tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g"}`,
    ],
    [
      'SigningRequest',
      SigningRequestSchema,
      `{"mixId":"${MIX_ID}","witnesses64":["abc.-:+=^!/*?&<>()[]{}@%$#","0aZ"]}`,
    ],
    [
      'RegisterOutputRequest',
      RegisterOutputRequestSchema,
      `{"inputsHash":"${INPUTS_HASH}","unblindedSignedBordereau64":"${Z85_320}","receiveAddress":"tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g"}`,
    ],
    [
      'SubscribePoolResponse',
      SubscribePoolResponseSchema,
      '{"networkId":"test","denomination":1000000,"mustMixBalanceMin":1000102,"mustMixBalanceCap":1009500,"mustMixBalanceMax":1010000}',
    ],
    [
      'ErrorResponse',
      ErrorResponseSchema,
      '{"mixId":null,"message":"Input rejected (not a premix or whirlpool input)"}',
    ],
    [
      'ConfirmInputMixStatusNotification',
      ConfirmInputMixStatusNotificationSchema,
      `{"status":"CONFIRM_INPUT","mixId":"${MIX_ID}","publicKey64":"fOfrHfBXi)dUZGG{ydc70r&D9F=MwZfOfrj0!HBN0j]oYj@ix!8n.OZ]F[0!k374y4T&}+p#*(/jLcI$C2N]@t"}`,
    ],
    [
      'ConfirmInputResponse',
      ConfirmInputResponseSchema,
      `{"mixId":"${MIX_ID}","signedBordereau64":"${Z85_320}"}`,
    ],
    [
      'RegisterOutputMixStatusNotification',
      RegisterOutputMixStatusNotificationSchema,
      `{"status":"REGISTER_OUTPUT","mixId":"${MIX_ID}","inputsHash":"${INPUTS_HASH}"}`,
    ],
    [
      'RevealOutputMixStatusNotification',
      RevealOutputMixStatusNotificationSchema,
      `{"status":"REVEAL_OUTPUT","mixId":"${MIX_ID}"}`,
    ],
    [
      'SigningMixStatusNotification',
      SigningMixStatusNotificationSchema,
      `{"status":"SIGNING","mixId":"${MIX_ID}","transaction64":"0aZ}"}`,
    ],
    [
      'SuccessMixStatusNotification',
      SuccessMixStatusNotificationSchema,
      `{"status":"SUCCESS","mixId":"${MIX_ID}"}`,
    ],
    ['FailMixStatusNotification', FailMixStatusNotificationSchema, `{"status":"FAIL","mixId":"${MIX_ID}"}`],
    [
      'PoolsResponse',
      PoolsResponseSchema,
      // addendum §3.2 example (with tx0MaxOutputs)
      '{"pools":[{"poolId":"0.01btc","denomination":1000000,"feeValue":50000,"mustMixBalanceMin":1000170,"mustMixBalanceCap":1009500,"mustMixBalanceMax":1019125,"minAnonymitySet":5,"minMustMix":2,"tx0MaxOutputs":70,"nbRegistered":12,"mixAnonymitySet":5,"mixStatus":"CONFIRM_INPUT","elapsedTime":48213,"nbConfirmed":3}]}',
    ],
    [
      'Tx0DataResponse',
      Tx0DataResponseSchema,
      '{"feePaymentCode":"PM8TJXp19gCE6hQzqRi719FGJzF6AreRwvoQKLRnQ7dpgaakakFns22jHUqhtPQWmfevPQRCyfFbdDrKvrfw9oZv5PjaCerQMa3BKkPyUf9yN1CDR3w6","feeValue":50000,"feeChange":0,"feeDiscountPercent":0,"message":null,"feePayload64":null,"feeAddress":"tb1qz84ma37y3d759sdy7mvq3u4vsxlg2qahw3lm23","feeIndice":1}',
    ],
    [
      'Tx0DataResponse (100% scode)',
      Tx0DataResponseSchema,
      '{"feePaymentCode":"PM8TJXp19gCE6hQzqRi719FGJzF6AreRwvoQKLRnQ7dpgaakakFns22jHUqhtPQWmfevPQRCyfFbdDrKvrfw9oZv5PjaCerQMa3BKkPyUf9yN1CDR3w6","feeValue":0,"feeChange":12500,"feeDiscountPercent":100,"message":"welcome","feePayload64":"fGx","feeAddress":null,"feeIndice":0}',
    ],
    ['RestErrorResponse', RestErrorResponseSchema, '{"message":"Invalid unblindedSignedBordereau"}'],
    ['HealthResponse', HealthResponseSchema, '{"status":"OK","error":null}'],
  ];
  for (const [name, schema, json] of cases) {
    it(`${name} round-trips through JSON unchanged`, () => {
      const parsed = parseJson(schema as never, json);
      expect(JSON.parse(JSON.stringify(parsed))).toEqual(JSON.parse(json));
    });
  }

  it('a 0.23.11 PoolInfo without tx0MaxOutputs reads as 0 (what G2+ clients do)', () => {
    const old =
      '{"pools":[{"poolId":"0.01btc","denomination":1000000,"feeValue":50000,"mustMixBalanceMin":1000102,"mustMixBalanceCap":1009500,"mustMixBalanceMax":1010000,"minAnonymitySet":5,"minMustMix":1,"nbRegistered":3,"mixAnonymitySet":5,"mixStatus":"CONFIRM_INPUT","elapsedTime":48213,"nbConfirmed":2}]}';
    expect(parseJson(PoolsResponseSchema, old).pools[0]!.tx0MaxOutputs).toBe(0);
  });

  it('keeps null fields when serialising a server payload', () => {
    const e = parseJson(ErrorResponseSchema, '{"mixId":null,"message":"Error"}');
    expect(JSON.stringify(e)).toBe('{"mixId":null,"message":"Error"}');
  });
});

describe('parseJson', () => {
  it('drops unknown fields like Jackson', () => {
    const r = parseJson(
      RevealOutputRequestSchema,
      `{"mixId":"${MIX_ID}","receiveAddress":"tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g","extra":{"x":1}}`,
    );
    expect(r).toEqual({ mixId: MIX_ID, receiveAddress: 'tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g' });
  });

  it('decodes Gson-style unicode escapes in Z85 strings', () => {
    const r = parseJson(
      SigningRequestSchema,
      `{"mixId":"${MIX_ID}","witnesses64":["\\u003c\\u003e\\u0026\\u003d"]}`,
    );
    expect(r.witnesses64).toEqual(['<>&=']);
  });

  it('accepts a malformed utxoHash and a negative utxoIndex (the engine answers them, spec §5.1)', () => {
    const r = parseJson(
      RegisterInputRequestSchema,
      '{"poolId":"0.01btc","utxoHash":"zz","utxoIndex":-1,"signature":"H5vr0bgD=","liquidity":true}',
    );
    expect(r.utxoHash).toBe('zz');
    expect(r.utxoIndex).toBe(-1);
  });

  const bad: Array<[string, { description?: string }, string, RegExp]> = [
    ['not JSON', ErrorResponseSchema, '{"mixId":', /Malformed JSON for ErrorResponse/],
    ['wrong type', RegisterInputRequestSchema, '[]', /Invalid RegisterInputRequest/],
    [
      'missing field',
      RegisterInputRequestSchema,
      '{"poolId":"0.01btc","utxoHash":"00","utxoIndex":0,"signature":"AA=="}',
      /Invalid RegisterInputRequest at "liquidity"/,
    ],
    [
      'non-integer index',
      RegisterInputRequestSchema,
      '{"poolId":"p","utxoHash":"00","utxoIndex":0.5,"signature":"AA==","liquidity":true}',
      /utxoIndex/,
    ],
    [
      'unsafe integer',
      SubscribePoolResponseSchema,
      '{"networkId":"test","denomination":9007199254740993,"mustMixBalanceMin":1,"mustMixBalanceCap":1,"mustMixBalanceMax":1}',
      /denomination/,
    ],
    [
      'negative amount',
      SubscribePoolResponseSchema,
      '{"networkId":"test","denomination":-1,"mustMixBalanceMin":1,"mustMixBalanceCap":1,"mustMixBalanceMax":1}',
      /denomination/,
    ],
    [
      'bad Z85 char',
      ConfirmInputResponseSchema,
      `{"mixId":"${MIX_ID}","signedBordereau64":"abc\\"def"}`,
      /signedBordereau64/,
    ],
    [
      'space in Z85',
      ConfirmInputResponseSchema,
      `{"mixId":"${MIX_ID}","signedBordereau64":"abc def"}`,
      /signedBordereau64/,
    ],
    [
      'short inputsHash',
      RegisterOutputRequestSchema,
      `{"inputsHash":"abcd","unblindedSignedBordereau64":"x","receiveAddress":"tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g"}`,
      /inputsHash/,
    ],
    [
      'uppercase inputsHash',
      RegisterOutputRequestSchema,
      `{"inputsHash":"${INPUTS_HASH.toUpperCase()}","unblindedSignedBordereau64":"x","receiveAddress":"tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g"}`,
      /inputsHash/,
    ],
    [
      'oversized address (the engine checks the address text itself: Invalid receiveAddress)',
      RevealOutputRequestSchema,
      `{"mixId":"${MIX_ID}","receiveAddress":"${'q'.repeat(201)}"}`,
      /receiveAddress/,
    ],
    [
      'bad userHash',
      ConfirmInputRequestSchema,
      `{"mixId":"${MIX_ID}","blindedBordereau64":"abc","userHash":"xyz"}`,
      /userHash/,
    ],
    [
      'wrong status literal',
      FailMixStatusNotificationSchema,
      `{"status":"SUCCESS","mixId":"${MIX_ID}"}`,
      /status/,
    ],
    ['ErrorResponse without mixId', ErrorResponseSchema, '{"message":"x"}', /mixId/],
    ['bad health status', HealthResponseSchema, '{"status":"MAYBE","error":null}', /status/],
  ];
  for (const [what, schema, json, re] of bad) {
    it(`refuses ${what} with a DecodeError naming the schema`, () => {
      let caught: unknown;
      try {
        parseJson(schema as never, json);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(DecodeError);
      expect((caught as DecodeError).codec).toBe('json');
      expect((caught as Error).message).toMatch(re);
    });
  }

  it('throws only DecodeError on arbitrary text (fast-check)', () => {
    const schemas = Object.values(STOMP_PAYLOAD_SCHEMAS);
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.json(), fc.string({ unit: 'grapheme' })),
        fc.integer({ min: 0, max: schemas.length - 1 }),
        (text, i) => {
          try {
            parseJson(schemas[i] as never, text);
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('throws only DecodeError on random JSON objects shaped like requests (fast-check)', () => {
    const arb = fc.record({
      poolId: fc.oneof(fc.string(), fc.constant('0.01btc'), fc.integer()),
      utxoHash: fc.oneof(fc.string(), fc.constant(null)),
      utxoIndex: fc.oneof(fc.integer(), fc.double(), fc.string()),
      signature: fc.oneof(fc.base64String(), fc.string()),
      liquidity: fc.oneof(fc.boolean(), fc.string()),
    });
    fc.assert(
      fc.property(arb, (obj) => {
        try {
          const r = parseJson(RegisterInputRequestSchema, JSON.stringify(obj));
          expect(typeof r.liquidity).toBe('boolean');
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
