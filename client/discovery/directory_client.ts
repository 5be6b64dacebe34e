/**
 * Client-side discovery: given a bootstrap list (mirror URLs and coordinator
 * instance URLs, all serving `GET /instances`) and the pinned directory
 * public key, fetch the directory from a random reachable entry, verify every
 * record, and answer "which instance owns pool X" or "give me any instance".
 *
 * A mirror whose answer holds any record that fails verification (forged,
 * altered, expired, not canonical) is skipped as a whole, as is one that
 * replays a record much older than one already seen for the same instance;
 * the client then tries the next entry. The pool map is rebuilt locally from
 * verified records only (the map in the response is ignored), the higher
 * lease epoch winning a conflict. Each verified answer replaces the known
 * instance list (a drained instance that withdrew its record disappears),
 * but never with an older record of an instance, and a known record that
 * still wins a pool on epoch is kept until it expires, so a lagging or
 * withholding mirror cannot move a pool back.
 *
 * @module
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { type Directory, mergeDirectoryRecords } from '#shared/directory/pool_map.ts';
import type { DirectoryRecord, SignedDirectoryRecord } from '#shared/directory/record.ts';
import {
  DirectoryResponseSchema,
  INSTANCES_PATH,
  MAX_DIRECTORY_RESPONSE_BYTES,
} from '#shared/directory/response.ts';
import {
  type CertificateCache,
  type DirectoryTrust,
  DirectoryVerificationError,
  verifyDirectoryRecord,
} from '#shared/directory/signing.ts';
import {
  type DirectoryNetwork,
  RedirectRefusedError,
  recordForLocation,
  recordUrl,
} from './redirect_policy.ts';

/** Options of {@link DirectoryClient}. */
export interface DiscoveryOptions {
  /** Base URLs of bootstrap mirrors and coordinator instances (`/instances` is appended). */
  bootstrapUrls: readonly string[];
  /**
   * Pinned root public keys (32 bytes or 64 hex each; several for rotation):
   * records must carry a certificate of their instance key by one of them
   * (record version 2). Exactly one of `rootKeys` and `publicKey`.
   */
  rootKeys?: ReadonlyArray<Uint8Array | string>;
  /** Legacy single-key mode: the one directory key that signs every record (version 1). */
  publicKey?: Uint8Array | string;
  /** Largest response body read, bytes (default 1 MiB); a larger one is aborted and the entry skipped. */
  maxResponseBytes?: number;
  /** Per-entry request timeout, ms (default 5000). */
  timeoutMs?: number;
  /** Which instance URL to hand out: clear net (default) or Tor. */
  network?: DirectoryNetwork;
  /**
   * Use `http:` clear URLs of non-loopback hosts (regtest only; default
   * false: such a record's clear URL is refused, with a warning). Loopback
   * `http:` URLs are always usable, with a warning.
   */
  allowInsecureClear?: boolean;
  /** Where warnings go (insecure URLs); default `console.warn`. Each distinct warning is given once. */
  onWarning?: (message: string) => void;
  /** Clock tolerance for record expiry, ms (default 30 000). */
  clockSkewMs?: number;
  /**
   * A mirror serving a record older than one already verified for the same
   * instance by more than this (ms, default 60 000) is treated as replaying
   * and skipped. Keep it above the publishers' interval plus cache time.
   */
  maxLagMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  random?: () => number;
}

/** Why one bootstrap entry was skipped. */
export interface MirrorFailure {
  url: string;
  reason: 'unreachable' | 'http-status' | 'bad-response' | 'replayed' | DirectoryVerificationError['reason'];
  message: string;
}

/** No bootstrap entry gave a valid directory, or the asked-for pool has no owner. */
export class DiscoveryError extends Error {
  /** Per-entry failures of the last refresh (empty for an unknown pool). */
  readonly failures: readonly MirrorFailure[];
  constructor(message: string, failures: readonly MirrorFailure[] = [], options?: { cause?: unknown }) {
    super(
      failures.length ? `${message}: ${failures.map((f) => `${f.url}: ${f.message}`).join('; ')}` : message,
      options,
    );
    this.name = 'DiscoveryError';
    this.failures = failures;
  }
}

