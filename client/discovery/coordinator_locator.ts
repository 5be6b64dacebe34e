/**
 * Where the client library sends its requests: {@link FixedLocator} (one
 * coordinator URL, 0.23 behaviour) or {@link DirectoryLocator} (a verified
 * directory from {@link DirectoryClient}: REST to a random live instance,
 * each mix session to the owner of its pool, refreshed when the pool moves).
 *
 * @module
 */
import { type DirectoryClient, DiscoveryError, type MirrorFailure } from './directory_client.ts';

/** Why a mix session asks for a URL (again). */
export interface LocateHint {
  /** `start`: first connection; `redirect`: RedirectResponse received; `lost`: connection lost; `failed`: connect failed. */
  reason: 'start' | 'redirect' | 'lost' | 'failed';
  /** Epoch announced by a RedirectResponse. */
  minEpoch?: number;
  /** URL named by a RedirectResponse (used when the directory lags behind it). */
  redirectTo?: string;
}

/** Finds the coordinator URL of REST calls and of each pool's mix sessions. */
export interface CoordinatorLocator {
  /** Base URL for `/rest/pools` and `/rest/tx0` (any live instance); `refresh` after a failed call. */
  restUrl(opts?: { refresh?: boolean }): Promise<string>;
  /** Base URL of the instance serving `poolId`. */
  mixUrl(poolId: string, hint?: LocateHint): Promise<string>;
  /** A REST call to `url` (from {@link restUrl}) could not reach it: avoid it for a while. */
  reportUnreachable(url: string): void;
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
   * The owner of `poolId`. After a redirect, a lost or a failed connection the
   * directory is refreshed first (`minEpoch` from the redirect); when the
   * refreshed directory still names an owner of a lower epoch than the
   * redirect, or cannot be read, the redirect's URL is followed
   * (docs/protocol-addendum-redirect.md §4: the higher epoch wins).
   */
  async mixUrl(poolId: string, hint: LocateHint = { reason: 'start' }): Promise<string> {
    const refresh = hint.reason !== 'start';
    try {
      const owner = await this.directory.ownerOf(poolId, { refresh, minEpoch: hint.minEpoch });
      if (hint.redirectTo && hint.minEpoch !== undefined && owner.epoch < hint.minEpoch)
        return hint.redirectTo;
      return owner.url;
    } catch (err) {
      if (hint.redirectTo) return hint.redirectTo;
      throw err;
    }
  }
}
