/**
 * Zod schemas and inferred types for every Whirlpool 0.23 message (spec §2),
 * named exactly as the Java classes, plus {@link parseJson}.
 *
 * Like Jackson, parsing ignores unknown fields (they are stripped) and
 * server→client payloads keep their `null` fields (`"mixId":null`). What
 * comes from outside is validated strictly (hex lengths, the Z85 alphabet,
 * bech32 character set, integer ranges, string length caps), except where
 * the specification wants the coordinator to answer a malformed field with a
 * particular error text: `RegisterInputRequest.utxoHash` (`Invalid utxoHash`,
 * which the reference health check relies on) and `utxoIndex`
 * (`Invalid utxoIndex`) are only type-checked here and validated by the
 * engine (spec §5.1).
 *
 * @module
 */
import { z } from 'zod';
import { DecodeError } from '../errors.ts';
import { RedirectResponseSchema } from './redirect.ts';

/** Characters of the Samourai Z85 alphabet, escaped for a regex character class. */
const Z85_CLASS = '0-9a-zA-Z.\\-:+=^!/*?&<>()\\[\\]{}@%$#';
const Z85_RE = new RegExp(`^[${Z85_CLASS}]*$`);

/** A Z85 string (spec §4.1) of at most `max` characters. */
function z85(max: number) {
  return z.string().max(max).regex(Z85_RE, 'not a Z85 string');
}

/** Lowercase hex of exactly `chars` characters. */
function hexLower(chars: number) {
  return z.string().regex(new RegExp(`^[0-9a-f]{${chars}}$`), `not ${chars} lowercase hex characters`);
}

/** Satoshi amount or count: a non-negative safe integer. */
const amount = z.int().min(0);

/** Pool id such as `0.01btc`. */
const poolId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'not a pool id');

/** Mix id: 32 lowercase hex in the reference; any short token accepted. */
const mixId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a mix id');

/** Bech32-ish address: letters and digits only, 14–90 characters (BIP173 length bounds). */
const bech32Address = z.string().regex(/^[A-Za-z0-9]{14,90}$/, 'not a bech32 address');
/**
 * A receive address as the client sent it: only bounded here, because the
 * coordinator must answer a malformed one with the spec's exact text
 * (`Invalid receiveAddress`, §5.3), not with a schema error (`Error`).
 */
const receiveAddressText = z.string().min(1).max(200);

/** Standard base64 (the only base64 field is the input ownership signature, 65 bytes → 88 chars). */
const base64Signature = z.string().regex(/^[A-Za-z0-9+/]{1,200}={0,2}$/, 'not a base64 string');

/** `MixStatus` enum (spec §2.1). */
export const MixStatusSchema = z.enum([
  'CONFIRM_INPUT',
  'REGISTER_OUTPUT',
  'REVEAL_OUTPUT',
  'SIGNING',
  'SUCCESS',
  'FAIL',
]);
/** Status of a mix. */
export type MixStatus = z.infer<typeof MixStatusSchema>;

// ---------------------------------------------------------------------------
// Client → server (STOMP SEND), spec §2.2

/** Body of SEND `/ws/registerInput`. `utxoHash`/`utxoIndex` are validated by the engine (spec §5.1). */
export const RegisterInputRequestSchema = z
  .object({
    poolId,
    utxoHash: z.string().max(256),
    utxoIndex: z.int(),
    signature: base64Signature,
    liquidity: z.boolean(),
    /** G5+: the client's chain tip height (addendum §6.1); absent or 0 = not checked. */
    blockHeight: z.int().min(0).max(100_000_000).optional(),
  })
  .describe('RegisterInputRequest');
/** Register one UTXO in a pool. */
export type RegisterInputRequest = z.infer<typeof RegisterInputRequestSchema>;

/** Body of SEND `/ws/confirmInput`. */
export const ConfirmInputRequestSchema = z
  .object({
    mixId,
    /** Z85 of the 256-byte blinded bordereau (320 characters). */
    blindedBordereau64: z85(400).min(1),
    /** 64 hex: SHA-256(mixId ‖ userPreHash). */
    userHash: z.string().regex(/^[0-9a-fA-F]{64}$/, 'not 64 hex characters'),
  })
  .describe('ConfirmInputRequest');
/** Confirm an invitation and ask for the blind signature. */
export type ConfirmInputRequest = z.infer<typeof ConfirmInputRequestSchema>;

/** Body of SEND `/ws/revealOutput`. */
export const RevealOutputRequestSchema = z
  .object({ mixId, receiveAddress: receiveAddressText })
  .describe('RevealOutputRequest');
/** Reveal the registered output during the blame phase. */
export type RevealOutputRequest = z.infer<typeof RevealOutputRequestSchema>;

