/**
 * Pure checks of the client's network identities (issue 12, spec §1.2, §9.6):
 * whether `POST /rest/registerOutput` would leave from the same IP address
 * or the same Tor circuit as the input's WebSocket, which lets the
 * coordinator (or anyone watching both) link the input to its output. The
 * client turns each finding into a loud warning; it does not refuse to run
 * (regtest and local tests legitimately use one identity).
 *
 * @module
 */
import type { NetworkName } from '#shared/bitcoin/network.ts';

/** How the client's traffic leaves, as configured. */
export interface NetworkIdentityConfig {
  network: NetworkName;
  /** SOCKS5 proxy of the inputs' WebSockets and REST (fresh credentials per attempt / request), or none. */
  socksProxy?: string | null;
  /** SOCKS5 proxy of registerOutput only (fresh credentials per request), or none. */
  registerOutputProxy?: string | null;
  /** A caller-supplied fetch for REST (and registerOutput unless `registerOutputFetch`). */
  fetch?: unknown;
  /** A caller-supplied registerOutput fetch. */
  registerOutputFetch?: unknown;
  /** True when the caller supplied its own WebSocket options / agent. */
  customWebSocket?: boolean;
}

/**
 * The reasons registerOutput could be linked to the input, as warning
 * texts (empty when the configuration separates them):
 * - registerOutput uses the very fetch of the other REST calls (same
 *   identity, a caller-supplied one);
 * - no proxy and no caller-supplied transport at all on mainnet: input and
 *   output come from one IP address;
 * - inputs through a proxy and registerOutput directly, or the reverse, on
 *   mainnet, is fine: the two identities differ.
 */
export function linkabilityWarnings(c: NetworkIdentityConfig): string[] {
  const out: string[] = [];
  const outputProxy = c.registerOutputProxy ?? null;
  const inputProxy = c.socksProxy ?? null;
  if (
    c.registerOutputFetch === undefined &&
    outputProxy === null &&
    c.fetch !== undefined &&
    inputProxy === null
  ) {
    out.push(
      'registerOutput uses the same fetch (the same network identity) as the other requests: the coordinator can link your input to your output. Give registerOutput its own fetch or a SOCKS proxy.',
    );
  }
  if (c.registerOutputFetch !== undefined && c.registerOutputFetch === c.fetch) {
    out.push(
      'registerOutputFetch is the same fetch as the REST one: registerOutput leaves with the same network identity as the input, and the coordinator can link them.',
    );
  }
  const direct =
    inputProxy === null &&
    outputProxy === null &&
    c.fetch === undefined &&
    c.registerOutputFetch === undefined &&
    !c.customWebSocket;
  if (direct && c.network === 'mainnet') {
    out.push(
      'No proxy: registerOutput leaves from the same IP address as your input, so the coordinator can link your input to your output. Use --socks-proxy (Tor) — every request and mix attempt then gets its own circuit.',
    );
  }
  return out;
}
