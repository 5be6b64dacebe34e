/**
 * Ban recidivism (addendum §7, vector §9.12) on a real MariaDB: with
 * `ban.expiration` 1000 s and factor 2, bans of one identifier last
 * 1 000 000 ms, then 2 000 000 ms, then 4 000 000 ms, however old the earlier
 * bans are; a factor-less policy keeps the fixed duration; a permanent
 * (manual) ban has no duration and does not count.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BanPolicy } from '#coordinator/mix/types.ts';
import { createDbPool } from '#coordinator/store/db_pool.ts';
import { runMigrations } from '#coordinator/store/migrate.ts';
import { banDurationUs, MySqlMixStore } from '#coordinator/store/mix_store.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';

const POLICY: BanPolicy = { blames: 2, periodSeconds: 100, expirationSeconds: 1000, recidivismFactor: 2 };

describe('ban recidivism', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: MySqlMixStore;

  beforeAll(async () => {
    db = await createTestDatabase('ban_recidivism');
    await runMigrations(db.url);
    pool = createDbPool(db.url);
    store = new MySqlMixStore(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  async function durationsMs(identifier: string): Promise<number[]> {
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT TIMESTAMPDIFF(MICROSECOND, created, expiration) AS us FROM ban WHERE identifier = ? ORDER BY id',
      [identifier],
    );
    return rows.map((r) => Number(r.us) / 1000);
  }

  async function banTwice(identifier: string, policy: BanPolicy = POLICY): Promise<void> {
    for (let i = 0; i < 2; i++) {
      await store.blame({ identifier, reason: 'SIGNING', mixId: `m${i}`, ip: '127.0.0.1' }, policy, null);
    }
    await pool.query('DELETE FROM blame WHERE identifier = ?', [identifier]);
  }

  it('§9.12: 1 000 000, 2 000 000, 4 000 000 ms; an expired two-day-old ban still counts', async () => {
    const id = 'cb2fad88ae75fdabb2bcc131b2f4f0ff2c82af22b6dd804dc341900195fb6187';
    await banTwice(id);
    // age the first ban: created two days ago, long expired
    await pool.query(
      'UPDATE ban SET created = created - INTERVAL 2 DAY, expiration = expiration - INTERVAL 2 DAY WHERE identifier = ?',
      [id],
    );
    await banTwice(id);
    await banTwice(id);
    expect(await durationsMs(id)).toEqual([1_000_000, 2_000_000, 4_000_000]);
    expect(await store.isBanned([id])).not.toBeNull();
  });

  it('without a factor the duration stays fixed; a permanent manual ban is not a duration', async () => {
    await banTwice('fixed', { blames: 2, periodSeconds: 100, expirationSeconds: 1000 });
    await banTwice('fixed', { blames: 2, periodSeconds: 100, expirationSeconds: 1000 });
    expect(await durationsMs('fixed')).toEqual([1_000_000, 1_000_000]);
    await store.addBan('manual', { expirationSeconds: null, notes: 'by hand' });
    await banTwice('manual');
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT TIMESTAMPDIFF(MICROSECOND, created, expiration) AS us FROM ban WHERE identifier = ? AND expiration IS NOT NULL',
      ['manual'],
    );
    expect(rows.map((r) => Number(r.us) / 1000)).toEqual([1_000_000]);
  });

  it('banDurationUs', () => {
    expect(banDurationUs(null, 43200, 2)).toBe(43_200_000_000);
    expect(banDurationUs(43_200_000_000, 43200, 2)).toBe(86_400_000_000);
    expect(banDurationUs(0, 10, 2)).toBe(10_000_000);
    expect(banDurationUs(1e30, 10, 2)).toBe(100 * 365 * 86_400 * 1_000_000);
  });
});
