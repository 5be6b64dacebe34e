/**
 * Error classes shared by every part of the project. Decoders throw
 * {@link DecodeError} and nothing else on malformed input; the bitcoin RPC
 * client maps Core's reject codes to typed errors so callers never parse
 * error text.
 *
 * @module
 */

/** Options accepted by every error constructor here. */
export interface ErrorOptions {
  cause?: unknown;
}

/** Malformed input handed to a decoder (Z85, STOMP, SockJS, JSON, DER, payloads). */
export class DecodeError extends Error {
  /** Name of the codec that refused the input, e.g. `z85` or `stomp`. */
  readonly codec: string;
  constructor(codec: string, message: string, options?: ErrorOptions) {
    super(`${codec}: ${message}`, options);
    this.name = 'DecodeError';
    this.codec = codec;
  }
}

/** A peer broke the Whirlpool protocol (unexpected message, failed check). */
export class ProtocolError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProtocolError';
  }
}

/** The bitcoin node answered a JSON-RPC call with an error object. */
export class RpcError extends Error {
  /** JSON-RPC error code from the node (e.g. -5, -25, -26, -27). */
  readonly code: number;
  /** RPC method that failed. */
  readonly method: string;
  constructor(method: string, code: number, message: string, options?: ErrorOptions) {
    super(`RPC ${method} failed (${code}): ${message}`, options);
    this.name = 'RpcError';
    this.method = method;
    this.code = code;
  }
}

/** Core code -25 (RPC_VERIFY_ERROR): general error during transaction submission. */
export class RpcVerifyError extends RpcError {
  override name = 'RpcVerifyError';
}

/** Core code -26 (RPC_VERIFY_REJECTED): transaction rejected by network rules. */
export class RpcVerifyRejectedError extends RpcError {
  override name = 'RpcVerifyRejectedError';
}

/** Core code -27 (RPC_VERIFY_ALREADY_IN_CHAIN): transaction already in the chain. */
export class RpcAlreadyInChainError extends RpcError {
  override name = 'RpcAlreadyInChainError';
}

/** The node could not be reached or answered something that is not JSON-RPC. */
export class RpcTransportError extends Error {
  /** RPC method that was being called. */
  readonly method: string;
  constructor(method: string, message: string, options?: ErrorOptions) {
    super(`RPC ${method} transport error: ${message}`, options);
    this.name = 'RpcTransportError';
    this.method = method;
  }
}
