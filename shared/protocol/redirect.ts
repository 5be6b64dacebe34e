/**
 * Cluster addendum to Whirlpool 0.23: the `RedirectResponse` a coordinator
 * instance sends instead of `SubscribePoolResponse` when the pool is served
 * by another instance of the same cluster (docs/protocol-addendum-redirect.md).
 * Only clients that announce support with the SUBSCRIBE (or CONNECT) header
 * `acceptRedirect:true` ever receive it: an unmodified 0.23 client would fail
 * on an unknown `messageType`.
 *
 * @module
 */
import { z } from 'zod';

/** `messageType` header of the redirect MESSAGE (styled after the 0.23 Java class names). */
export const REDIRECT_MESSAGE_TYPE = 'com.samourai.whirlpool.protocol.websocket.messages.RedirectResponse';

/** STOMP header (SUBSCRIBE or CONNECT) by which a client says it can follow redirects. */
export const HEADER_ACCEPT_REDIRECT = 'acceptRedirect';

/** True when the header value announces redirect support (`true` or `1`, case-insensitive). */
export function acceptsRedirect(value: string | undefined): boolean {
  return value !== undefined && /^(true|1)$/i.test(value.trim());
}

/** Body of the redirect MESSAGE: where the pool lives now. */
export const RedirectResponseSchema = z.object({
  /** The pool the client subscribed to. */
  poolId: z.string().min(1),
  /** Id of the instance serving it. */
  instanceId: z.string().min(1),
  /** Base URL (no trailing slash) of that instance on clearnet, or null. */
  urlClear: z.string().nullable(),
  /** Base URL of that instance as a Tor onion service, or null. */
  urlOnion: z.string().nullable(),
  /** Lease epoch of the owner: on conflicting information the higher epoch wins. */
  epoch: z.number().int().nonnegative(),
});

/** Parsed {@link RedirectResponseSchema}. */
export type RedirectResponse = z.infer<typeof RedirectResponseSchema>;

/**
 * The base URL a client should reconnect to: the onion URL when it uses Tor
 * and one is published, else the clear URL, else the onion URL; null when the
 * redirect names no usable URL.
 */
export function redirectTarget(r: RedirectResponse, preferOnion: boolean): string | null {
  const pick = preferOnion ? (r.urlOnion ?? r.urlClear) : (r.urlClear ?? r.urlOnion);
  return pick ? pick.replace(/\/+$/, '') : null;
}
