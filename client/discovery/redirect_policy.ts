/**
 * Pure decisions about where a client may go when a coordinator redirects
 * it (STOMP `RedirectResponse`, `POST /rest/registerOutput` answered 307) and
 * which instance URLs of a verified directory it may use at all.
 *
 * The rules (docs/directory.md §6):
 * - with a directory, a redirect is only a hint: the client goes to the
 *   *verified record* of the named instance (or of the instance whose
 *   published URL the 307 names), at that record's URL on the client's
 *   network, never to the URL carried by the redirect; without such a record
 *   the redirect is refused;
 * - never from an onion URL to a clear one, never from `https:` to `http:`;
 * - a clear URL of a record must be `https:` — `http:` is refused, except on
 *   a loopback host or when insecure URLs are allowed (regtest), and then
 *   with a warning.
 *
 * @module
 */
import type { DirectoryRecord } from '#shared/directory/record.ts';
import { REST_REGISTER_OUTPUT } from '#shared/protocol/constants.ts';

/** A redirect the client refuses to follow; the attempt is given up (not a connection failure). */
export class RedirectRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedirectRefusedError';
  }
}

/** Which URLs of the directory the client uses. */
export type DirectoryNetwork = 'clear' | 'onion';

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** True when `url` names a Tor onion service. */
export function isOnionUrl(url: string): boolean {
  try {
    return new URL(url).hostname.toLowerCase().endsWith('.onion');
  } catch {
    return false;
  }
}

/** Base URL without trailing slashes. */
export function normalizeBase(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * Whether a record's clear URL may be used: `https:` always; `http:` only on
 * loopback or with `allowInsecure` (regtest), then with a warning; anything
 * else (or a clear URL that is really an onion) is refused with the reason.
 */
export function clearUrlVerdict(
  url: string,
  allowInsecure: boolean,
): { use: true; warning: string | null } | { use: false; reason: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { use: false, reason: `'${url}' is not a URL` };
  }
  if (u.hostname.toLowerCase().endsWith('.onion')) {
    return { use: false, reason: `clear URL '${url}' names an onion service` };
  }
  if (u.protocol === 'https:') return { use: true, warning: null };
  if (u.protocol !== 'http:') return { use: false, reason: `'${url}' is not http(s)` };
  if (isLoopbackHost(u.hostname) || allowInsecure) {
    return {
      use: true,
      warning: `Coordinator clear URL '${url}' is not https: traffic to it can be read and altered on the way (allowed for ${isLoopbackHost(u.hostname) ? 'a loopback host' : 'regtest'} only)`,
    };
  }
  return { use: false, reason: `clear URL '${url}' is not https (refused outside loopback and regtest)` };
}

/** The URL of a verified record on `network`, or why it has none usable. */
export function recordUrl(
  r: DirectoryRecord,
  network: DirectoryNetwork,
  allowInsecure: boolean,
): { url: string; warning: string | null } | { url: null; reason: string } {
  if (network === 'onion') {
    if (!r.urlOnion) return { url: null, reason: `instance '${r.instanceId}' publishes no onion URL` };
    if (!isOnionUrl(r.urlOnion))
      return { url: null, reason: `onion URL '${r.urlOnion}' of '${r.instanceId}' is not an onion` };
    return { url: normalizeBase(r.urlOnion), warning: null };
  }
  const v = clearUrlVerdict(r.urlClear, allowInsecure);
  if (!v.use) return { url: null, reason: `instance '${r.instanceId}': ${v.reason}` };
  return { url: normalizeBase(r.urlClear), warning: v.warning };
}

/**
 * The verified record a registerOutput 307 `Location` points at: the record
 * one of whose published base URLs (clear or onion) plus
 * `/rest/registerOutput` is exactly the Location (after resolving it against
 * the request URL). Null when none is.
 */
export function recordForLocation(
  records: Iterable<DirectoryRecord>,
  location: string,
  requestUrl: string,
): DirectoryRecord | null {
  let target: string;
  try {
    const u = new URL(location, requestUrl);
    if (u.search || u.hash) return null;
    target = u.href;
  } catch {
    return null;
  }
  for (const r of records) {
    for (const base of [r.urlClear, r.urlOnion]) {
      if (!base) continue;
      try {
        if (new URL(`${normalizeBase(base)}${REST_REGISTER_OUTPUT}`).href === target) return r;
      } catch {
        // unparsable published URL: cannot match
      }
    }
  }
  return null;
}

/**
 * Without a directory (one configured coordinator URL): whether a redirect
 * from `from` to `to` may be followed. Refused: not http(s), onion → clear,
 * `https:` → `http:` (a downgrade exposes the request on the way).
 */
export function unverifiedRedirectVerdict(
  from: string,
  to: string,
): { ok: true } | { ok: false; reason: string } {
  let f: URL;
  let t: URL;
  try {
    f = new URL(from);
    t = new URL(to, from);
  } catch {
    return { ok: false, reason: `redirect target '${to}' is not a URL` };
  }
  if (t.protocol !== 'http:' && t.protocol !== 'https:')
    return { ok: false, reason: `redirect target '${t.href}' is not http(s)` };
  const fromOnion = f.hostname.toLowerCase().endsWith('.onion');
  const toOnion = t.hostname.toLowerCase().endsWith('.onion');
  if (fromOnion && !toOnion)
    return { ok: false, reason: `redirect from an onion service to the clear URL '${t.href}' refused` };
  if (!toOnion && f.protocol === 'https:' && t.protocol === 'http:')
    return { ok: false, reason: `redirect from https to '${t.href}' (http) refused` };
  return { ok: true };
}
