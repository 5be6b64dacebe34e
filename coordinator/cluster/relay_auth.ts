/**
 * Instance-to-instance relay links (issue 12): which links a relaying
 * instance may dial, and the minimal authentication of the relayed client's
 * IP address.
 *
 * - {@link relayLink}: an owner on a non-loopback host is dialled only over
 *   TLS (`https:` / `wss:` base URL → `wss:`); `http:` / `ws:` only to a
 *   loopback owner (127.0.0.0/8, ::1, localhost). Otherwise the relay is
 *   refused (the client gets the 0.23 "served by another instance" error).
 * - {@link relayClaim} / {@link verifyRelayClaim}: with a cluster-wide shared
 *   secret (`WHIRLPOOL_RELAY_SECRET`), the relay sends `relayAuth:
 *   v1.<unix ms>.<HMAC-SHA256 hex>` over `relayedBy`, the owner's instance id,
 *   the client IP and the time. The owner accepts `relayClientIp` only when
 *   the HMAC verifies, names it, and is at most {@link RELAY_AUTH_MAX_SKEW_MS}
 *   old or early. The secret itself never travels; a captured header only
 *   vouches for that one IP at that one owner for a minute. The claim (and
 *   the IP) are sent only over TLS or loopback, never in clear.
 *
 * Pure except for the HMAC (node:crypto).
 *
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** CONNECT header carrying the relay's HMAC claim over the client IP. */
export const HEADER_RELAY_AUTH = 'relayAuth';

/** Largest accepted distance between a claim's time and the owner's clock. */
export const RELAY_AUTH_MAX_SKEW_MS = 60_000;

/** Smallest accepted shared secret (characters). */
export const RELAY_SECRET_MIN_LENGTH = 32;

/** True for a loopback host name or address (`localhost`, 127.0.0.0/8, ::1). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

/** The WebSocket URL a relay dials for an owner, and whether the link is private (TLS or loopback). */
export interface RelayLink {
  /** `ws[s]://host/…/ws/connect`. */
  url: string;
  /** TLS or loopback: the relayed client's IP (and claim) may be sent. */
  private: boolean;
}

/**
 * The link to an owner's base URL (`wsPath` appended). Throws for an
 * unsupported scheme and for a clear (`http:`/`ws:`) link to a non-loopback
 * host: relayed STOMP frames carry what the client sent over its own
 * (possibly encrypted) connection and must not cross the network in clear.
 */
export function relayLink(baseUrl: string, wsPath: string): RelayLink {
  const u = new URL(baseUrl);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:')
    throw new Error(`Cannot relay to "${baseUrl}": unsupported URL scheme "${u.protocol}"`);
  const tls = u.protocol === 'wss:';
  const loopback = isLoopbackHost(u.hostname);
  if (!tls && !loopback) {
    throw new Error(`Cannot relay to "${baseUrl}": a non-loopback owner is only dialled over TLS (https)`);
  }
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${wsPath}`;
  u.search = '';
  u.hash = '';
  return { url: u.toString(), private: tls || loopback };
}

/** What a relay claim vouches for. */
export interface RelayClaimFields {
  /** Instance id of the relaying instance (`relayedBy`). */
  relayedBy: string;
  /** Instance id of the owner the claim is for. */
  ownerId: string;
  clientIp: string;
}

function mac(secret: string, c: RelayClaimFields, atMs: number): string {
  return createHmac('sha256', secret)
    .update(`whirlpool-relay-v1\n${c.relayedBy}\n${c.ownerId}\n${c.clientIp}\n${atMs}`)
    .digest('hex');
}

/** The `relayAuth` header value for `c` at `nowMs`. */
export function relayClaim(secret: string, c: RelayClaimFields, nowMs: number): string {
  return `v1.${nowMs}.${mac(secret, c, nowMs)}`;
}

/** True when `header` is a valid claim for `c` by `secret`, made within {@link RELAY_AUTH_MAX_SKEW_MS} of `nowMs`. */
export function verifyRelayClaim(
  secret: string,
  header: string | undefined,
  c: RelayClaimFields,
  nowMs: number,
): boolean {
  const m = header === undefined ? null : /^v1\.(\d{1,15})\.([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const at = Number(m[1]);
  if (Math.abs(nowMs - at) > RELAY_AUTH_MAX_SKEW_MS) return false;
  const expected = Buffer.from(mac(secret, c, at), 'hex');
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}
