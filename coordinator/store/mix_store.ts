/**
 * The coordinator's persistent state in MySQL (spec §5.5–5.6): bans and
 * blames, output addresses (address-reuse protection), successful mix txids
 * (remix provenance), the Tx0 whitelist, mix results and the cluster-wide
 * fee-address index counter.
 *
 * Fencing: every write that belongs to a pool's mix (saveOutput, blame,
 * saveMixResult) takes the pool's {@link LeaseFence} and runs through
 * `fencedWrite` (pool_lease.ts, the one owner of the "lease is current"
 * rule): it is applied while the lease is current or refused with
 * `FencedOutError` and nothing written.
 *
 * @module
 */
import type { BanPolicy, BlameReason, LeaseFence, MixResult } from '#coordinator/mix/types.ts';
import { MYSQL_ERRORS, mysqlErrno } from './db_errors.ts';
import { OutputAlreadyUsedError } from './errors.ts';
import { fencedWrite } from './pool_lease.ts';
import { execRead, execWrite, type Queryable, type TxQueryable } from './sql.ts';

/** What REGISTER_INPUT needs from the database about one input (one statement, see {@link MixStore.inputFacts}). */
export interface InputDbFacts {
  /** Newest active ban on any of the identifiers, null if none. */
  ban: { response: string | null } | null;
  /** Whether the txid is in `tx0_whitelist`. */
  tx0Whitelisted: boolean;
  /** Denominations the txid is a successful mix of (`mix_txid`; at most one, the txid is unique). */
  mixDenominations: number[];
}

/** What the mix engine needs from the database (module-map contract). */
export interface MixStore {
  /**
   * {@link isBanned}(`banIdentifiers`), {@link isTx0Whitelisted}(`txid`) and
   * the `mix_txid` denominations of `txid`, in one statement (one round trip
   * per registration, read at that moment: no cache, so a ban written by
   * any instance applies to the next registration everywhere).
   */
  inputFacts(txid: string, banIdentifiers: string[]): Promise<InputDbFacts>;
  /** First active ban (expiration NULL or ≥ NOW(3)) on any of `identifiers`, newest first; null if none. */
  isBanned(identifiers: string[]): Promise<{ response: string | null } | null>;
  /** True if `txid` is a successful mix of exactly this denomination (`mix_txid`). */
  isMixTxid(txid: string, denomination: number): Promise<boolean>;
  /** True if `txid` is exempted from the Tx0 provenance check. */
  isTx0Whitelisted(txid: string): Promise<boolean>;
  /** True if `address` is in `mix_output`. */
  isOutputUsed(address: string): Promise<boolean>;
  /** Burns `address` in `mix_output`. Throws OutputAlreadyUsedError on a duplicate, FencedOutError when fenced out. */
  saveOutput(address: string, fence: LeaseFence | null): Promise<void>;
  /** Records a blame and applies the ban policy (§5.5) in one transaction. */
  blame(
    b: { identifier: string; reason: BlameReason; mixId: string; ip: string },
    policy: BanPolicy,
    fence: LeaseFence | null,
  ): Promise<{ banned: boolean }>;
  /** `mix` + `mix_log` (+ `mix_txid` on SUCCESS) in one transaction. */
  saveMixResult(r: MixResult, fence: LeaseFence | null): Promise<void>;
  /** Next fee-address index, unique across all instances sharing the database (first: 1). */
  nextFeeIndex(): Promise<number>;
}

/** One `mix` row joined with its `mix_log`, for the dashboard. */
export interface MixRow {
  id: number;
  created: Date;
  updated: Date;
  poolId: string;
  mixId: string;
  denomination: number;
  anonymitySet: number;
  nbMustMix: number;
  nbLiquidities: number;
  amountIn: number;
  amountOut: number;
  feesAmount: number | null;
  feesPrice: number | null;
  mixDurationSeconds: number;
  status: 'SUCCESS' | 'FAIL';
  failReason: string | null;
  failInfo: string | null;
  txid: string | null;
  instanceId: string | null;
  leaseEpoch: number | null;
}

/** One `ban` row. */
export interface BanRow {
  id: number;
  created: Date;
  identifier: string;
  expiration: Date | null;
  response: string | null;
  notes: string | null;
}

