/**
 * Live pool status shared through MySQL (`pool_status`, migrations 002 and
 * 003): the instance serving a pool publishes its mix status and counts (the
 * registered total and, since 003, the must-mix and liquidity queue sizes)
 * every couple of seconds, and every instance reads the fresh rows to answer
 * `GET /rest/pools` for the pools it does not serve. A write is a fenced
 * write (pool_lease.ts) under the pool's current fence, so a stepped-down
 * instance cannot overwrite its successor's status; with clustering disabled
 * (no fence source) writes are unconditional. Ages are
 * measured with the database clock. The queue sizes of a row last upserted by
 * an older release (which does not write them) read as null, see
 * migration 003.
 *
 * @module
 */
import type { Logger } from '#coordinator/log.ts';
import type { PoolSnapshot } from '#coordinator/mix/mix_engine.ts';
import type { LeaseFence, MixStatus } from '#coordinator/mix/types.ts';
import type { LivePoolSource, LivePoolStatus } from '#coordinator/rest/pools_route.ts';
import { FencedOutError } from './errors.ts';
import { currentFencesOf, fencedWrite } from './pool_lease.ts';
import { execRead, execWrite, type Queryable, type TxQueryable } from './sql.ts';

/**
 * Who publishes: `null` (clustering disabled: unconditional writes), this
 * instance's id with where its current fences come from (the cluster node),
 * or only the id (its current fences are then read from `pool_lease`).
 */
export type StatusPublisherIdentity =
  | null
  | string
  | {
      instanceId: string;
      fenceOf(poolId: string): LeaseFence | null;
    };

/** A pool's status as its owner last published it in `pool_status`. */
export interface PublishedPoolStatus extends LivePoolStatus {
  instanceId: string;
  mixId: string;
  /** Must-mix inputs waiting in the queue; null when the publisher did not write it (older release). */
  nbMustMixQueued: number | null;
  /** Liquidity (remix) inputs waiting in the queue; null when the publisher did not write it (older release). */
  nbLiquidityQueued: number | null;
}

const INSERT_COLUMNS = `pool_status (pool_id, instance_id, mix_id, mix_status, elapsed_ms, nb_confirmed, nb_registered,
  nb_must_mix_queued, nb_liquidity_queued, updated_at, queues_at)`;

const UPSERT_COLUMNS = `ON DUPLICATE KEY UPDATE instance_id = VALUES(instance_id), mix_id = VALUES(mix_id),
  mix_status = VALUES(mix_status), elapsed_ms = VALUES(elapsed_ms), nb_confirmed = VALUES(nb_confirmed),
  nb_registered = VALUES(nb_registered), nb_must_mix_queued = VALUES(nb_must_mix_queued),
  nb_liquidity_queued = VALUES(nb_liquidity_queued), updated_at = VALUES(updated_at), queues_at = VALUES(queues_at)`;

/** Reads and writes `pool_status`. */
export class PoolStatusStore {
  readonly #db: Queryable | TxQueryable;
  readonly #timeoutMs: number;

  /** A reader needs only `query`; publishing (fenced writes) needs a pool that lends connections. */
  constructor(db: Queryable | TxQueryable, opts: { queryTimeoutMs?: number } = {}) {
    this.#db = db;
    this.#timeoutMs = opts.queryTimeoutMs ?? 5000;
  }

