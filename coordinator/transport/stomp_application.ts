/**
 * The contract between the transport and the application behind it: the
 * {@link ClientSession} the transport hands out for every STOMP connection and
 * the {@link StompApplication} (the mix engine) it calls for SUBSCRIBE, SEND
 * and disconnects (docs/module-map.md, "coordinator/").
 *
 * @module
 */
import type { MESSAGE_TYPES } from '#shared/protocol/constants.ts';

/** Which transport carries a session. */
export type TransportKind = 'websocket' | 'sockjs-websocket' | 'sockjs-xhr';

/** One STOMP session as the application sees it. */
export interface ClientSession {
  /** STOMP session id = Whirlpool username (also the `user-name` of CONNECTED). */
  readonly id: string;
  /** Remote IP address of the connection. */
  readonly ip: string;
  /** Headers of the CONNECT frame (first occurrence of each name). */
  readonly connectHeaders: ReadonlyMap<string, string>;
  readonly transport: TransportKind;
  /**
   * Sends a MESSAGE with the payload as JSON to every `/private/reply`
   * subscription of this session, in call order; dropped when there is none
   * or the session is closed.
   */
  sendPrivate(payloadName: keyof typeof MESSAGE_TYPES, payload: unknown): void;
  /** Server-initiated close; `onDisconnect` follows (once). */
  close(reason?: string): void;
  readonly closed: boolean;
}

/** What the transport calls; implemented by the mix engine. Exceptions are logged and swallowed. */
export interface StompApplication {
  /** A SUBSCRIBE was accepted (any destination; `headers` first-wins). */
  onSubscribe(session: ClientSession, destination: string, headers: ReadonlyMap<string, string>): void;
  /**
   * A SEND to one of the five `/ws/*` destinations; `body` is the UTF-8 text
   * of the frame body. A returned promise settles when the SEND is handled:
   * the transport holds at most a few such SENDs per session (back-pressure).
   */
  onSend(
    session: ClientSession,
    destination: string,
    headers: ReadonlyMap<string, string>,
    body: string,
  ): unknown;
  /** The session ended (client close, error, heart-beat timeout, server close); called exactly once per connected session. */
  onDisconnect(session: ClientSession): void;
}