/** Body of SEND `/ws/signing`. */
export const SigningRequestSchema = z
  .object({
    mixId,
    /** Witness stack items in Z85: [DER signature ‖ sighash, compressed pubkey]. */
    witnesses64: z.array(z85(1000)).min(1).max(16),
  })
  .describe('SigningRequest');
/** Witnesses of the client's input in the mix transaction. */
export type SigningRequest = z.infer<typeof SigningRequestSchema>;

// ---------------------------------------------------------------------------
// Client → server (REST), spec §2.3

/** Body of `POST /rest/registerOutput`. */
export const RegisterOutputRequestSchema = z
  .object({
    /** SHA-512 hex over the mix inputs (spec §4.5). */
    inputsHash: hexLower(128),
    /** Z85 of the unblinded RSA-PSS signature (≤ 256 bytes). */
    unblindedSignedBordereau64: z85(400).min(1),
    receiveAddress: receiveAddressText,
    /** G5+: Z85 of the client's random bordereau (30 bytes, addendum §6.3); absent = the address bytes. */
    bordereau64: z85(400).nullable().optional(),
  })
  .describe('RegisterOutputRequest');
/** Unlinkable registration of a mix output. */
export type RegisterOutputRequest = z.infer<typeof RegisterOutputRequestSchema>;

// ---------------------------------------------------------------------------
// Server → client (STOMP MESSAGE), spec §2.4

/** Sent 1 s after SUBSCRIBE with the pool's parameters. */
export const SubscribePoolResponseSchema = z
  .object({
    networkId: z.string().regex(/^[a-z]{1,16}$/, 'not a network id'),
    denomination: amount,
    mustMixBalanceMin: amount,
    mustMixBalanceCap: amount,
    mustMixBalanceMax: amount,
  })
  .describe('SubscribePoolResponse');
/** Pool parameters answered to a subscription. */
export type SubscribePoolResponse = z.infer<typeof SubscribePoolResponseSchema>;

/** Application error; `mixId` is always `null` in the reference. */
export const ErrorResponseSchema = z
  .object({
    mixId: mixId.nullable(),
    /** Since protocol 0.23.9 (addendum §2.2); older servers omit it. */
    errorCode: z.int().optional(),
    message: z.string().max(4096),
  })
  .describe('ErrorResponse');
/** Application error sent as a normal MESSAGE. */
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;

/** Invitation to confirm an input, with the mix's RSA public key (X.509 SPKI DER in Z85). */
export const ConfirmInputMixStatusNotificationSchema = z
  .object({ status: z.literal('CONFIRM_INPUT'), mixId, publicKey64: z85(2000).min(1) })
  .describe('ConfirmInputMixStatusNotification');
/** CONFIRM_INPUT notification. */
export type ConfirmInputMixStatusNotification = z.infer<typeof ConfirmInputMixStatusNotificationSchema>;

/** Blind signature of the client's bordereau. */
export const ConfirmInputResponseSchema = z
  .object({ mixId, signedBordereau64: z85(400).min(1) })
  .describe('ConfirmInputResponse');
/** Answer to a ConfirmInputRequest. */
export type ConfirmInputResponse = z.infer<typeof ConfirmInputResponseSchema>;

/** The mix moved to REGISTER_OUTPUT; `inputsHash` identifies it on REST. */
export const RegisterOutputMixStatusNotificationSchema = z
  .object({ status: z.literal('REGISTER_OUTPUT'), mixId, inputsHash: hexLower(128) })
  .describe('RegisterOutputMixStatusNotification');
/** REGISTER_OUTPUT notification. */
export type RegisterOutputMixStatusNotification = z.infer<typeof RegisterOutputMixStatusNotificationSchema>;

/** The mix moved to REVEAL_OUTPUT (blame phase). */
export const RevealOutputMixStatusNotificationSchema = z
  .object({ status: z.literal('REVEAL_OUTPUT'), mixId })
  .describe('RevealOutputMixStatusNotification');
/** REVEAL_OUTPUT notification. */
export type RevealOutputMixStatusNotification = z.infer<typeof RevealOutputMixStatusNotificationSchema>;

/** The mix moved to SIGNING; `transaction64` is the legacy-serialised unsigned tx in Z85. */
export const SigningMixStatusNotificationSchema = z
  .object({ status: z.literal('SIGNING'), mixId, transaction64: z85(65536).min(1) })
  .describe('SigningMixStatusNotification');
/** SIGNING notification. */
export type SigningMixStatusNotification = z.infer<typeof SigningMixStatusNotificationSchema>;

/** The mix succeeded. */
export const SuccessMixStatusNotificationSchema = z
  .object({ status: z.literal('SUCCESS'), mixId })
  .describe('SuccessMixStatusNotification');