  /**
   * Publishes the served pools of `snapshots` as `who` (see
   * {@link StatusPublisherIdentity}). Returns the pool ids actually written
   * (a pool without a current fence here is skipped).
   */
  async publish(who: StatusPublisherIdentity, snapshots: readonly PoolSnapshot[]): Promise<string[]> {
    const written: string[] = [];
    const instanceId = who === null ? null : typeof who === 'string' ? who : who.instanceId;
    let fenceOf: (poolId: string) => LeaseFence | null = () => null;
    if (typeof who === 'string') {
      const fences = await currentFencesOf(this.#db, who, this.#timeoutMs);
      fenceOf = (poolId) => fences.find((f) => f.poolId === poolId) ?? null;
    } else if (who !== null) fenceOf = (poolId) => who.fenceOf(poolId);
    const txDb = this.#db;
    for (const s of snapshots) {
      if (!s.served) continue;
      const fence = fenceOf(s.poolId);
      if (instanceId !== null && fence === null) continue;
      const values = [
        s.poolId,
        instanceId ?? '',
        s.mixId,
        s.mixStatus,
        Math.max(0, Math.round(s.elapsedTime)),
        s.nbConfirmed,
        s.nbRegistered,
        s.nbMustMixQueued,
        s.nbLiquidityQueued,
      ];
      const upsert = (db: Queryable) =>
        execWrite(
          db,
          `INSERT INTO ${INSERT_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(3), NOW(3)) ${UPSERT_COLUMNS}`,
          values,
          this.#timeoutMs,
        );
      try {
        if (fence === null) await upsert(txDb);
        else if (!('getConnection' in txDb))
          throw new Error('PoolStatusStore: publishing needs a connection pool');
        else
          await fencedWrite(
            txDb,
            fence,
            { name: 'publishPoolStatus', run: upsert },
            { timeoutMs: this.#timeoutMs },
          );
        written.push(s.poolId);
      } catch (err) {
        if (!(err instanceof FencedOutError)) throw err;
      }
    }
    return written;
  }

  /** Fresh statuses (updated within `maxAgeMs`), elapsed time advanced to now (DB clock). */
  async read(maxAgeMs: number): Promise<Map<string, PublishedPoolStatus>> {
    // NOW(3) is one value per statement, so a publication of this release writes queues_at = updated_at
    const rows = await execRead(
      this.#db,
      `SELECT pool_id, instance_id, mix_id, mix_status, nb_confirmed, nb_registered,
                     CASE WHEN queues_at = updated_at THEN nb_must_mix_queued END AS nb_must_mix_queued,
                     CASE WHEN queues_at = updated_at THEN nb_liquidity_queued END AS nb_liquidity_queued,
                     elapsed_ms + TIMESTAMPDIFF(MICROSECOND, updated_at, NOW(3)) DIV 1000 AS elapsed
                FROM pool_status WHERE updated_at > NOW(3) - INTERVAL ? MICROSECOND`,
      [maxAgeMs * 1000],
      this.#timeoutMs,
    );
    return new Map(
      rows.map((r) => [
        String(r.pool_id),
        {
          instanceId: String(r.instance_id),
          mixId: String(r.mix_id),
          mixStatus: r.mix_status as MixStatus,
          elapsedTime: Number(r.elapsed),
          nbConfirmed: Number(r.nb_confirmed),
          nbRegistered: Number(r.nb_registered),
          nbMustMixQueued: r.nb_must_mix_queued == null ? null : Number(r.nb_must_mix_queued),
          nbLiquidityQueued: r.nb_liquidity_queued == null ? null : Number(r.nb_liquidity_queued),
        },
      ]),
    );
  }

  /** Deletes this instance's rows (clean stop). */
  async withdraw(instanceId: string | null): Promise<void> {
    await execWrite(
      this.#db,
      'DELETE FROM pool_status WHERE instance_id = ?',
      [instanceId ?? ''],
      this.#timeoutMs,
    );
  }
}

/** A {@link LivePoolSource} over `pool_status` rows younger than `maxAgeMs` (default 10 s). */
export function dbLiveSource(store: PoolStatusStore, opts: { maxAgeMs?: number } = {}): LivePoolSource {
  return { livePools: () => store.read(opts.maxAgeMs ?? 10_000) };
}

/** A running publication loop. */
export interface PoolStatusPublisher {
  /** Publishes at once (tests, after a lease change). */
  publishNow(): Promise<string[]>;
  /** Stops the loop and deletes this instance's rows. */
  stop(): Promise<void>;
}

/** Publishes `engine.snapshot()` every `intervalMs` (default 2000); failures are logged and retried next tick. */
export function startPoolStatusPublisher(opts: {
  store: PoolStatusStore;
  engine: { snapshot(): PoolSnapshot[] };
  /** This instance and its fences, or null when clustering is disabled. */
  who: StatusPublisherIdentity;
  intervalMs?: number;
  logger: Logger;
}): PoolStatusPublisher {
  let failing = false;
  let stopped = false;
  let inflight: Promise<string[]> | null = null;
  const publishNow = (): Promise<string[]> => {
    inflight ??= opts.store.publish(opts.who, opts.engine.snapshot()).finally(() => {
      inflight = null;
    });
    return inflight;
  };
  const timer = setInterval(() => {
    if (stopped) return;
    publishNow().then(
      () => {
        if (failing) opts.logger.info('pool status publication recovered');
        failing = false;
      },
      (err: unknown) => {
        if (!failing) opts.logger.warn({ err: (err as Error).message }, 'pool status publication failed');
        failing = true;
      },
    );
  }, opts.intervalMs ?? 2000);
  timer.unref();
  void publishNow().catch(() => undefined);
  return {
    publishNow,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      // a publication still in flight must land before the rows are withdrawn, not after
      await inflight?.catch(() => undefined);
      await opts.store
        .withdraw(typeof opts.who === 'string' || opts.who === null ? opts.who : opts.who.instanceId)
        .catch((err: unknown) => {
          opts.logger.warn({ err: (err as Error).message }, 'pool status withdraw failed');
        });
    },
  };
}
