/**
 * The instance registry: the `instance` table where every coordinator process
 * announces itself (id, clear and onion URLs, version), keeps a heartbeat and
 * records its state (starting → active → draining → stopped). Every time is
 * the database clock `NOW(3)`, so hosts with skewed clocks agree on who is
 * live. Read by the assignment loop and, through the directory view, by the
 * bootstrap nodes.
 *
 * @module
 */
import { DEFAULT_QUERY_TIMEOUT_MS, execRead, execWrite, type Queryable } from './sql.ts';

/** Lifecycle state of an instance (column `instance.state`). */
export type InstanceState = 'starting' | 'active' | 'draining' | 'stopped';

/** What an instance says about itself when it registers. */
export interface InstanceInfo {
  id: string;
  urlClear: string | null;
  urlOnion: string | null;
  version: string;
}

/** One row of the registry as read back. */
export interface InstanceRecord extends InstanceInfo {
  state: InstanceState;
  startedAt: Date;
  heartbeatAt: Date;
  /** Age of the heartbeat on the database clock when read, in ms. */
  ageMs: number;
}

const STATES: readonly InstanceState[] = ['starting', 'active', 'draining', 'stopped'];

function toRecord(r: Record<string, unknown>): InstanceRecord {
  const state = String(r.state) as InstanceState;
  if (!STATES.includes(state))
    throw new Error(`Instance '${String(r.id)}' has unknown state '${String(r.state)}'`);
  return {
    id: String(r.id),
    urlClear: r.url_clear == null ? null : String(r.url_clear),
    urlOnion: r.url_onion == null ? null : String(r.url_onion),
    version: String(r.version),
    state,
    startedAt: r.started_at as Date,
    heartbeatAt: r.heartbeat_at as Date,
    ageMs: Math.max(0, Number(r.age_us) / 1000),
  };
}

const SELECT_COLUMNS =
  'id, url_clear, url_onion, version, state, started_at, heartbeat_at, TIMESTAMPDIFF(MICROSECOND, heartbeat_at, NOW(3)) AS age_us';

/** Repository of the `instance` table. */
export class InstanceRegistry {
  readonly #db: Queryable;
  readonly #timeoutMs: number;

  constructor(db: Queryable, opts: { queryTimeoutMs?: number } = {}) {
    this.#db = db;
    this.#timeoutMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  }

  /**
   * Inserts or refreshes this instance's row with state `starting` (or the
   * state given), `started_at` and `heartbeat_at` = NOW(3).
   */
  async register(info: InstanceInfo, state: InstanceState = 'starting'): Promise<void> {
    await execWrite(
      this.#db,
      `INSERT INTO instance (id, url_clear, url_onion, version, state, started_at, heartbeat_at)
       VALUES (?, ?, ?, ?, ?, NOW(3), NOW(3))
       ON DUPLICATE KEY UPDATE url_clear = VALUES(url_clear), url_onion = VALUES(url_onion),
         version = VALUES(version), state = VALUES(state), started_at = NOW(3), heartbeat_at = NOW(3)`,
      [info.id, info.urlClear, info.urlOnion, info.version, state],
      this.#timeoutMs,
    );
  }

  /**
   * Sets `heartbeat_at = NOW(3)` (and the state when given). Returns false
   * when the row is missing (deleted by an operator): the caller re-registers.
   */
  async heartbeat(id: string, state?: InstanceState): Promise<boolean> {
    const res =
      state === undefined
        ? await execWrite(
            this.#db,
            'UPDATE instance SET heartbeat_at = NOW(3) WHERE id = ?',
            [id],
            this.#timeoutMs,
          )
        : await execWrite(
            this.#db,
            'UPDATE instance SET heartbeat_at = NOW(3), state = ? WHERE id = ?',
            [state, id],
            this.#timeoutMs,
          );
    return res.affectedRows > 0;
  }

  /** Changes the state only (draining, stopped...). Returns false when the row is missing. */
  async setState(id: string, state: InstanceState): Promise<boolean> {
    const res = await execWrite(
      this.#db,
      'UPDATE instance SET state = ? WHERE id = ?',
      [state, id],
      this.#timeoutMs,
    );
    return res.affectedRows > 0;
  }

  /**
   * Instances whose heartbeat is younger than `ttlMs` on the database clock
   * and whose state is not `stopped`, ordered by id.
   */
  async listLive(ttlMs: number): Promise<InstanceRecord[]> {
    const rows = await execRead(
      this.#db,
      `SELECT ${SELECT_COLUMNS} FROM instance
       WHERE heartbeat_at > NOW(3) - INTERVAL ? MICROSECOND AND state <> 'stopped'
       ORDER BY id`,
      [Math.round(ttlMs * 1000)],
      this.#timeoutMs,
    );
    return rows.map(toRecord);
  }

  /** Every row, live or not, ordered by id (dashboard, tests). */
  async listAll(): Promise<InstanceRecord[]> {
    const rows = await execRead(
      this.#db,
      `SELECT ${SELECT_COLUMNS} FROM instance ORDER BY id`,
      [],
      this.#timeoutMs,
    );
    return rows.map(toRecord);
  }

  /** One instance by id, or null. */
  async get(id: string): Promise<InstanceRecord | null> {
    const rows = await execRead(
      this.#db,
      `SELECT ${SELECT_COLUMNS} FROM instance WHERE id = ?`,
      [id],
      this.#timeoutMs,
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** Deletes rows of instances silent for longer than `olderThanMs` (housekeeping). Returns how many. */
  async pruneDead(olderThanMs: number): Promise<number> {
    const res = await execWrite(
      this.#db,
      'DELETE FROM instance WHERE heartbeat_at < NOW(3) - INTERVAL ? MICROSECOND',
      [Math.round(olderThanMs * 1000)],
      this.#timeoutMs,
    );
    return res.affectedRows;
  }
}