/** One `blame` row. */
export interface BlameRow {
  id: number;
  created: Date;
  identifier: string;
  reason: string;
  mixId: string;
  ip: string;
  poolId: string | null;
}

/** Aggregates over successful mixes (dashboard history page). */
export interface MixStats {
  nbSuccess: number;
  /** Σ nb_must_mix × denomination over SUCCESS mixes. */
  mustMixVolume: number;
  /** Σ amount_out over SUCCESS mixes. */
  amountOut: number;
}

/** Read and admin operations for the dashboard and tools (not used by the engine). */
export interface MixHistoryStore {
  recentMixes(opts?: { limit?: number; offset?: number; poolId?: string }): Promise<MixRow[]>;
  mixStats(): Promise<MixStats>;
  activeBans(opts?: { limit?: number; offset?: number }): Promise<BanRow[]>;
  countActiveBans(): Promise<number>;
  blames(opts?: { identifier?: string; limit?: number }): Promise<BlameRow[]>;
  /** Manual ban; `expirationSeconds` null = permanent. Returns the ban id. */
  addBan(
    identifier: string,
    opts: { expirationSeconds: number | null; response?: string | null; notes?: string | null },
  ): Promise<number>;
  /** Ends every active ban of `identifier` now; returns how many were active. */
  unban(identifier: string): Promise<number>;
  /** Adds a txid to the Tx0 whitelist (idempotent). */
  addTx0Whitelist(txid: string): Promise<void>;
}

