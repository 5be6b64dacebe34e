/**
 * MySqlMixStore against the real MariaDB: every MixStore method, the ban
 * policy of spec §5.5 (test config: 2 blames → ban, expiry), fenced writes
 * (refused with a stale epoch, an expired lease or another owner, accepted
 * with the current lease), address-reuse uniqueness, the fee-index counter
 * across connections, and the dashboard reads.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LeaseFence, MixResult } from '#coordinator/mix/types.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { FencedOutError, OutputAlreadyUsedError } from '#coordinator/store/errors.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { banNotes, MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';

const TXID = 'cb2fad88ae6f3a8ba9b1e8b5e1a4bc3cdaa0b0e5fb5b8a2b42c3d09a1b8e6187';
const TEST_POLICY = { blames: 2, periodSeconds: 100, expirationSeconds: 1000 };

function randomHex(chars: number): string {
  let s = '';
  while (s.length < chars) s += Math.random().toString(16).slice(2);
  return s.slice(0, chars);
}

function mixResult(over: Partial<MixResult> = {}): MixResult {
  return {
    poolId: '0.01btc',
    mixId: randomHex(32),
    denomination: 1_000_000,
    anonymitySet: 5,
    nbMustMix: 3,
    nbLiquidities: 2,
    amountIn: 5_000_800,
    amountOut: 5_000_000,
    feesAmount: 800,
    feesPrice: 2.7,
    mixDurationSeconds: 42,
    status: 'SUCCESS',
    failReason: null,
    failInfo: null,
    txid: randomHex(64),
    rawTxHex: '0100000000',
    ...over,
  };
}

describe('MySqlMixStore', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: MySqlMixStore;
  let singlePool: Pool;

  async function rows(sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
    const [r] = await pool.query<RowDataPacket[]>(sql, params);
    return r;
  }

  /** Com_select of a single connection of the pool, read on that connection (statements it ran). */
  async function sessionSelects(): Promise<number> {
    const [r] = await singlePool.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Com_select'");
    return Number(r[0]!.Value);
  }

  async function setLease(poolId: string, owner: string | null, epoch: number, ttlMs: number): Promise<void> {
    await pool.query(
      `INSERT INTO pool_lease (pool_id, owner, epoch, lease_until) VALUES (?, ?, ?, NOW(3) + INTERVAL ? MICROSECOND)
       ON DUPLICATE KEY UPDATE owner = VALUES(owner), epoch = VALUES(epoch), lease_until = VALUES(lease_until)`,
      [poolId, owner, epoch, ttlMs * 1000],
    );
  }

  beforeAll(async () => {
    db = await createTestDatabase('mix store');
    await runMigrations(db.url);
    pool = createDbPool(db.url, { connectionLimit: 5 });
    store = new MySqlMixStore(pool);
    singlePool = createDbPool(db.url, { connectionLimit: 1 });
    // Fencing needs the cluster stream's pool_lease table (migration 010); create it if that file is absent.
    await pool.query(`CREATE TABLE IF NOT EXISTS pool_lease (
      pool_id VARCHAR(64) NOT NULL PRIMARY KEY, owner VARCHAR(64) NULL, epoch BIGINT NOT NULL DEFAULT 0,
      lease_until DATETIME(3) NULL)`);
  });
  afterAll(async () => {
    await singlePool?.end();
    await pool?.end();
    await db?.drop();
  });

  describe('outputs', () => {
    it('saves an address once and refuses its reuse', async () => {
      const address = 'bcrt1qoutput0000000000000000000000000001';
      expect(await store.isOutputUsed(address)).toBe(false);
      await store.saveOutput(address, null);
      expect(await store.isOutputUsed(address)).toBe(true);
      const err = await store.saveOutput(address, null).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutputAlreadyUsedError);
      expect((err as OutputAlreadyUsedError).address).toBe(address);
      expect(await rows('SELECT * FROM mix_output WHERE address = ?', [address])).toHaveLength(1);
    });

    it('treats an upper-case spelling of a bech32 address as the same address', async () => {
      const address = 'bcrt1qcase00000000000000000000000000000001';
      await store.saveOutput(address, null);
      expect(await store.isOutputUsed(address.toUpperCase())).toBe(true);
      await expect(store.saveOutput(address.toUpperCase(), null)).rejects.toBeInstanceOf(
        OutputAlreadyUsedError,
      );
    });

    it('lets exactly one of concurrent saves of one address win', async () => {
      const address = 'bcrt1qoutputrace0000000000000000000000001';
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => store.saveOutput(address, null)),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((x) => x.status === 'rejected')) {
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(OutputAlreadyUsedError);
      }
    });
  });

  describe('lookups', () => {
    it('finds mix txids by txid and denomination', async () => {
      const r = mixResult();
      await store.saveMixResult(r, null);
      expect(await store.isMixTxid(r.txid!, 1_000_000)).toBe(true);
      expect(await store.isMixTxid(r.txid!, 1_000_001)).toBe(false);
      expect(await store.isMixTxid('00'.repeat(32), 1_000_000)).toBe(false);
    });

    it('inputFacts answers ban, whitelist and mix txid in one statement, like the three lookups', async () => {
      const txid = randomHex(64);
      const ids = [txid, `${txid}:1`];
      expect(await store.inputFacts(txid, ids)).toEqual({
        ban: null,
        tx0Whitelisted: false,
        mixDenominations: [],
      });
      // one statement: counted on a one-connection pool's own session
      const singleStore = new MySqlMixStore(singlePool);
      const before = await sessionSelects();
      await singleStore.inputFacts(txid, ids);
      expect((await sessionSelects()) - before).toBe(1);

      const r = mixResult({ txid, denomination: 5_000_000 });
      await store.saveMixResult(r, null);
      await store.addTx0Whitelist(txid);
      expect(await store.inputFacts(txid, ids)).toEqual({
        ban: null,
        tx0Whitelisted: true,
        mixDenominations: [5_000_000],
      });
      // an expired ban does not count; an active one on the outpoint does, with its response
      await store.addBan(`${txid}:1`, { expirationSeconds: -10, response: 'old' });
      expect((await store.inputFacts(txid, ids)).ban).toBeNull();
      await store.addBan(`${txid}:1`, { expirationSeconds: 60, response: 'Go away.' });
      expect((await store.inputFacts(txid, ids)).ban).toEqual({ response: 'Go away.' });
      expect(await store.isBanned(ids)).toEqual({ response: 'Go away.' });
      // another outpoint of the same txid is not banned; no identifiers = no ban
      expect((await store.inputFacts(txid, [txid, `${txid}:2`])).ban).toBeNull();
      expect((await store.inputFacts(txid, [])).ban).toBeNull();
      // a permanent ban on the txid covers every outpoint
      await store.addBan(txid, { expirationSeconds: null });
      expect((await store.inputFacts(txid, [txid, `${txid}:2`])).ban).toEqual({ response: null });
    });

    it('finds whitelisted Tx0s', async () => {
      expect(await store.isTx0Whitelisted(TXID)).toBe(false);
      await store.addTx0Whitelist(TXID);
      await store.addTx0Whitelist(TXID);
      expect(await store.isTx0Whitelisted(TXID)).toBe(true);
    });
  });

  describe('mix results', () => {
    it('writes mix, mix_log and mix_txid for a SUCCESS', async () => {
      const r = mixResult();
      await store.saveMixResult(r, null);
      const [mix] = await rows('SELECT * FROM mix WHERE mix_id = ?', [r.mixId]);
      expect(mix).toMatchObject({
        pool_id: '0.01btc',
        denomination: 1_000_000,
        anonymity_set: 5,
        nb_must_mix: 3,
        nb_liquidities: 2,
        amount_in: 5_000_800,
        amount_out: 5_000_000,
        fees_amount: 800,
        fees_price: 2,
        mix_duration: 42,
        mix_status: 'SUCCESS',
        fail_reason: null,
        fail_info: null,
        instance_id: null,
        lease_epoch: null,
      });
      expect(mix!.created).toBeInstanceOf(Date);
      expect(Math.abs((mix!.created as Date).getTime() - Date.now())).toBeLessThan(60_000);
      const logs = await rows('SELECT * FROM mix_log WHERE mix_id = ?', [mix!.id]);
      expect(logs).toEqual([expect.objectContaining({ txid: r.txid, raw_tx: r.rawTxHex })]);
      expect(await rows('SELECT * FROM mix_txid WHERE txid = ?', [r.txid])).toHaveLength(1);
    });

    it('writes no mix_txid for a FAIL and keeps long fail_info', async () => {
      const failInfo = Array.from({ length: 5 }, (_, i) => `${'ab'.repeat(32)}:${i}`).join(';');
      expect(failInfo.length).toBeGreaterThan(255);
      const r = mixResult({
        status: 'FAIL',
        failReason: 'FAIL_SIGNING',
        failInfo,
        txid: 'ff'.repeat(32),
        feesPrice: null,
      });
      await store.saveMixResult(r, null);
      const [mix] = await rows('SELECT * FROM mix WHERE mix_id = ?', [r.mixId]);
      expect(mix).toMatchObject({ mix_status: 'FAIL', fail_reason: 'FAIL_SIGNING', fail_info: failInfo });
      expect(await rows('SELECT * FROM mix_txid WHERE txid = ?', [r.txid])).toHaveLength(0);
    });

    it('is all or nothing: a duplicate mix txid rolls the whole result back', async () => {
      const first = mixResult({ txid: '12'.repeat(32) });
      await store.saveMixResult(first, null);
      const second = mixResult({ txid: '12'.repeat(32) });
      await expect(store.saveMixResult(second, null)).rejects.toThrow();
      expect(await rows('SELECT * FROM mix WHERE mix_id = ?', [second.mixId])).toHaveLength(0);
    });

    it('refuses a SUCCESS without txid', async () => {
      await expect(store.saveMixResult(mixResult({ txid: null }), null)).rejects.toThrow(/has no txid/);
    });
  });

  describe('blame and ban', () => {
    it('bans at the second blame within the period (test config) with the reference notes', async () => {
      const id = `${'a1'.repeat(32)}`;
      expect(await store.isBanned([id, `${id}:0`])).toBeNull();
      const b1 = await store.blame(
        { identifier: id, reason: 'SIGNING', mixId: 'm1', ip: '10.0.0.1' },
        TEST_POLICY,
        null,
      );
      expect(b1).toEqual({ banned: false });
      expect(await store.isBanned([id])).toBeNull();
      const b2 = await store.blame(
        { identifier: id, reason: 'DISCONNECT', mixId: 'm2', ip: '10.0.0.2' },
        TEST_POLICY,
        null,
      );
      expect(b2).toEqual({ banned: true });
      // every premix output of the Tx0 is covered (identifier = Tx0 txid)
      for (const index of [0, 1, 100])
        expect(await store.isBanned([id, `${id}:${index}`])).toEqual({ response: null });
      const [ban] = await rows(
        'SELECT *, TIMESTAMPDIFF(SECOND, created, expiration) AS secs FROM ban WHERE identifier = ?',
        [id],
      );
      expect(ban!.notes).toBe('2 blames in 1min: SIGNING, DISCONNECT');
      expect(Number(ban!.secs)).toBe(1000);
      const blames = await store.blames({ identifier: id });
      expect(blames.map((b) => b.reason)).toEqual(['DISCONNECT', 'SIGNING']);
      expect(blames[0]).toMatchObject({ mixId: 'm2', ip: '10.0.0.2' });
    });

    it('a liquidity ban covers only its outpoint', async () => {
      const id = `${'b2'.repeat(32)}:2`;
      await store.blame({ identifier: id, reason: 'SIGNING', mixId: 'm1', ip: 'x' }, TEST_POLICY, null);
      await store.blame({ identifier: id, reason: 'SIGNING', mixId: 'm2', ip: 'x' }, TEST_POLICY, null);
      expect(await store.isBanned(['b2'.repeat(32), id])).not.toBeNull();
      expect(await store.isBanned(['b2'.repeat(32), `${'b2'.repeat(32)}:3`])).toBeNull();
    });

    it('does not count blames older than the period', async () => {
      const id = 'c3'.repeat(32);
      await store.blame({ identifier: id, reason: 'SIGNING', mixId: 'm1', ip: 'x' }, TEST_POLICY, null);
      await pool.query('UPDATE blame SET created = NOW(3) - INTERVAL 101 SECOND WHERE identifier = ?', [id]);
      const r = await store.blame(
        { identifier: id, reason: 'SIGNING', mixId: 'm2', ip: 'x' },
        TEST_POLICY,
        null,
      );
      expect(r).toEqual({ banned: false });
    });

    it('a ban stops being active once expired, and every further blame adds a ban', async () => {
      const id = 'd4'.repeat(32);
      for (let i = 0; i < 3; i++) {
        await store.blame(
          { identifier: id, reason: 'REGISTER_OUTPUT', mixId: `m${i}`, ip: 'x' },
          TEST_POLICY,
          null,
        );
      }
      const bans = await rows('SELECT notes FROM ban WHERE identifier = ? ORDER BY id', [id]);
      expect(bans.map((b) => b.notes)).toEqual([
        '2 blames in 1min: REGISTER_OUTPUT, REGISTER_OUTPUT',
        '3 blames in 1min: REGISTER_OUTPUT, REGISTER_OUTPUT, REGISTER_OUTPUT',
      ]);
      expect(await store.isBanned([id])).not.toBeNull();
      await pool.query('UPDATE ban SET expiration = NOW(3) - INTERVAL 1 SECOND WHERE identifier = ?', [id]);
      expect(await store.isBanned([id])).toBeNull();
    });

    it('serialises concurrent blames of one identifier (every blame from the 2nd on bans)', async () => {
      const id = 'f7'.repeat(32);
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          store.blame({ identifier: id, reason: 'SIGNING', mixId: `m${i}`, ip: 'x' }, TEST_POLICY, null),
        ),
      );
      expect(results.filter((r) => r.banned)).toHaveLength(4);
      const notes = (await rows('SELECT notes FROM ban WHERE identifier = ? ORDER BY id', [id])).map(
        (r) => r.notes,
      );
      expect(notes.map((n) => String(n).split(' ')[0])).toEqual(['2', '3', '4', '5']);
    });

    it('honours manual bans: permanent, custom response, unban', async () => {
      const id = 'e5'.repeat(32);
      await store.addBan(id, { expirationSeconds: null, response: 'Go away.', notes: 'manual' });
      expect(await store.isBanned([id])).toEqual({ response: 'Go away.' });
      expect((await store.activeBans()).some((b) => b.identifier === id && b.expiration === null)).toBe(true);
      expect(await store.unban(id)).toBe(1);
      expect(await store.isBanned([id])).toBeNull();
      expect(await store.unban(id)).toBe(0);
    });

    it('formats notes like the reference', () => {
      expect(banNotes(['SIGNING', 'SPENT'], 7200)).toBe('2 blames in 120min: SIGNING, SPENT');
      expect(banNotes(['SIGNING'], 100)).toBe('1 blames in 1min: SIGNING');
    });

    it('isBanned with no identifiers is null', async () => {
      expect(await store.isBanned([])).toBeNull();
    });
  });

  describe('fenced writes', () => {
    const fence: LeaseFence = { poolId: 'fenced', instanceId: 'inst-a', epoch: 7 };

    beforeEach(async () => {
      await setLease('fenced', 'inst-a', 7, 60_000);
    });

    it('are accepted with the current lease and record who wrote', async () => {
      await store.saveOutput('bcrt1qfenced0000000000000000000000000001', fence);
      const [out] = await rows('SELECT * FROM mix_output WHERE address = ?', [
        'bcrt1qfenced0000000000000000000000000001',
      ]);
      expect(out).toMatchObject({ pool_id: 'fenced', instance_id: 'inst-a', lease_epoch: 7 });
      expect(
        await store.blame(
          { identifier: 'f1'.repeat(32), reason: 'SIGNING', mixId: 'm', ip: 'x' },
          TEST_POLICY,
          fence,
        ),
      ).toEqual({ banned: false });
      const r = mixResult({ poolId: 'fenced' });
      await store.saveMixResult(r, fence);
      const [mix] = await rows('SELECT instance_id, lease_epoch FROM mix WHERE mix_id = ?', [r.mixId]);
      expect(mix).toMatchObject({ instance_id: 'inst-a', lease_epoch: 7 });
    });

    it('are refused with a stale epoch and write nothing', async () => {
      await setLease('fenced', 'inst-a', 8, 60_000);
      await expectFenced(fence);
    });

    it('are refused when another instance owns the lease', async () => {
      await setLease('fenced', 'inst-b', 8, 60_000);
      await expectFenced(fence);
    });

    it('are refused when the lease expired (DB clock)', async () => {
      await setLease('fenced', 'inst-a', 7, -1);
      await expectFenced(fence);
    });

    it('are refused when the pool has no lease row', async () => {
      await expectFenced({ poolId: 'no-such-pool', instanceId: 'inst-a', epoch: 1 });
    });

    it('hold off a lease takeover until the fenced transaction ends', async () => {
      // A takeover UPDATE issued while a fenced write is in flight must wait for it (shared lock).
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        await conn.query(
          'SELECT 1 FROM pool_lease WHERE pool_id = ? AND owner = ? AND epoch = ? AND lease_until > NOW(3) LOCK IN SHARE MODE',
          ['fenced', 'inst-a', 7],
        );
        const other = await pool.getConnection();
        try {
          await other.query('SET SESSION innodb_lock_wait_timeout = 1');
          await expect(
            other.query("UPDATE pool_lease SET owner = 'inst-b', epoch = 8 WHERE pool_id = 'fenced'"),
          ).rejects.toThrow(/Lock wait timeout/);
        } finally {
          other.release();
        }
        await conn.commit();
      } finally {
        conn.release();
      }
    });

    async function expectFenced(f: LeaseFence): Promise<void> {
      const address = `bcrt1qstale${Math.random().toString(36).slice(2, 12)}`;
      const e1 = await store.saveOutput(address, f).catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(FencedOutError);
      expect((e1 as FencedOutError).fence).toEqual(f);
      expect(await store.isOutputUsed(address)).toBe(false);

      const identifier = `stale-${Math.random()}`;
      await expect(
        store.blame({ identifier, reason: 'SIGNING', mixId: 'm', ip: 'x' }, { ...TEST_POLICY, blames: 1 }, f),
      ).rejects.toBeInstanceOf(FencedOutError);
      expect(await rows('SELECT * FROM blame WHERE identifier = ?', [identifier])).toHaveLength(0);
      expect(await store.isBanned([identifier])).toBeNull();

      const r = mixResult({ poolId: f.poolId });
      await expect(store.saveMixResult(r, f)).rejects.toBeInstanceOf(FencedOutError);
      expect(await rows('SELECT * FROM mix WHERE mix_id = ?', [r.mixId])).toHaveLength(0);
      expect(await rows('SELECT * FROM mix_txid WHERE txid = ?', [r.txid])).toHaveLength(0);
    }

    it('refuse a mix result whose pool differs from the fence', async () => {
      await expect(store.saveMixResult(mixResult({ poolId: 'other' }), fence)).rejects.toThrow(
        /fence of pool 'fenced'/,
      );
    });
  });

  describe('fee index', () => {
    it('hands out distinct increasing indices across concurrent callers', async () => {
      const first = await store.nextFeeIndex();
      expect(first).toBeGreaterThanOrEqual(1);
      const other = new MySqlMixStore(createDbPool(db.url, { connectionLimit: 3 }));
      const got = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).nextFeeIndex()),
      );
      expect(new Set(got).size).toBe(20);
      expect(Math.min(...got)).toBe(first + 1);
      expect(Math.max(...got)).toBe(first + 20);
    });

    it('starts at 1 on a fresh database', async () => {
      const fresh = await createTestDatabase('fee index');
      try {
        await runMigrations(fresh.url);
        const p = createDbPool(fresh.url);
        try {
          expect(await new MySqlMixStore(p).nextFeeIndex()).toBe(1);
        } finally {
          await p.end();
        }
      } finally {
        await fresh.drop();
      }
    });
  });

  describe('dashboard reads', () => {
    it('lists recent mixes newest first with their txid, and stats over successes', async () => {
      const a = mixResult({ poolId: 'stats', txid: '34'.repeat(32) });
      const b = mixResult({
        poolId: 'stats',
        status: 'FAIL',
        failReason: 'DISCONNECT',
        txid: null,
        rawTxHex: null,
      });
      await store.saveMixResult(a, null);
      await store.saveMixResult(b, null);
      const recent = await store.recentMixes({ poolId: 'stats' });
      expect(recent.map((m) => m.mixId)).toEqual([b.mixId, a.mixId]);
      expect(recent[1]).toMatchObject({
        txid: a.txid,
        status: 'SUCCESS',
        feesPrice: 2,
        mixDurationSeconds: 42,
      });
      const stats = await store.mixStats();
      const [expected] = await rows(
        "SELECT COUNT(*) AS n, SUM(nb_must_mix * denomination) AS v, SUM(amount_out) AS o FROM mix WHERE mix_status = 'SUCCESS'",
      );
      expect(stats).toEqual({
        nbSuccess: Number(expected!.n),
        mustMixVolume: Number(expected!.v),
        amountOut: Number(expected!.o),
      });
      expect(stats.nbSuccess).toBeGreaterThanOrEqual(1);
    });

    it('counts active bans', async () => {
      const before = await store.countActiveBans();
      await store.addBan('count-me', { expirationSeconds: 60 });
      expect(await store.countActiveBans()).toBe(before + 1);
    });
  });
});
