import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestDb } from '#test/support/db.ts';
import { createDirectoryFixture, type DirectoryFixture } from '#test/support/directory_fixture.ts';

/** Migration 020 and the read-only account of docs/directory.md, on real MariaDB. */
describe('directory_view and the read-only bootstrap account', () => {
  let fx: DirectoryFixture;
  let ro: Connection;

  beforeAll(async () => {
    fx = await createDirectoryFixture('dir_account');
    await fx.registerInstance({ id: 'inst-a', urlClear: 'https://a.example.org' });
    await fx.setLease('0.01btc', 'inst-a', 7);
    await fx.publish('inst-a');
    // an expired record, written directly
    await fx.pool.query(
      "INSERT INTO directory_record VALUES ('inst-old', '{}', REPEAT('0', 128), NOW(3) - INTERVAL 2 MINUTE, NOW(3) - INTERVAL 1 MINUTE)",
    );
    ro = await connectTestDb(fx.account.url);
  });
  afterAll(async () => {
    await ro?.end();
    await fx?.cleanup();
  });

  async function refused(sql: string): Promise<string> {
    try {
      await ro.query(sql);
    } catch (err) {
      return (err as { code: string }).code;
    }
    throw new Error(`expected '${sql}' to be refused`);
  }

  it('the view exposes the non-expired records only, to the read-only account', async () => {
    const [rows] = await ro.query('SELECT instance_id, record, signature FROM directory_view');
    const list = rows as Array<{ instance_id: string; record: string }>;
    expect(list.map((r) => r.instance_id)).toEqual(['inst-a']);
    expect(JSON.parse(list[0]!.record).pools).toEqual([{ poolId: '0.01btc', epoch: 7 }]);
  });

  it('the view follows NOW(3): a record disappears once expired', async () => {
    await fx.pool.query(
      "UPDATE directory_record SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE instance_id = 'inst-a'",
    );
    const [rows] = await ro.query('SELECT instance_id FROM directory_view');
    expect(rows).toEqual([]);
    await fx.publish('inst-a');
    const [again] = await ro.query('SELECT instance_id FROM directory_view');
    expect(again).toEqual([{ instance_id: 'inst-a' }]);
  });

  it('refuses the underlying table and every other table', async () => {
    expect(await refused('SELECT * FROM directory_record')).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused('SELECT * FROM pool_lease')).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused('SELECT * FROM instance')).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused('SELECT * FROM mix')).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused('SELECT * FROM schema_migrations')).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused('SELECT * FROM mysql.user')).toBe('ER_TABLEACCESS_DENIED_ERROR');
  });

  it('refuses writes through the view and DDL', async () => {
    expect(
      await refused(
        "INSERT INTO directory_view (instance_id, record, signature, expires_at) VALUES ('x','{}','0',NOW())",
      ),
    ).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused("UPDATE directory_view SET record = '{}'")).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused('DELETE FROM directory_view')).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused('CREATE TABLE t (x INT)')).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused('DROP VIEW directory_view')).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused(`USE mysql`)).toBe('ER_DBACCESS_DENIED_ERROR');
  });

  it('refuses SHOW of other tables and of the view definition; SHOW TABLES lists the view alone', async () => {
    expect(await refused('SHOW CREATE TABLE directory_record')).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused('SHOW COLUMNS FROM pool_lease')).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await refused('SHOW CREATE VIEW directory_view')).toBe('ER_TABLEACCESS_DENIED_ERROR');
    const [tables] = await ro.query('SHOW TABLES');
    expect((tables as Array<Record<string, string>>).map((r) => Object.values(r)[0])).toEqual([
      'directory_view',
    ]);
    const [info] = await ro.query(
      'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()',
    );
    expect(info).toEqual([{ t: 'directory_view' }]);
  });
});
