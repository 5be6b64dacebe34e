/**
 * Whirlpool 0.23 wire constants: protocol version, STOMP destinations and
 * headers, REST paths, and the Java class names that the `messageType` header
 * of every server→client MESSAGE must carry (spec §1.3, §1.4, §1.5.3).
 *
 * @module
 */

/** Protocol version string; clients stop on any other `protocolVersion` header (spec §0.3). */
export const PROTOCOL_VERSION = '0.23';

/**
 * Payload name → fully-qualified Java class name sent in the `messageType`
 * header (spec §1.5.3). Clients call `Class.forName(messageType)`, so these
 * strings must match byte for byte.
 */
export const MESSAGE_TYPES = {
  SubscribePoolResponse: 'com.samourai.whirlpool.protocol.websocket.messages.SubscribePoolResponse',
  ConfirmInputResponse: 'com.samourai.whirlpool.protocol.websocket.messages.ConfirmInputResponse',
  ErrorResponse: 'com.samourai.whirlpool.protocol.websocket.messages.ErrorResponse',
  ConfirmInputMixStatusNotification:
    'com.samourai.whirlpool.protocol.websocket.notifications.ConfirmInputMixStatusNotification',
  RegisterOutputMixStatusNotification:
    'com.samourai.whirlpool.protocol.websocket.notifications.RegisterOutputMixStatusNotification',
  RevealOutputMixStatusNotification:
    'com.samourai.whirlpool.protocol.websocket.notifications.RevealOutputMixStatusNotification',
  SigningMixStatusNotification:
    'com.samourai.whirlpool.protocol.websocket.notifications.SigningMixStatusNotification',
  SuccessMixStatusNotification:
    'com.samourai.whirlpool.protocol.websocket.notifications.SuccessMixStatusNotification',
  FailMixStatusNotification:
    'com.samourai.whirlpool.protocol.websocket.notifications.FailMixStatusNotification',
  /** Cluster addendum (shared/protocol/redirect.ts): sent only to clients announcing `acceptRedirect:true`. */
  RedirectResponse: 'com.samourai.whirlpool.protocol.websocket.messages.RedirectResponse',
} as const;

/** Name of a server→client STOMP payload (a key of {@link MESSAGE_TYPES}). */
export type MessageTypeName = keyof typeof MESSAGE_TYPES;

/** STOMP endpoint every client connects to (SockJS and raw WebSocket below it). */
export const WS_CONNECT = '/ws/connect';
/** SEND destination of `RegisterInputRequest` (also registered as a STOMP endpoint, spec §1.4). */
export const WS_REGISTER_INPUT = '/ws/registerInput';
/** SEND destination of `ConfirmInputRequest`. */
export const WS_CONFIRM_INPUT = '/ws/confirmInput';
/** SEND destination of `RevealOutputRequest`. */
export const WS_REVEAL_OUTPUT = '/ws/revealOutput';
/** SEND destination of `SigningRequest`. */
export const WS_SIGNING = '/ws/signing';
/** The only destinations a client may SEND to (Spring Security messaging rule, spec §1.5.1). */
export const WS_SEND_DESTINATIONS: readonly string[] = [
  WS_CONNECT,
  WS_REGISTER_INPUT,
  WS_CONFIRM_INPUT,
  WS_REVEAL_OUTPUT,
  WS_SIGNING,
];
/** Every path registered as a STOMP endpoint by the reference (spec §1.4). */
export const WS_ENDPOINTS: readonly string[] = WS_SEND_DESTINATIONS;

/** User destination prefix (`setUserDestinationPrefix`). */
export const USER_DESTINATION_PREFIX = '/private';
/** Broker reply destination inside the user prefix. */
export const REPLY_DESTINATION = '/reply';
/** Destination clients subscribe to and that every server MESSAGE carries (spec §1.5.2). */
export const PRIVATE_REPLY = '/private/reply';

/** REST: list pools (`PoolsResponse`). */
export const REST_POOLS = '/rest/pools';
/** REST: Tx0 parameters (`Tx0DataResponse`), query `poolId`, `scode`. */
export const REST_TX0 = '/rest/tx0';
/** REST: `POST /rest/tx0/v1` (G5+: 46-byte payloads for the 80-byte V1 OP_RETURN, addendum §3.4). */
export const REST_TX0_V1 = '/rest/tx0/v1';
/** REST: `POST /rest/tx0/push` (G4+: the coordinator broadcasts the Tx0, addendum §3.6). */
export const REST_TX0_PUSH = '/rest/tx0/push';
/** REST: `POST /rest/tx0Notify` (G1–G3; answered 200 with an empty body, addendum §3.5). */
export const REST_TX0_NOTIFY = '/rest/tx0Notify';
/** REST: `POST /rest/checkOutput` (G1+, addendum §3.7). */
export const REST_CHECK_OUTPUT = '/rest/checkOutput';
/** Default `partnerId` of every whirlpool-client (addendum §4.2). */
export const PARTNER_ID_SAMOURAI = 'SAMOURAI';
/** Scode payload reserved for cascading Tx0s (addendum §4.9). */
export const CASCADING_SCODE_PAYLOAD = 22222;
/** REST: unlinkable output registration (`RegisterOutputRequest`). */
export const REST_REGISTER_OUTPUT = '/rest/registerOutput';
/** REST: health check (`HealthResponse`). */
export const REST_HEALTH = '/rest/system/health';

/** STOMP header naming the Java class of a MESSAGE payload. */
export const HEADER_MESSAGE_TYPE = 'messageType';
/** STOMP and HTTP header carrying {@link PROTOCOL_VERSION}. */
export const HEADER_PROTOCOL_VERSION = 'protocolVersion';
/** STOMP header selecting the pool (CONNECT, SUBSCRIBE). */
export const HEADER_POOL_ID = 'poolId';

/** Content type of every JSON MESSAGE body (Spring's Jackson converter). */
export const CONTENT_TYPE_JSON = 'application/json;charset=UTF-8';

/** Default STOMP heart-beat of the reference broker and Java client, in ms (spec §1.5.4). */
export const STOMP_HEARTBEAT_MS = 20_000;
