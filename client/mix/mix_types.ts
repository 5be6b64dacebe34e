/**
 * Types shared by the mix session and the library API: the UTXO to mix, the
 * receive-address reservation, phases, events, and outcomes (spec §9.2–9.5).
 *
 * @module
 */

/** A P2WPKH UTXO to mix, with its key. */
export interface MixUtxo {
  txid: string;
  vout: number;
  value: number;
  privateKey: Uint8Array;
  /** 33-byte compressed public key. */
  publicKey: Uint8Array;
}

/** A reserved postmix receive address (spec §4.10). */
export interface ReceiveAddress {
  address: string;
  /** Called when registerOutput is posted (the index is never reused, even if the POST fails). */
  confirm(): void;
  /** Called when the attempt is reset before REGISTER_OUTPUT (the index becomes reusable). */
  release(): void;
}

/** Reserves a fresh postmix receive address for one CONFIRM_INPUT. */
export type ReceiveAddressProvider = () => ReceiveAddress;

/** How the mix session reaches the STOMP endpoint. */
export type MixTransport =
  /** Raw WebSocket, one STOMP frame per message (Android client), on `wsPath`. */
  | 'websocket'
  /** SockJS WebSocket transport after `GET /ws/connect/info` (Java client). */
  | 'sockjs';

/** Phases a mix attempt reports, in their usual order. */
export type MixPhase =
  | 'CONNECTING'
  | 'CONNECTED'
  | 'REGISTERING_INPUT'
  | 'REGISTERED_INPUT'
  | 'CONFIRMING_INPUT'
  | 'CONFIRMED_INPUT'
  | 'REGISTERING_OUTPUT'
  | 'REGISTERED_OUTPUT'
  | 'REVEALED_OUTPUT'
  | 'SIGNING'
  | 'SIGNED'
  | 'SUCCESS'
  | 'FAIL';

/** Why an attempt ended without success (spec §9.5). */
export type MixFailReason =
  | 'MIX_FAILED'
  | 'DISCONNECTED'
  | 'INPUT_REJECTED'
  | 'INTERNAL_ERROR'
  | 'PROTOCOL_MISMATCH'
  | 'STOPPED';

/** The output a successful mix created for this client. */
export interface MixedUtxo {
  txid: string;
  vout: number;
  value: number;
  address: string;
}

/** Outcome of one mix attempt. */
export type MixOutcome =
  | { status: 'SUCCESS'; mixId: string; receiveUtxo: MixedUtxo; liquidity: boolean }
  | { status: 'FAIL'; reason: MixFailReason; message: string; mixId: string | null };

/** Events of a mix session or handle. */
export interface MixEvents {
  /** A new phase was reached (with the mixId once known). */
  phase: [phase: MixPhase, detail: { mixId: string | null; poolId: string }];
  /** The connection was lost or could not be opened; a new attempt follows in `delayMs`. */
  reconnect: [info: { delayMs: number; lost: boolean; reason: string }];
  /** Cluster addendum: the coordinator redirected the session to another instance. */
  redirect: [info: { from: string; to: string; instanceId: string; epoch: number }];
  /** An attempt finished (one handle may run several attempts). */
  attempt: [outcome: MixOutcome];
}
