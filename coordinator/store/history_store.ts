/**
 * The cluster's recent history in MySQL (`history_sample`, migration 060),
 * which the dashboard's pictures draw: every instance records its own
 * heartbeat (registry state) and, for each pool it serves, the lease epoch
 * and queue sizes; mixes per pool come from the `mix` table. Times are the
 * database clock (`NOW(3)`), so samples written by different instances line
 * up. Samples are display data: they are not fenced by the pool lease (a
 * stepped-down owner may add a sample for at most the lease margin, drawn
 * as an overlap the operator can see). Rows older than the retention are
 * deleted in bounded batches.
 *
 * @module
 */
import { execRead, execWrite, type Queryable } from '#coordinator/cluster/sql.ts';

/** One pool an instance serves at the moment of a sample. */
export interface ServedPoolSample {
  poolId: string;
  epoch: number;
  mixStatus: string | null;
  nbMustMixQueued: number | null;
  nbLiquidityQueued: number | null;
  nbConfirmed: number | null;
}

/** One row of `history_sample` as read back (`atMs` on the database clock). */
export interface HistorySampleRow {
  atMs: number;
  instanceId: string;
  instanceState: string;
  poolId: string | null;
  epoch: number | null;
  mixStatus: string | null;
  nbMustMixQueued: number | null;
  nbLiquidityQueued: number | null;
}

/** Mixes of one pool that ended in one time bucket. */
export interface MixBucketRow {
  poolId: string;
  bucketStartMs: number;
  success: number;
  fail: number;
}

/** What {@link HistoryStore.read} returns. */
export interface HistoryRead {
  /** The database clock when read. */
  nowMs: number;
  samples: HistorySampleRow[];
  mixes: MixBucketRow[];
}

/** Rows read per request at most (a 6 h window at a 10 s interval is ~2,200 samples per lane). */
export const HISTORY_READ_LIMIT = 50_000;

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** Reads and writes `history_sample`. */
export class HistoryStore {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /** Records one sample of `instanceId`: its heartbeat row and one row per served pool. */
  async record(
    instanceId: string,
    instanceState: string,
    served: readonly ServedPoolSample[],
  ): Promise<void> {
    const rows: unknown[][] = [[instanceId, instanceState, null, null, null, null, null, null]];
    for (const p of served) {
      rows.push([
        instanceId,
        instanceState,
        p.poolId,
        p.epoch,
        p.mixStatus,
        p.nbMustMixQueued,
        p.nbLiquidityQueued,
        p.nbConfirmed,
      ]);
    }
    const placeholders = rows.map(() => '(NOW(3), ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
    await execWrite(
      this.#db,
      `INSERT INTO history_sample
         (at, instance_id, instance_state, pool_id, epoch, mix_status, nb_must_mix, nb_liquidity, nb_confirmed)
       VALUES ${placeholders}`,
      rows.flat(),
    );
  }

  /** Deletes samples older than `retentionMs` (at most `batch` rows per call); returns how many went. */
  async prune(retentionMs: number, batch = 10_000): Promise<number> {
    const res = await execWrite(
      this.#db,
      'DELETE FROM history_sample WHERE at < NOW(3) - INTERVAL ? MICROSECOND LIMIT ?',
      [Math.round(retentionMs * 1000), batch],
      10_000,
    );
    return res.affectedRows;
  }

  /** The samples of the last `windowMs` (oldest first) and the mixes per pool in `bucketMs` buckets. */
  async read(windowMs: number, bucketMs: number): Promise<HistoryRead> {
    const micros = Math.round(windowMs * 1000);
    const bucketS = Math.max(1, Math.round(bucketMs / 1000));
    const [clock, samples, mixes] = await Promise.all([
      execRead(this.#db, 'SELECT UNIX_TIMESTAMP(NOW(3)) * 1000 AS now_ms', []),
      execRead(
        this.#db,
        `SELECT UNIX_TIMESTAMP(at) * 1000 AS at_ms, instance_id, instance_state, pool_id, epoch, mix_status,
                nb_must_mix, nb_liquidity
           FROM history_sample WHERE at >= NOW(3) - INTERVAL ? MICROSECOND
          ORDER BY at, id LIMIT ?`,
        [micros, HISTORY_READ_LIMIT],
        10_000,
      ),
      execRead(
        this.#db,
        `SELECT pool_id, FLOOR(UNIX_TIMESTAMP(created) / ?) * ? * 1000 AS bucket_ms,
                SUM(mix_status = 'SUCCESS') AS success, SUM(mix_status <> 'SUCCESS') AS fail
           FROM mix WHERE created >= NOW(3) - INTERVAL ? MICROSECOND
          GROUP BY pool_id, bucket_ms ORDER BY bucket_ms`,
        [bucketS, bucketS, micros],
        10_000,
      ),
    ]);
    return {
      nowMs: Number(clock[0]?.now_ms),
      samples: samples.map((r) => ({
        atMs: Math.round(Number(r.at_ms)),
        instanceId: String(r.instance_id),
        instanceState: String(r.instance_state),
        poolId: r.pool_id === null ? null : String(r.pool_id),
        epoch: numOrNull(r.epoch),
        mixStatus: r.mix_status === null ? null : String(r.mix_status),
        nbMustMixQueued: numOrNull(r.nb_must_mix),
        nbLiquidityQueued: numOrNull(r.nb_liquidity),
      })),
      mixes: mixes.map((r) => ({
        poolId: String(r.pool_id),
        bucketStartMs: Math.round(Number(r.bucket_ms)),
        success: Number(r.success),
        fail: Number(r.fail),
      })),
    };
  }
}
