/**
 * The part of a transport `ClientSession` (coordinator/transport) the engine
 * uses. Declared structurally so the engine does not depend on the transport
 * module; every `ClientSession` is a {@link MixSession}.
 *
 * @module
 */
import type { MessageTypeName } from '#shared/protocol/constants.ts';

/** One STOMP session: the Whirlpool user (`id`) owning at most one UTXO. */
export interface MixSession {
  /** STOMP session id = Whirlpool username. */
  readonly id: string;
  readonly ip: string;
  /** Sends a MESSAGE to the session's `/private/reply` subscription, in call order. */
  sendPrivate(payloadName: MessageTypeName, payload: unknown): void;
  /** Server-initiated close. */
  close(reason?: string): void;
  readonly closed: boolean;
}
