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

/** Locates coordinators through the verified directory. */
export class DirectoryLocator implements CoordinatorLocator {
  readonly directory: DirectoryClient;

  constructor(directory: DirectoryClient) {
    this.directory = directory;
  }

  async restUrl(opts: { refresh?: boolean } = {}): Promise<string> {
    return (await this.directory.randomInstance(opts)).url;
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