/** SUCCESS notification. */
export type SuccessMixStatusNotification = z.infer<typeof SuccessMixStatusNotificationSchema>;

/** The mix failed (no reason is transmitted). */
export const FailMixStatusNotificationSchema = z
  .object({ status: z.literal('FAIL'), mixId })
  .describe('FailMixStatusNotification');
/** FAIL notification. */
export type FailMixStatusNotification = z.infer<typeof FailMixStatusNotificationSchema>;

/** Schema of each STOMP payload, keyed like `MESSAGE_TYPES` (for clients dispatching on `messageType`). */
export const STOMP_PAYLOAD_SCHEMAS = {
  SubscribePoolResponse: SubscribePoolResponseSchema,
  ConfirmInputResponse: ConfirmInputResponseSchema,
  ErrorResponse: ErrorResponseSchema,
  ConfirmInputMixStatusNotification: ConfirmInputMixStatusNotificationSchema,
  RegisterOutputMixStatusNotification: RegisterOutputMixStatusNotificationSchema,
  RevealOutputMixStatusNotification: RevealOutputMixStatusNotificationSchema,
  SigningMixStatusNotification: SigningMixStatusNotificationSchema,
  SuccessMixStatusNotification: SuccessMixStatusNotificationSchema,
  FailMixStatusNotification: FailMixStatusNotificationSchema,
  /** Cluster addendum (shared/protocol/redirect.ts, docs/protocol-addendum-redirect.md). */
  RedirectResponse: RedirectResponseSchema,
} as const;

// ---------------------------------------------------------------------------
// Server → client (REST), spec §2.5

/** One pool in `GET /rest/pools`. */
export const PoolInfoSchema = z
  .object({
    poolId,
    denomination: amount,
    feeValue: amount,
    mustMixBalanceMin: amount,
    mustMixBalanceCap: amount,
    mustMixBalanceMax: amount,
    minAnonymitySet: amount,
    minMustMix: amount,
    nbRegistered: amount,
    mixAnonymitySet: amount,
    mixStatus: MixStatusSchema,
    elapsedTime: amount,
    nbConfirmed: amount,
    /** Largest premix count of a Tx0 (addendum §3.2); absent from older servers → 0 (G2+ cannot Tx0). */
    tx0MaxOutputs: amount.default(0),
  })
  .describe('PoolInfo');
/** Pool parameters and live counters. */
export type PoolInfo = z.infer<typeof PoolInfoSchema>;

/** Body of `GET /rest/pools`. */
export const PoolsResponseSchema = z
  .object({ pools: z.array(PoolInfoSchema).max(1000) })
  .describe('PoolsResponse');
/** List of pools. */
export type PoolsResponse = z.infer<typeof PoolsResponseSchema>;

/** Body of `GET /rest/tx0`. */
export const Tx0DataResponseSchema = z
  .object({
    /** The coordinator's BIP47 payment code (base58). */
    feePaymentCode: z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{1,200}$/, 'not a base58 payment code'),
    feeValue: amount,
    feeChange: amount,
    feeDiscountPercent: z.int().min(0).max(100),
    message: z.string().max(4096).nullable(),
    /** Z85 of the 2-byte scode payload, or null. */
    feePayload64: z85(100).nullable(),
    feeAddress: bech32Address.nullable(),
    feeIndice: amount,
  })
  .describe('Tx0DataResponse');
/** Tx0 parameters. */
export type Tx0DataResponse = z.infer<typeof Tx0DataResponseSchema>;

/** Optional text field as Jackson reads it: absent and null alike. */
const optionalText = z.string().max(200).nullable().optional();

/** Body of `POST /rest/tx0` and `POST /rest/tx0/v1` (addendum §3.4). */
export const Tx0DataRequestV2Schema = z
  .object({
    scode: optionalText,
    partnerId: optionalText,
    /** G6 only; absent = false. */
    cascading: z.boolean().nullable().optional(),
  })
  .describe('Tx0DataRequestV2');
/** Tx0 data request of G3+. */
export type Tx0DataRequestV2 = z.infer<typeof Tx0DataRequestV2Schema>;

/** One pool's entry of `Tx0DataResponseV2` (addendum §3.4), fields in the reference's order. */
export const Tx0DataSchema = z
  .object({
    poolId,
    feePaymentCode: z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{1,200}$/, 'not a base58 payment code'),
    feeValue: amount,
    feeChange: amount,
    feeDiscountPercent: z.int().min(0).max(100),
    message: z.string().max(4096).nullable(),
    /** Z85 of the plain fee payload: 64 bytes (`/rest/tx0`) or 46 bytes (`/rest/tx0/v1`). */
    feePayload64: z85(100).min(1),
    feeAddress: bech32Address.nullable(),
    /** Base64 signature of the fee output (addendum §4.8), or null. */
    feeOutputSignature: z.string().max(200).nullable().optional(),
  })
  .describe('Tx0Data');