/** An instance as the client uses it. */
export interface DiscoveredInstance {
  instanceId: string;
  /** Base URL on the chosen network. */
  url: string;
  urlClear: string;
  urlOnion: string | null;
  state: DirectoryRecord['state'];
}

/** Where a pool is served. */
export interface PoolEndpoint extends DiscoveredInstance {
  poolId: string;
  epoch: number;
}

/** Work done so far (bounded whatever mirrors send): response bytes read and record verifications run. */
export interface DiscoveryStats {
  bytesRead: number;
  verifications: number;
}

/** Verifications between two yields to the event loop. */
const VERIFICATIONS_PER_YIELD = 16;

/** Result of one successful refresh. */
export interface RefreshResult {
  /** The entry that answered. */
  source: string;
  /** Entries skipped before it. */
  failures: MirrorFailure[];
  directory: Directory;
}

function instancesUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}${INSTANCES_PATH}`;
}

/** Discovery client; one per wallet / CLI process. */
export class DirectoryClient {
  readonly #urls: readonly string[];
  readonly #trust: DirectoryTrust;
  readonly #maxResponseBytes: number;
  readonly #stats: DiscoveryStats = { bytesRead: 0, verifications: 0 };
  readonly #timeoutMs: number;
  readonly #network: DirectoryNetwork;
  readonly #allowInsecureClear: boolean;
  readonly #onWarning: (message: string) => void;
  readonly #warned = new Set<string>();
  readonly #clockSkewMs: number;
  readonly #maxLagMs: number;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #random: () => number;
  /** Verified records kept across refreshes (newest per instance). */
  #known = new Map<string, DirectoryRecord>();
  #lastFailures: MirrorFailure[] = [];
  #refreshing: Promise<RefreshResult> | null = null;
  /** Last ETag and records per entry, for If-None-Match (a 304 answer is verified again like a full one). */
  readonly #etags = new Map<string, { etag: string; records: SignedDirectoryRecord[] }>();

  constructor(opts: DiscoveryOptions) {
    if (opts.bootstrapUrls.length === 0) throw new Error('Discovery needs at least one bootstrap URL');
    for (const u of opts.bootstrapUrls) {
      const p = new URL(u).protocol;
      if (p !== 'http:' && p !== 'https:') throw new Error(`Bootstrap URL '${u}' must be http(s)`);
    }
    this.#urls = [...opts.bootstrapUrls];
    const key = (k: Uint8Array | string) => {
      const b = typeof k === 'string' ? DirectoryClient.#parseKey(k) : k;
      if (b.length !== 32) throw new Error('Directory public key must be 32 bytes');
      return b;
    };
    if ((opts.rootKeys === undefined) === (opts.publicKey === undefined)) {
      throw new Error(
        'Discovery needs exactly one of rootKeys (pinned root keys) and publicKey (legacy single key)',
      );
    }
    if (opts.rootKeys) {
      if (opts.rootKeys.length === 0) throw new Error('Discovery needs at least one pinned root key');
      this.#trust = { rootKeys: opts.rootKeys.map(key) };
    } else {
      this.#trust = { singleKey: key(opts.publicKey!) };
    }
    this.#maxResponseBytes = opts.maxResponseBytes ?? MAX_DIRECTORY_RESPONSE_BYTES;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#network = opts.network ?? 'clear';
    this.#allowInsecureClear = opts.allowInsecureClear ?? false;
    this.#onWarning = opts.onWarning ?? ((m) => console.warn(`WARNING: ${m}`));
    this.#clockSkewMs = opts.clockSkewMs ?? 30_000;
    this.#maxLagMs = opts.maxLagMs ?? 60_000;
    this.#fetch = opts.fetch ?? ((input, init) => fetch(input, init));
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;
  }

  static #parseKey(hex: string): Uint8Array {
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error('Directory public key must be 64 hex characters');
    return hexToBytes(hex.toLowerCase());
  }

  /** The network whose URLs this client hands out. */
  get network(): DirectoryNetwork {
    return this.#network;
  }

  /** Bytes read and verifications run since construction. */
  stats(): DiscoveryStats {
    return { ...this.#stats };
  }

  /** Failures of the last refresh (entries skipped and why). */
  lastFailures(): readonly MirrorFailure[] {
    return this.#lastFailures;
  }

  /** The merged directory from verified, unexpired records (null before the first refresh). */
  current(): Directory | null {
    const now = this.#now();
    for (const [id, r] of this.#known) if (now >= r.expiresAt + this.#clockSkewMs) this.#known.delete(id);
    return this.#known.size ? mergeDirectoryRecords(this.#known.values()) : null;
  }

  /**
   * Fetches the directory from the bootstrap entries in random order until
   * one answers with a fully verified directory; merges it into the known
   * records. Concurrent calls share one refresh. Throws {@link DiscoveryError}
   * listing every entry's failure when none succeeds.
   */
  refresh(): Promise<RefreshResult> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<RefreshResult> {
    const order = [...this.#urls];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const failures: MirrorFailure[] = [];
    if (this.#known.size === 0 && order.length >= 2) {
      // first contact: ask two mirrors at once and merge what both verify, so
      // one mirror withholding a record (a new owner's) is not believed alone
      const pair = order.splice(0, 2);
      const results = await Promise.all(pair.map((u) => this.#tryMirror(u)));
      const good: DirectoryRecord[][] = [];
      for (const r of results) {
        if ('reason' in r) failures.push(r);
        else good.push(r);
      }
      if (good.length > 0) {
        this.#adopt(good.flat());
        this.#lastFailures = failures;
        const source = pair.filter((_, i) => !('reason' in results[i]!)).join(' + ');
        return { source, failures, directory: this.current() ?? { instances: new Map(), pools: new Map() } };
      }
    }
    for (const url of order) {
      const result = await this.#tryMirror(url);
      if ('reason' in result) {
        failures.push(result);
        continue;
      }
      this.#adopt(result);
      this.#lastFailures = failures;
      return {
        source: url,
        failures,
        directory: this.current() ?? { instances: new Map(), pools: new Map() },
      };
    }
    this.#lastFailures = failures;
    throw new DiscoveryError(
      `No bootstrap entry gave a valid directory (${failures.length} tried)`,
      failures,
    );
  }

  /**
   * Makes a verified answer the known directory: per instance the newer of
   * the answer's and the known record (no rollback); instances missing from
   * the answer are dropped (withdrawn on drain), except a record that still
   * wins a pool on epoch against the answer — a mirror cannot move a pool
   * back by leaving its current owner out.
   */
  #adopt(answer: readonly DirectoryRecord[]): void {
    const next = new Map<string, DirectoryRecord>();
    for (const r of answer) {
      const known = this.#known.get(r.instanceId);
      const kept = next.get(r.instanceId);
      const best = known && known.issuedAt > r.issuedAt ? known : r;
      if (!kept || best.issuedAt > kept.issuedAt) next.set(r.instanceId, best);
    }
    const answered = mergeDirectoryRecords(next.values());
    const now = this.#now();
    for (const [id, old] of this.#known) {
      if (next.has(id) || now >= old.expiresAt + this.#clockSkewMs) continue;
      const stillWins = old.pools.some((p) => {
        const owner = answered.pools.get(p.poolId);
        return !owner || p.epoch > owner.epoch;
      });
      if (stillWins) next.set(id, old);
    }
    this.#known = next;
  }

  async #tryMirror(url: string): Promise<DirectoryRecord[] | MirrorFailure> {
    let signedRecords: SignedDirectoryRecord[];
    const cached = this.#etags.get(url);
    try {
      const res = await this.#fetch(instancesUrl(url), {
        headers: cached
          ? { Accept: 'application/json', 'If-None-Match': cached.etag }
          : { Accept: 'application/json' },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      if (res.status === 304 && cached) {
        // unchanged since our last fetch from this entry: re-verify the same records (expiry moves on)
        await res.body?.cancel().catch(() => undefined);
        signedRecords = cached.records;
      } else if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        return { url, reason: 'http-status', message: `HTTP ${res.status}` };
      } else {
        const text = await this.#readBounded(res);
        if (text === null) {
          return {
            url,
            reason: 'bad-response',
            message: `response larger than ${this.#maxResponseBytes} bytes (reading stopped)`,
          };
        }
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return { url, reason: 'bad-response', message: 'response is not JSON' };
        }
        const parsed = DirectoryResponseSchema.safeParse(body);
        if (!parsed.success) {
          return { url, reason: 'bad-response', message: 'response does not match the directory format' };
        }
        signedRecords = parsed.data.records;
        const etag = res.headers.get('ETag');
        if (etag) this.#etags.set(url, { etag, records: signedRecords });
        else this.#etags.delete(url);
      }
    } catch (err) {
      const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      return { url, reason: 'unreachable', message: `unreachable (${msg})` };
    }
    const now = this.#now();
    const records: DirectoryRecord[] = [];
    // identical copies are verified once; one certificate is checked once
    const unique = new Map<string, SignedDirectoryRecord>();
    for (const r of signedRecords) unique.set(`${r.signature}\n${r.record}`, r);
    const certificateCache: CertificateCache = new Map();
    for (const signed of unique.values()) {
      let record: DirectoryRecord;
      if (++this.#stats.verifications % VERIFICATIONS_PER_YIELD === 0) {
        await new Promise((r) => setTimeout(r, 0)); // let timers and sockets run between verifications
      }
      try {
        record = verifyDirectoryRecord(signed, this.#trust, now, {
          clockSkewMs: this.#clockSkewMs,
          certificateCache,
        });
      } catch (err) {
        if (err instanceof DirectoryVerificationError) {
          return { url, reason: err.reason, message: `tampered or stale directory: ${err.message}` };
        }
        throw err;
      }
      const known = this.#known.get(record.instanceId);
      if (known && known.issuedAt - record.issuedAt > this.#maxLagMs) {
        return {
          url,
          reason: 'replayed',
          message: `replayed directory: record of '${record.instanceId}' issued ${known.issuedAt - record.issuedAt} ms before one already verified`,
        };
      }
      records.push(record);
    }
    return records;
  }

  /**
   * Reads the body with a byte counter; null (and the transfer aborted) as
   * soon as it passes the limit, so a hostile mirror cannot make us buffer
   * more than `maxResponseBytes`.
   */
  async #readBounded(res: Response): Promise<string | null> {
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    if (declared > this.#maxResponseBytes) {
      await res.body?.cancel().catch(() => undefined);
      return null;
    }
    if (!res.body) return '';
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      this.#stats.bytesRead += value.byteLength;
      if (total > this.#maxResponseBytes) {
        await reader.cancel().catch(() => undefined);
        return null;
      }
      chunks.push(value);
    }
    const all = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.byteLength;
    }
    return new TextDecoder().decode(all);
  }

  #warn(message: string): void {
    if (this.#warned.has(message)) return;
    this.#warned.add(message);
    this.#onWarning(message);
  }

  /** The record as an instance on this client's network, or why it cannot be used. */
  #resolve(r: DirectoryRecord): DiscoveredInstance | { refused: string } {
    const u = recordUrl(r, this.#network, this.#allowInsecureClear);
    if (u.url === null) {
      this.#warn(`Directory record not used: ${u.reason}`);
      return { refused: u.reason };
    }
    if (u.warning) this.#warn(u.warning);
    return {
      instanceId: r.instanceId,
      url: u.url,
      urlClear: r.urlClear,
      urlOnion: r.urlOnion,
      state: r.state,
    };
  }

  #instance(r: DirectoryRecord): DiscoveredInstance | null {
    const i = this.#resolve(r);
    return 'refused' in i ? null : i;
  }

  /**
   * The verified, unexpired record of `instanceId` as an instance on this
   * client's network (a redirect's target). Throws {@link RedirectRefusedError}
   * when the directory holds no such record or it has no usable URL.
   */
  verifiedInstance(instanceId: string): DiscoveredInstance {
    const r = this.current()?.instances.get(instanceId);
    if (!r) throw new RedirectRefusedError(`instance '${instanceId}' has no verified directory record`);
    const i = this.#resolve(r);
    if ('refused' in i) throw new RedirectRefusedError(i.refused);
    return i;
  }

  /**
   * The verified instance whose published `…/rest/registerOutput` URL is the
   * 307 `location` (resolved against `requestUrl`), on this client's network
   * (an onion client gets the onion URL even for a clear Location); null
   * when no verified record publishes that URL. Throws
   * {@link RedirectRefusedError} when the record has no usable URL.
   */
  instanceForLocation(location: string, requestUrl: string): DiscoveredInstance | null {
    const dir = this.current();
    const r = dir ? recordForLocation(dir.instances.values(), location, requestUrl) : null;
    if (!r) return null;
    const i = this.#resolve(r);
    if ('refused' in i) throw new RedirectRefusedError(i.refused);
    return i;
  }

  /**
   * The instance owning `poolId`. Refreshes first when there is no directory
   * yet, when `refresh` is set (the pool moved: a redirect or a failed
   * connection), or when the known owner's epoch is below `minEpoch`.
   * Throws {@link DiscoveryError} when no verified record claims the pool.
   */
  async ownerOf(poolId: string, opts: { refresh?: boolean; minEpoch?: number } = {}): Promise<PoolEndpoint> {
    let dir = this.current();
    const stale = (d: Directory | null) => {
      const owner = d?.pools.get(poolId);
      return !owner || (opts.minEpoch !== undefined && owner.epoch < opts.minEpoch);
    };
    if (!dir || opts.refresh || stale(dir)) dir = (await this.refresh()).directory;
    const owner = dir.pools.get(poolId);
    if (!owner) throw new DiscoveryError(`No instance of the directory serves pool '${poolId}'`);
    const record = dir.instances.get(owner.instanceId)!;
    const inst = this.#resolve(record);
    if ('refused' in inst)
      throw new DiscoveryError(
        `Instance '${owner.instanceId}' owning '${poolId}' has no usable ${this.#network} URL (${inst.refused})`,
      );
    return { ...inst, poolId, epoch: owner.epoch };
  }

  /**
   * A random instance (preferring `active` ones) for pool-independent calls
   * such as `/rest/pools`. `exclude` names base URLs to avoid (instances the
   * caller could not reach: a killed instance's record stays listed until it
   * expires); they are still handed out when no other instance is listed.
   */
  async randomInstance(
    opts: { refresh?: boolean; exclude?: ReadonlySet<string> } = {},
  ): Promise<DiscoveredInstance> {
    let dir = this.current();
    if (!dir || opts.refresh) dir = (await this.refresh()).directory;
    const listed = [...dir.instances.values()].map((r) => this.#instance(r)).filter((i) => i !== null);
    const reachable = opts.exclude ? listed.filter((i) => !opts.exclude!.has(i.url)) : listed;
    const all = reachable.length ? reachable : listed;
    const active = all.filter((i) => i.state === 'active');
    const pick = active.length ? active : all;
    if (!pick.length)
      throw new DiscoveryError(`The directory lists no instance with a usable ${this.#network} URL`);
    return pick[Math.floor(this.#random() * pick.length)]!;
  }
}