/** Text of a ban's `notes`: `<count> blames in <period/60>min: <REASON>, <REASON>, …` (§5.5). */
export function banNotes(reasons: readonly string[], periodSeconds: number): string {
  return `${reasons.length} blames in ${Math.floor(periodSeconds / 60)}min: ${reasons.join(', ')}`;
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

/** {@link MixStore} and {@link MixHistoryStore} on a mysql2 pool whose schema is migrated. */
export class MySqlMixStore implements MixStore, MixHistoryStore {
  readonly #pool: TxQueryable;
  readonly #timeoutMs: number;

  /** `queryTimeoutMs` (default 10000) bounds every statement, so a black-holed database fails calls instead of hanging them. */
  constructor(pool: TxQueryable, opts: { queryTimeoutMs?: number } = {}) {
    this.#pool = pool;
    this.#timeoutMs = opts.queryTimeoutMs ?? 10_000;
  }

  #read(db: Queryable, sql: string, params: readonly unknown[] = []) {
    return execRead(db, sql, params, this.#timeoutMs);
  }

  #write(db: Queryable, sql: string, params: readonly unknown[] = []) {
    return execWrite(db, sql, params, this.#timeoutMs);
  }

  /** Runs `fn` as one fenced write (see pool_lease.ts). */
  #transaction<T>(
    operation: string,
    fence: LeaseFence | null,
    fn: (conn: Queryable) => Promise<T>,
  ): Promise<T> {
    return fencedWrite(this.#pool, fence, { name: operation, run: fn }, { timeoutMs: this.#timeoutMs });
  }

  async inputFacts(txid: string, banIdentifiers: string[]): Promise<InputDbFacts> {
    const ids = banIdentifiers.length > 0 ? banIdentifiers : [''];
    const rows = await this.#read(
      this.#pool,
      `(SELECT 'ban' AS kind, response, NULL AS denomination FROM ban
          WHERE identifier IN (?) AND (expiration IS NULL OR expiration >= NOW(3))
          ORDER BY created DESC, id DESC LIMIT 1)
        UNION ALL (SELECT 'whitelist', NULL, NULL FROM tx0_whitelist WHERE txid = ? LIMIT 1)
        UNION ALL (SELECT 'mix', NULL, denomination FROM mix_txid WHERE txid = ?)`,
      [ids, txid, txid],
    );
    const facts: InputDbFacts = { ban: null, tx0Whitelisted: false, mixDenominations: [] };
    for (const row of rows) {
      if (row.kind === 'ban' && banIdentifiers.length > 0)
        facts.ban = { response: (row.response as string | null) ?? null };
      else if (row.kind === 'whitelist') facts.tx0Whitelisted = true;
      else if (row.kind === 'mix') facts.mixDenominations.push(num(row.denomination));
    }
    return facts;
  }

  async isBanned(identifiers: string[]): Promise<{ response: string | null } | null> {
    if (identifiers.length === 0) return null;
    const rows = await this.#read(
      this.#pool,
      `SELECT response FROM ban
        WHERE identifier IN (?) AND (expiration IS NULL OR expiration >= NOW(3))
        ORDER BY created DESC, id DESC LIMIT 1`,
      [identifiers],
    );
    const row = rows[0];
    return row ? { response: (row.response as string | null) ?? null } : null;
  }

  async isMixTxid(txid: string, denomination: number): Promise<boolean> {
    const rows = await this.#read(
      this.#pool,
      'SELECT 1 AS ok FROM mix_txid WHERE txid = ? AND denomination = ? LIMIT 1',
      [txid, denomination],
    );
    return rows.length > 0;
  }

  async isTx0Whitelisted(txid: string): Promise<boolean> {
    const rows = await this.#read(this.#pool, 'SELECT 1 AS ok FROM tx0_whitelist WHERE txid = ? LIMIT 1', [
      txid,
    ]);
    return rows.length > 0;
  }

  async isOutputUsed(address: string): Promise<boolean> {
    const rows = await this.#read(this.#pool, 'SELECT 1 AS ok FROM mix_output WHERE address = ? LIMIT 1', [
      address,
    ]);
    return rows.length > 0;
  }

  async saveOutput(address: string, fence: LeaseFence | null): Promise<void> {
    try {
      await this.#transaction('saveOutput', fence, async (conn) => {
        await this.#write(
          conn,
          'INSERT INTO mix_output (created, address, pool_id, instance_id, lease_epoch) VALUES (NOW(3), ?, ?, ?, ?)',
          [address, fence?.poolId ?? null, fence?.instanceId ?? null, fence?.epoch ?? null],
        );
      });
    } catch (err) {
      if (mysqlErrno(err) === MYSQL_ERRORS.DUP_ENTRY)
        throw new OutputAlreadyUsedError(address, { cause: err });
      throw err;
    }
  }

  async blame(
    b: { identifier: string; reason: BlameReason; mixId: string; ip: string },
    policy: BanPolicy,
    fence: LeaseFence | null,
  ): Promise<{ banned: boolean }> {
    return this.#transaction('blame', fence, async (conn) => {
      // Lock this identifier's blames first: concurrent blames of one identifier (other pools, other
      // instances) then count each other instead of each seeing only itself. Colliding gap locks on a
      // first blame end in a deadlock that #transaction retries.
      await this.#read(conn, 'SELECT id FROM blame WHERE identifier = ? FOR UPDATE', [b.identifier]);
      await this.#write(
        conn,
        `INSERT INTO blame (created, identifier, reason, mix_id, ip, pool_id, instance_id, lease_epoch)
         VALUES (NOW(3), ?, ?, ?, ?, ?, ?, ?)`,
        [
          b.identifier,
          b.reason,
          b.mixId,
          b.ip,
          fence?.poolId ?? null,
          fence?.instanceId ?? null,
          fence?.epoch ?? null,
        ],
      );
      const rows = await this.#read(
        conn,
        `SELECT reason FROM blame
          WHERE identifier = ? AND created >= NOW(3) - INTERVAL ? SECOND
          ORDER BY created, id`,
        [b.identifier, policy.periodSeconds],
      );
      const reasons = rows.map((r) => String(r.reason));
      if (reasons.length < policy.blames) return { banned: false };
      // recidivism (addendum §7): the identifier's latest dated ban, expired or not, sets the duration × factor
      const previous = await this.#read(
        conn,
        `SELECT TIMESTAMPDIFF(MICROSECOND, created, expiration) AS us FROM ban
          WHERE identifier = ? AND expiration IS NOT NULL ORDER BY expiration DESC LIMIT 1`,
        [b.identifier],
      );
      const durationUs = banDurationUs(
        previous.length > 0 ? Number(previous[0]!.us) : null,
        policy.expirationSeconds,
        policy.recidivismFactor ?? 1,
      );
      await this.#write(
        conn,
        `INSERT INTO ban (created, identifier, expiration, response, notes)
         VALUES (NOW(3), ?, NOW(3) + INTERVAL ? MICROSECOND, NULL, ?)`,
        [b.identifier, durationUs, banNotes(reasons, policy.periodSeconds)],
      );
      return { banned: true };
    });
  }

  async saveMixResult(r: MixResult, fence: LeaseFence | null): Promise<void> {
    if (fence && fence.poolId !== r.poolId) {
      throw new Error(
        `Mix '${r.mixId}' of pool '${r.poolId}' saved with the fence of pool '${fence.poolId}'`,
      );
    }
    if (r.status === 'SUCCESS' && !r.txid) {
      throw new Error(`Successful mix '${r.mixId}' of pool '${r.poolId}' has no txid`);
    }
    await this.#transaction('saveMixResult', fence, async (conn) => {
      const res = await this.#write(
        conn,
        `INSERT INTO mix (created, updated, pool_id, mix_id, denomination, anonymity_set, nb_must_mix,
           nb_liquidities, amount_in, amount_out, fees_amount, fees_price, mix_duration, mix_status,
           fail_reason, fail_info, instance_id, lease_epoch)
         VALUES (NOW(3), NOW(3), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          r.poolId,
          r.mixId,
          r.denomination,
          r.anonymitySet,
          r.nbMustMix,
          r.nbLiquidities,
          r.amountIn,
          r.amountOut,
          r.feesAmount,
          r.feesPrice === null ? null : Math.trunc(r.feesPrice),
          Math.round(r.mixDurationSeconds),
          r.status,
          r.failReason,
          r.failInfo,
          fence?.instanceId ?? null,
          fence?.epoch ?? null,
        ],
      );
      await this.#write(conn, 'INSERT INTO mix_log (mix_id, txid, raw_tx) VALUES (?, ?, ?)', [
        res.insertId,
        r.txid,
        r.rawTxHex,
      ]);
      if (r.status === 'SUCCESS') {
        await this.#write(conn, 'INSERT INTO mix_txid (created, txid, denomination) VALUES (NOW(3), ?, ?)', [
          r.txid,
          r.denomination,
        ]);
      }
    });
  }

  async nextFeeIndex(): Promise<number> {
    const res = await this.#write(
      this.#pool,
      "UPDATE fee_index SET next_index = LAST_INSERT_ID(next_index + 1) WHERE id = 'fee'",
      [],
    );
    if (res.affectedRows !== 1)
      throw new Error("Table 'fee_index' has no 'fee' row (migration 001 not applied?)");
    const index = num(res.insertId);
    if (!Number.isSafeInteger(index) || index < 1 || index > 0x7fffffff) {
      throw new Error(`Fee index counter out of range: ${String(res.insertId)}`);
    }
    return index;
  }

  async recentMixes(opts: { limit?: number; offset?: number; poolId?: string } = {}): Promise<MixRow[]> {
    const where = opts.poolId === undefined ? '' : 'WHERE m.pool_id = ?';
    const params: unknown[] = opts.poolId === undefined ? [] : [opts.poolId];
    params.push(opts.limit ?? 100, opts.offset ?? 0);
    const rows = await this.#read(
      this.#pool,
      `SELECT m.*, l.txid FROM mix m LEFT JOIN mix_log l ON l.mix_id = m.id ${where}
        ORDER BY m.updated DESC, m.id DESC LIMIT ? OFFSET ?`,
      params,
    );
    return rows.map((r) => ({
      id: num(r.id),
      created: r.created as Date,
      updated: r.updated as Date,
      poolId: String(r.pool_id),
      mixId: String(r.mix_id),
      denomination: num(r.denomination),
      anonymitySet: num(r.anonymity_set),
      nbMustMix: num(r.nb_must_mix),
      nbLiquidities: num(r.nb_liquidities),
      amountIn: num(r.amount_in),
      amountOut: num(r.amount_out),
      feesAmount: numOrNull(r.fees_amount),
      feesPrice: numOrNull(r.fees_price),
      mixDurationSeconds: num(r.mix_duration),
      status: r.mix_status as 'SUCCESS' | 'FAIL',
      failReason: (r.fail_reason as string | null) ?? null,
      failInfo: (r.fail_info as string | null) ?? null,
      txid: (r.txid as string | null) ?? null,
      instanceId: (r.instance_id as string | null) ?? null,
      leaseEpoch: numOrNull(r.lease_epoch),
    }));
  }

  async mixStats(): Promise<MixStats> {
    const rows = await this.#read(
      this.#pool,
      `SELECT COUNT(*) AS n, COALESCE(SUM(nb_must_mix * denomination), 0) AS vol,
              COALESCE(SUM(amount_out), 0) AS out_sum
         FROM mix WHERE mix_status = 'SUCCESS'`,
      [],
    );
    const r = rows[0]!;
    return { nbSuccess: num(r.n), mustMixVolume: num(r.vol), amountOut: num(r.out_sum) };
  }

  async activeBans(opts: { limit?: number; offset?: number } = {}): Promise<BanRow[]> {
    const rows = await this.#read(
      this.#pool,
      `SELECT id, created, identifier, expiration, response, notes FROM ban
        WHERE expiration IS NULL OR expiration >= NOW(3)
        ORDER BY created DESC, id DESC LIMIT ? OFFSET ?`,
      [opts.limit ?? 100, opts.offset ?? 0],
    );
    return rows.map((r) => ({
      id: num(r.id),
      created: r.created as Date,
      identifier: String(r.identifier),
      expiration: (r.expiration as Date | null) ?? null,
      response: (r.response as string | null) ?? null,
      notes: (r.notes as string | null) ?? null,
    }));
  }

  async countActiveBans(): Promise<number> {
    const rows = await this.#read(
      this.#pool,
      'SELECT COUNT(*) AS n FROM ban WHERE expiration IS NULL OR expiration >= NOW(3)',
      [],
    );
    return num(rows[0]!.n);
  }

  async blames(opts: { identifier?: string; limit?: number } = {}): Promise<BlameRow[]> {
    const where = opts.identifier === undefined ? '' : 'WHERE identifier = ?';
    const params: unknown[] = opts.identifier === undefined ? [] : [opts.identifier];
    params.push(opts.limit ?? 100);
    const rows = await this.#read(
      this.#pool,
      `SELECT id, created, identifier, reason, mix_id, ip, pool_id FROM blame ${where}
        ORDER BY created DESC, id DESC LIMIT ?`,
      params,
    );
    return rows.map((r) => ({
      id: num(r.id),
      created: r.created as Date,
      identifier: String(r.identifier),
      reason: String(r.reason),
      mixId: String(r.mix_id),
      ip: String(r.ip),
      poolId: (r.pool_id as string | null) ?? null,
    }));
  }

  async addBan(
    identifier: string,
    opts: { expirationSeconds: number | null; response?: string | null; notes?: string | null },
  ): Promise<number> {
    const res = await this.#write(
      this.#pool,
      `INSERT INTO ban (created, identifier, expiration, response, notes)
       VALUES (NOW(3), ?, IF(? IS NULL, NULL, NOW(3) + INTERVAL ? SECOND), ?, ?)`,
      [
        identifier,
        opts.expirationSeconds,
        opts.expirationSeconds ?? 0,
        opts.response ?? null,
        opts.notes ?? null,
      ],
    );
    return num(res.insertId);
  }

  async unban(identifier: string): Promise<number> {
    const res = await this.#write(
      this.#pool,
      `UPDATE ban SET expiration = NOW(3) - INTERVAL 1 SECOND
        WHERE identifier = ? AND (expiration IS NULL OR expiration >= NOW(3))`,
      [identifier],
    );
    return res.affectedRows;
  }

  async addTx0Whitelist(txid: string): Promise<void> {
    await this.#write(this.#pool, 'INSERT IGNORE INTO tx0_whitelist (created, txid) VALUES (NOW(3), ?)', [
      txid,
    ]);
  }
}

/**
 * Duration of a new ban in µs (addendum §7): `expirationSeconds` for a first
 * ban, else the previous ban's duration × `factor` (no decay), capped at 100
 * years so the timestamp stays representable.
 */
export function banDurationUs(previousUs: number | null, expirationSeconds: number, factor: number): number {
  const base = expirationSeconds * 1_000_000;
  const next =
    previousUs !== null && Number.isFinite(previousUs) && previousUs > 0 ? previousUs * factor : base;
  return Math.round(Math.min(next, 100 * 365 * 86_400 * 1_000_000));
}