/** Tx0 parameters of one pool (G3+). */
export type Tx0Data = z.infer<typeof Tx0DataSchema>;

/** Body answered by `POST /rest/tx0` and `POST /rest/tx0/v1`. */
export const Tx0DataResponseV2Schema = z
  .object({ tx0Datas: z.array(Tx0DataSchema).max(1000) })
  .describe('Tx0DataResponseV2');
/** Tx0 data of every pool. */
export type Tx0DataResponseV2 = z.infer<typeof Tx0DataResponseV2Schema>;

/** Body of `POST /rest/tx0Notify` (ignored by the coordinator, addendum §3.5). */
export const Tx0NotifyRequestSchema = z
  .object({ txid: z.string().max(100).nullable().optional(), poolId: optionalText })
  .describe('Tx0NotifyRequest');
/** Tx0 broadcast notice of G1–G3. */
export type Tx0NotifyRequest = z.infer<typeof Tx0NotifyRequestSchema>;

/** Body of `POST /rest/tx0/push` (addendum §3.6): `tx64` is Z85 (not base64) of the signed Tx0. */
export const Tx0PushRequestSchema = z
  .object({
    /** Type-checked only: garbage answers `Not a TX0`, as the reference does. */
    tx64: z.string().max(1_000_000).nullable().optional(),
    poolId: z.string().max(200).nullable().optional(),
  })
  .describe('Tx0PushRequest');
/** Tx0 to broadcast. */
export type Tx0PushRequest = z.infer<typeof Tx0PushRequestSchema>;

/** Success of `POST /rest/tx0/push`. */
export const PushTxSuccessResponseSchema = z.object({ txid: hexLower(64) }).describe('PushTxSuccessResponse');
/** Pushed Tx0. */
export type PushTxSuccessResponse = z.infer<typeof PushTxSuccessResponseSchema>;

/** Failure of `POST /rest/tx0/push` (HTTP 500, addendum §3.6). */
export const PushTxErrorResponseSchema = z
  .object({
    message: z.string().max(4096),
    pushTxErrorCode: z.string().max(4096).nullable(),
    /** Output indices paying to an address already used (`address-reuse`), else null. */
    voutsAddressReuse: z.array(z.int().min(0)).max(10_000).nullable(),
  })
  .describe('PushTxErrorResponse');
/** Push failure. */
export type PushTxErrorResponse = z.infer<typeof PushTxErrorResponseSchema>;

/** Body of `POST /rest/checkOutput` (addendum §3.7); missing fields answer `Invalid signature`. */
export const CheckOutputRequestSchema = z
  .object({
    receiveAddress: z.string().max(200).nullable().optional(),
    /** Signed-message signature (base64) of the address string by the address's key. */
    signature: z.string().max(200).nullable().optional(),
  })
  .describe('CheckOutputRequest');
/** Receive-address check. */
export type CheckOutputRequest = z.infer<typeof CheckOutputRequestSchema>;

/** Error body of every REST endpoint (HTTP 500). */
export const RestErrorResponseSchema = z
  .object({ message: z.string().max(4096) })
  .describe('RestErrorResponse');
/** REST error. */
export type RestErrorResponse = z.infer<typeof RestErrorResponseSchema>;

/** Body of `GET /rest/system/health`. */
export const HealthResponseSchema = z
  .object({ status: z.enum(['OK', 'ERROR']), error: z.string().max(4096).nullable() })
  .describe('HealthResponse');
/** Health status. */
export type HealthResponse = z.infer<typeof HealthResponseSchema>;

// ---------------------------------------------------------------------------

/**
 * Parses JSON text and validates it against `schema`; unknown fields are
 * dropped. Throws {@link DecodeError} (codec `json`) on malformed JSON or a
 * schema mismatch; the message names the schema (its `.describe()` text).
 */
export function parseJson<T>(schema: z.ZodType<T>, text: string): T {
  const name = schema.description ?? 'message';
  if (typeof text !== 'string') {
    throw new DecodeError('json', `Expected JSON text for ${name}, got ${typeof text}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DecodeError('json', `Malformed JSON for ${name}: ${(err as Error).message}`, { cause: err });
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at "${issue.path.join('.')}"` : '';
    throw new DecodeError('json', `Invalid ${name}${where}: ${issue?.message ?? 'schema mismatch'}`, {
      cause: result.error,
    });
  }
  return result.data;
}
