/**
 * Where the client library sends its requests: {@link FixedLocator} (one
 * coordinator URL, 0.23 behaviour) or {@link DirectoryLocator} (a verified
 * directory from {@link DirectoryClient}: REST to a random live instance,
 * each mix session to the owner of its pool, refreshed when the pool moves).
 *
 * @module
 */
import { REST_REGISTER_OUTPUT } from '#shared/protocol/constants.ts';
import { type DirectoryClient, DiscoveryError, type MirrorFailure } from './directory_client.ts';
import { RedirectRefusedError, unverifiedRedirectVerdict } from './redirect_policy.ts';

/** Why a mix session asks for a URL (again). */
export interface LocateHint {
  /** `start`: first connection; `redirect`: RedirectResponse received; `lost`: connection lost; `failed`: connect failed. */
  reason: 'start' | 'redirect' | 'lost' | 'failed';
  /** Instance named by a RedirectResponse (only its verified directory record is used, never the redirect's URLs). */
  instanceId?: string;
  /** Epoch announced by a RedirectResponse (informative: only a reason to refresh the directory). */
  minEpoch?: number;
}

/** Finds the coordinator URL of REST calls and of each pool's mix sessions. */
export interface CoordinatorLocator {
  /** Base URL for `/rest/pools` and `/rest/tx0` (any live instance); `refresh` after a failed call. */
  restUrl(opts?: { refresh?: boolean }): Promise<string>;
  /** Base URL of the instance serving `poolId`. */
  mixUrl(poolId: string, hint?: LocateHint): Promise<string>;
  /** A REST call to `url` (from {@link restUrl}) could not reach it: avoid it for a while. */
  reportUnreachable(url: string): void;
  /**
   * Where to re-POST a registerOutput answered 307 with `location` (from
   * `requestUrl`): the absolute URL, or a {@link RedirectRefusedError}.
   */
  registerOutputRedirect(location: string, requestUrl: string): Promise<string>;
}

/**
 * Follows a 307 without a directory (one configured coordinator): the
 * Location itself, unless it goes from an onion to a clear host or from
 * https to http ({@link unverifiedRedirectVerdict}).
 */
export function followUnverifiedRedirect(location: string, requestUrl: string): Promise<string> {
  const v = unverifiedRedirectVerdict(requestUrl, location);
  if (!v.ok) return Promise.reject(new RedirectRefusedError(v.reason));
  return Promise.resolve(new URL(location, requestUrl).href);
}

/** One fixed coordinator URL (0.23 behaviour). */
export class FixedLocator implements CoordinatorLocator {
  readonly url: string;
  constructor(url: string) {
    this.url = url;
  }
  restUrl(): Promise<string> {
    return Promise.resolve(this.url);
  }
  mixUrl(): Promise<string> {
    return Promise.resolve(this.url);
  }
  reportUnreachable(): void {
    // one URL: nothing else to try
  }
  registerOutputRedirect(location: string, requestUrl: string): Promise<string> {
    return followUnverifiedRedirect(location, requestUrl);
  }
}

/** Failure reasons that mean "refused by verification", not "could not reach". */
const TRANSIENT: ReadonlySet<MirrorFailure['reason']> = new Set([
  'unreachable',
  'http-status',
  'bad-response',
]);

/**
 * True when discovery failed only because every entry served records that
 * failed verification (forged, altered, expired, replayed): retrying will not
 * help, the pinned key or the mirrors are wrong.
 */
export function isVerificationFailure(err: unknown): err is DiscoveryError {
  return (
    err instanceof DiscoveryError &&
    err.failures.length > 0 &&
    err.failures.every((f) => !TRANSIENT.has(f.reason))
  );
}

/** Options of {@link DirectoryLocator}. */
export interface DirectoryLocatorOptions {
  /**
   * How long (ms) an instance URL reported unreachable is avoided for REST
   * calls (default 60 000: the default directory record TTL, after which the
   * record of a killed instance has left the directory).
   */
  avoidUnreachableMs?: number;
  now?: () => number;
}

/**
 * Locates coordinators through the verified directory. REST calls avoid the
 * instances recently reported unreachable: the record of an instance killed
 * without withdrawing it stays in the directory until it expires, and picking
 * among all listed instances would keep sending REST calls to the dead one.
 */
export class DirectoryLocator implements CoordinatorLocator {
  readonly directory: DirectoryClient;
  readonly #avoidMs: number;
  readonly #now: () => number;
  /** Base URL → when a REST call last failed to reach it. */
  readonly #unreachable = new Map<string, number>();

  constructor(directory: DirectoryClient, opts: DirectoryLocatorOptions = {}) {
    this.directory = directory;
    this.#avoidMs = opts.avoidUnreachableMs ?? 60_000;
    this.#now = opts.now ?? Date.now;
  }

  async restUrl(opts: { refresh?: boolean } = {}): Promise<string> {
    const now = this.#now();
    for (const [url, at] of this.#unreachable) if (now - at >= this.#avoidMs) this.#unreachable.delete(url);
    if (this.#unreachable.size === 0) return (await this.directory.randomInstance(opts)).url;
    return (await this.directory.randomInstance({ ...opts, exclude: new Set(this.#unreachable.keys()) })).url;
  }

  reportUnreachable(url: string): void {
    this.#unreachable.set(url, this.#now());
  }

  /**
   * The owner of `poolId` from the verified directory; after a lost or a
   * failed connection the directory is refreshed first. After a redirect the
   * directory is refreshed (the redirect's epoch is only a reason to look
   * again: a hostile instance can claim any epoch) and the session goes to
   * the verified record of the instance the redirect names, at that record's
   * URL on the client's network; no such record (unknown instance, no mirror
   * answers and none known) ⇒ {@link RedirectRefusedError}, the attempt is
   * given up.
   */
  async mixUrl(poolId: string, hint: LocateHint = { reason: 'start' }): Promise<string> {
    if (hint.reason === 'redirect') {
      if (!hint.instanceId) throw new RedirectRefusedError(`Redirect for pool '${poolId}' names no instance`);
      await this.#refreshQuietly();
      return this.directory.verifiedInstance(hint.instanceId).url;
    }
    const refresh = hint.reason !== 'start';
    return (await this.directory.ownerOf(poolId, { refresh })).url;
  }

  /**
   * A 307 of registerOutput: re-POST to the verified instance publishing the
   * Location's URL (refreshing the directory once when none does), at its
   * record's URL on the client's network; else {@link RedirectRefusedError}.
   */
  async registerOutputRedirect(location: string, requestUrl: string): Promise<string> {
    let inst = this.directory.instanceForLocation(location, requestUrl);
    if (!inst) {
      await this.#refreshQuietly();
      inst = this.directory.instanceForLocation(location, requestUrl);
    }
    if (!inst)
      throw new RedirectRefusedError(
        `registerOutput redirect to '${location}', which no verified directory record publishes`,
      );
    return `${inst.url}${REST_REGISTER_OUTPUT}`;
  }

  /** Refreshes the directory; when no mirror answers, the records already verified (unexpired) still count. */
  async #refreshQuietly(): Promise<void> {
    try {
      await this.directory.refresh();
    } catch (err) {
      if (!(err instanceof DiscoveryError)) throw err;
    }
  }
}
