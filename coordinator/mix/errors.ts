/**
 * Errors of the mix engine. Only a {@link NotifiableError} reaches the client
 * with its text (STOMP ErrorResponse or REST 500 `{"message": ...}`); every
 * other error — internal mix errors such as "Mix not found" included — is sent
 * as the single word `Error`, as the reference does (spec §5.4).
 *
 * @module
 */

/** An error whose message is shown to the client verbatim. */
export class NotifiableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NotifiableError';
  }
}

/**
 * An internal mix error ("Mix not found", wrong status...): logged with its
 * text, sent to the client as `Error`.
 */
export class MixInternalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MixInternalError';
  }
}

/** The text a client receives for an error: the message of a {@link NotifiableError}, else `Error`. */
export function clientMessage(err: unknown): string {
  return err instanceof NotifiableError ? err.message : 'Error';
}
