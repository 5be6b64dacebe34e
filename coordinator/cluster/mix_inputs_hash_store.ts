/**
 * Which instance holds the mix of an `inputsHash` (table `mix_inputs_hash`):
 * written by the pool's owner when its mix enters REGISTER_OUTPUT, read by
 * any instance receiving `POST /rest/registerOutput` for a mix it does not
 * hold, to answer with HTTP 307 to the holder. The write is a fenced write
 * (coordinator/store/pool_lease.ts) like the store's mix writes: a stale
 * owner cannot claim an inputsHash.
 *
 * @module
 */
import type { LeaseFence } from '#coordinator/mix/types.ts';
import { FencedOutError } from '#coordinator/store/errors.ts';
import { fencedWrite } from '#coordinator/store/pool_lease.ts';
import { DEFAULT_QUERY_TIMEOUT_MS, execRead, execWrite, type TxQueryable } from '#coordinator/store/sql.ts';

/** Where the mix of an inputsHash is held. */
export interface MixLocation {
  inputsHash: string;
  poolId: string;
  mixId: string;
  instanceId: string;
  epoch: number;
  urlClear: string | null;
  urlOnion: string | null;
}

/** Repository of `mix_inputs_hash`. */
export class MixInputsHashStore {
  readonly #db: TxQueryable;
  readonly #timeoutMs: number;

  constructor(db: TxQueryable, opts: { queryTimeoutMs?: number } = {}) {
    this.#db = db;
    this.#timeoutMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  }

  /**
   * Records that the mix `mixId` with `inputsHash` is held under `fence`
   * until NOW(3) + ttlMs. Returns false (nothing written) when the fence is
   * no longer the current lease of its pool.
   */
  async record(inputsHash: string, mixId: string, fence: LeaseFence, ttlMs: number): Promise<boolean> {
    try {
      await fencedWrite(
        this.#db,
        fence,
        {
          name: 'recordInputsHash',
          run: (conn) =>
            execWrite(
              conn,
              `INSERT INTO mix_inputs_hash (inputs_hash, pool_id, mix_id, instance_id, epoch, created_at, expires_at)
               VALUES (?, ?, ?, ?, ?, NOW(3), NOW(3) + INTERVAL ? MICROSECOND)
               ON DUPLICATE KEY UPDATE pool_id = VALUES(pool_id), mix_id = VALUES(mix_id), instance_id = VALUES(instance_id),
                 epoch = VALUES(epoch), created_at = VALUES(created_at), expires_at = VALUES(expires_at)`,
              [inputsHash, fence.poolId, mixId, fence.instanceId, fence.epoch, Math.round(ttlMs * 1000)],
              this.#timeoutMs,
            ),
        },
        { timeoutMs: this.#timeoutMs },
      );
      return true;
    } catch (err) {
      if (err instanceof FencedOutError) return false;
      throw err;
    }
  }

  /** The unexpired holder of `inputsHash` with its instance's URLs (null when unknown or the instance is gone). */
  async find(inputsHash: string): Promise<MixLocation | null> {
    const rows = await execRead(
      this.#db,
      `SELECT m.inputs_hash, m.pool_id, m.mix_id, m.instance_id, m.epoch, i.url_clear, i.url_onion
       FROM mix_inputs_hash m JOIN instance i ON i.id = m.instance_id
       WHERE m.inputs_hash = ? AND m.expires_at > NOW(3) AND i.state <> 'stopped'`,
      [inputsHash],
      this.#timeoutMs,
    );
    const r = rows[0];
    if (!r) return null;
    return {
      inputsHash: String(r.inputs_hash),
      poolId: String(r.pool_id),
      mixId: String(r.mix_id),
      instanceId: String(r.instance_id),
      epoch: Number(r.epoch),
      urlClear: r.url_clear == null ? null : String(r.url_clear),
      urlOnion: r.url_onion == null ? null : String(r.url_onion),
    };
  }

  /** Deletes expired rows; returns how many. */
  async pruneExpired(): Promise<number> {
    const res = await execWrite(
      this.#db,
      'DELETE FROM mix_inputs_hash WHERE expires_at <= NOW(3)',
      [],
      this.#timeoutMs,
    );
    return res.affectedRows;
  }
}
