/**
 * `ErrorResponse.errorCode` (addendum §2.2, §2.3): the reference server's
 * `ServerErrorCode` values and the code each error text carries. The engine
 * keeps throwing texts; the code is derived from the text when the
 * ErrorResponse is sent, so every text has exactly one code and the mapping
 * is testable on its own. No 0.23/0.24 client reads the code (older ones
 * ignore the field).
 *
 * @module
 */

/** `ServerErrorCode` of whirlpool-server 0.23.36. */
export const SERVER_ERROR_CODES = {
  SERVER_ERROR: 500,
  VERSION_MISMATCH: 600,
  INVALID_ARGUMENT: 601,
  INVALID_BLOCK_HEIGHT: 602,
  INPUT_REJECTED: 610,
  INPUT_ALREADY_REGISTERED: 611,
  INPUT_BANNED: 612,
  PUSHTX_ERROR: 620,
} as const;

const C = SERVER_ERROR_CODES;

/** Exact texts (or text prefixes ending in a space, `=` or `(`) and their codes, addendum §2.3. */
const RULES: ReadonlyArray<readonly [prefix: string, code: number, exact: boolean]> = [
  ['Error', C.SERVER_ERROR, true],
  ['Confirming input not found: ', C.SERVER_ERROR, false],
  ['Version mismatch: ', C.VERSION_MISMATCH, false],
  ['Pool not found', C.INVALID_ARGUMENT, true],
  ['Invalid signature', C.INVALID_ARGUMENT, true],
  ['Partner not found: ', C.INVALID_ARGUMENT, false],
  ['Invalid bordereau', C.INVALID_ARGUMENT, true],
  ['Invalid unblindedSignedBordereau', C.INVALID_ARGUMENT, true],
  ['invalid blockHeight', C.INVALID_BLOCK_HEIGHT, true],
  ['Banned from service.', C.INPUT_BANNED, false],
  ['Input already registered', C.INPUT_ALREADY_REGISTERED, false],
  ['input already registered', C.INPUT_ALREADY_REGISTERED, true],
  ['Username already registered another input: ', C.INPUT_ALREADY_REGISTERED, false],
  ['Input already confirmed', C.INPUT_ALREADY_REGISTERED, true],
  ['Output already registered', C.INPUT_ALREADY_REGISTERED, true],
  ['Bordereau already registered', C.INPUT_ALREADY_REGISTERED, true],
  ['receiveAddress already registered', C.INPUT_ALREADY_REGISTERED, false],
  ['output already registered as input', C.INPUT_ALREADY_REGISTERED, true],
  ['Output already revealed', C.INPUT_ALREADY_REGISTERED, true],
  ['ReceiveAddress already revealed', C.INPUT_ALREADY_REGISTERED, true],
  ['User already signed, ', C.INPUT_ALREADY_REGISTERED, false],
];

/**
 * The `errorCode` of an error text: the table of addendum §2.3; every other
 * client-visible text (`Invalid utxoHash`, `Input rejected …`, `Invalid input
 * balance …`, `Input is not confirmed`, `Waiting for first mix confirmation`,
 * `UTXO not found: …`, `Invalid receiveAddress`, …) is an input rejection (610).
 */
export function serverErrorCode(message: string): number {
  for (const [prefix, code, exact] of RULES) {
    if (exact ? message === prefix : message.startsWith(prefix)) return code;
  }
  return C.INPUT_REJECTED;
}
