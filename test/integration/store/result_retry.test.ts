/**
 * retryMixResults against the real MariaDB reached through a TCP proxy the
 * test cuts: a mix result whose save meets the outage is written once the
 * database is back (exactly one `mix` and one `mix_txid` row), a pending
 * result whose lease moved on meanwhile is refused by the fence and dropped,
 * a result whose first save committed but lost its answer is not written
 * twice, and close() gives up what is still pending.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeaseFence, MixResult } from '#coordinator/mix/types.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { type ResultRetryLogger, retryMixResults } from '#coordinator/store/result_retry.ts';
import { createTestDatabase, mysqlOptionsFromUrl, type TestDatabase } from '#test/support/db.ts';
import { pollFor } from '#test/support/poll.ts';
import { startTcpProxy, type TcpProxy } from '#test/support/tcp_proxy.ts';

const POOL = '0.01btc';

function randomHex(chars: number): string {
  let s = '';
  while (s.length < chars) s += Math.random().toString(16).slice(2);
  return s.slice(0, chars);
}

function mixResult(): MixResult {
  return {
    poolId: POOL,
    mixId: randomHex(32),
    denomination: 1_000_000,
    anonymitySet: 5,
    nbMustMix: 5,
    nbLiquidities: 0,
    amountIn: 5_000_800,
    amountOut: 5_000_000,
    feesAmount: 800,
    feesPrice: 2,
    mixDurationSeconds: 12,
    status: 'SUCCESS',
    failReason: null,
    failInfo: null,
    txid: randomHex(64),
    rawTxHex: '0100000000',
  };
}

/** A logger that keeps every line (message and fields). */
function recordingLogger(): ResultRetryLogger & {
  lines: Array<{ level: string; msg: string; obj: object }>;
} {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const at = (level: string) => (obj: object, msg: string) => lines.push({ level, msg, obj });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

describe('retryMixResults', () => {
  let db: TestDatabase;
  let direct: Pool;
  let proxy: TcpProxy;
  let viaProxy: Pool;

  async function rows(sql: string, params: unknown[] = []): Promise<RowDataPacket[]> {
    const [r] = await direct.query<RowDataPacket[]>(sql, params);
    return r;
  }

  async function setLease(epoch: number): Promise<LeaseFence> {
    await direct.query(
      `INSERT INTO pool_lease (pool_id, owner, epoch, lease_until) VALUES (?, 'i1', ?, NOW(3) + INTERVAL 60 SECOND)
       ON DUPLICATE KEY UPDATE owner = VALUES(owner), epoch = VALUES(epoch), lease_until = VALUES(lease_until)`,
      [POOL, epoch],
    );
    return { poolId: POOL, instanceId: 'i1', epoch };
  }

  beforeAll(async () => {
    db = await createTestDatabase('result retry');
    await runMigrations(db.url);
    direct = createDbPool(db.url, { connectionLimit: 2 });
    const o = mysqlOptionsFromUrl(db.url);
    proxy = await startTcpProxy({ host: String(o.host), port: Number(o.port) });
    viaProxy = createDbPool(proxy.rewriteUrl(db.url), { connectionLimit: 2 });
  });
  afterAll(async () => {
    await viaProxy?.end().catch(() => undefined);
    await direct?.end();
    await proxy?.close();
    await db?.drop();
  });

  it('writes a result that met an outage once the database is back, exactly once', async () => {
    const fence = await setLease(1);
    const log = recordingLogger();
    const store = retryMixResults(new MySqlMixStore(viaProxy), {
      logger: log,
      initialDelayMs: 100,
      maxDelayMs: 200,
    });
    const r = mixResult();
    proxy.refuse();
    await store.saveMixResult(r, fence);
    expect(store.pendingResults).toBe(1);
    expect(await rows('SELECT * FROM mix WHERE mix_id = ?', [r.mixId])).toEqual([]);
    await new Promise((res) => setTimeout(res, 500));
    expect(store.pendingResults).toBe(1);
    proxy.heal();
    await pollFor('result saved', async () => (store.pendingResults === 0 ? true : null), {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const mixes = await rows('SELECT mix_status, lease_epoch FROM mix WHERE mix_id = ?', [r.mixId]);
    expect(mixes).toEqual([expect.objectContaining({ mix_status: 'SUCCESS' })]);
    expect(Number(mixes[0]!.lease_epoch)).toBe(1);
    expect(await rows('SELECT txid FROM mix_txid WHERE txid = ?', [r.txid])).toHaveLength(1);
    expect(log.lines.map((l) => l.msg)).toContain('mix result saved after retry');
    store.close();
  });

  it('does not hang on a black-holed database: the save resolves, and the result is written once after', async () => {
    const fence = await setLease(6);
    const log = recordingLogger();
    const store = retryMixResults(new MySqlMixStore(viaProxy), {
      logger: log,
      initialDelayMs: 100,
      maxDelayMs: 200,
      attemptTimeoutMs: 300,
    });
    await viaProxy.query('SELECT 1'); // a pooled connection exists before the cut
    const r = mixResult();
    proxy.blackhole();
    await store.saveMixResult(r, fence); // would wait for ever without the attempt timeout
    expect(store.pendingResults).toBe(1);
    proxy.heal();
    await pollFor('result settled', async () => (store.pendingResults === 0 ? true : null), {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(await rows('SELECT id FROM mix WHERE mix_id = ?', [r.mixId])).toHaveLength(1);
    expect(await rows('SELECT id FROM mix_txid WHERE txid = ?', [r.txid])).toHaveLength(1);
    store.close();
  });

  it('drops a pending result refused by the fence once the lease moved on', async () => {
    const fence = await setLease(2);
    const log = recordingLogger();
    const store = retryMixResults(new MySqlMixStore(viaProxy), {
      logger: log,
      initialDelayMs: 100,
      maxDelayMs: 200,
    });
    const r = mixResult();
    proxy.refuse();
    await store.saveMixResult(r, fence);
    expect(store.pendingResults).toBe(1);
    await setLease(3); // another owner took the pool over meanwhile
    proxy.heal();
    await pollFor('result settled', async () => (store.pendingResults === 0 ? true : null), {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(await rows('SELECT * FROM mix WHERE mix_id = ?', [r.mixId])).toEqual([]);
    const refused = log.lines.find((l) => l.msg === 'mix result refused by the lease fence: not recorded');
    expect(refused?.level).toBe('error');
    expect(refused?.obj).toMatchObject({ mixId: r.mixId, txid: r.txid, rawTx: r.rawTxHex });
    store.close();
  });

  it('does not write twice a result whose first save committed but lost its answer', async () => {
    const fence = await setLease(4);
    const real = new MySqlMixStore(direct);
    let calls = 0;
    // Wrapper (not a fake database): the first save really commits, then reports a lost connection.
    const lossy = Object.create(real) as MySqlMixStore;
    lossy.saveMixResult = async (res, f) => {
      calls++;
      await real.saveMixResult(res, f);
      if (calls === 1)
        throw Object.assign(new Error('Connection lost: The server closed the connection.'), {
          code: 'PROTOCOL_CONNECTION_LOST',
        });
    };
    const log = recordingLogger();
    const store = retryMixResults(lossy, { logger: log, initialDelayMs: 50 });
    const r = mixResult();
    await store.saveMixResult(r, fence);
    expect(store.pendingResults).toBe(1);
    expect(await store.flush(5000)).toBe(0);
    expect(calls).toBe(2);
    expect(await rows('SELECT id FROM mix WHERE mix_id = ?', [r.mixId])).toHaveLength(1);
    expect(await rows('SELECT id FROM mix_txid WHERE txid = ?', [r.txid])).toHaveLength(1);
    expect(log.lines.map((l) => l.msg)).toContain('mix result was already saved');
    store.close();
  });

  it('still throws a fence refusal at once, and close() gives up what is pending', async () => {
    const stale: LeaseFence = { poolId: POOL, instanceId: 'i1', epoch: 1 };
    await setLease(5);
    const log = recordingLogger();
    const store = retryMixResults(new MySqlMixStore(viaProxy), { logger: log, initialDelayMs: 100 });
    await expect(store.saveMixResult(mixResult(), stale)).rejects.toThrow(/no longer leased/);
    expect(store.pendingResults).toBe(0);
    proxy.refuse();
    const r = mixResult();
    await store.saveMixResult(r, { ...stale, epoch: 5 });
    expect(store.pendingResults).toBe(1);
    expect(await store.flush(300)).toBe(1);
    expect(store.close()).toBe(1);
    expect(store.pendingResults).toBe(0);
    const given = log.lines.find((l) => l.msg === 'mix result not recorded before shutdown');
    expect(given?.obj).toMatchObject({ mixId: r.mixId, txid: r.txid });
    proxy.heal();
    await new Promise((res) => setTimeout(res, 300));
    expect(await rows('SELECT * FROM mix WHERE mix_id = ?', [r.mixId])).toEqual([]);
  });
});
