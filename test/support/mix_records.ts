/**
 * The end-of-suite check of chaos suites whose wallets mixed: every
 * successful mix the clients saw has one transaction, is mined, and is
 * recorded exactly once as SUCCESS in `mix` and `mix_txid`; nobody was blamed
 * or banned.
 *
 * @module
 */
import type { RowDataPacket } from 'mysql2/promise';
import { expect } from 'vitest';
import type { MixOutcome } from '#client/api.ts';
import type { BtcdNode } from '#devnet/btcd.ts';
import { connectTestDb } from './db.ts';

/** What {@link expectMixesRecordedOnce} found. */
export interface RecordedMixes {
  mixIds: string[];
  txids: string[];
  /** `mix` rows (all statuses): mix_id, mix_status, instance_id. */
  rows: RowDataPacket[];
}

/**
 * Mines a block, then asserts the facts above for `successes` (the SUCCESS
 * outcomes of every client, `perMix` of them per mix). Returns the mix ids,
 * txids and `mix` rows for the suite's own checks.
 */
export async function expectMixesRecordedOnce(o: {
  dbUrl: string;
  btcd: BtcdNode;
  successes: ReadonlyArray<Extract<MixOutcome, { status: 'SUCCESS' }>>;
  perMix: number;
  /** Extra text for a failed assertion (e.g. the coordinators' logs). */
  context?: () => string;
}): Promise<RecordedMixes> {
  const mixIds = [...new Set(o.successes.map((s) => s.mixId))].sort();
  const txids = [...new Set(o.successes.map((s) => s.receiveUtxo.txid))].sort();
  expect(o.successes.length).toBe(o.perMix * mixIds.length);
  expect(txids).toHaveLength(mixIds.length);
  await o.btcd.mine(1);
  for (const txid of txids) {
    const tx = await o.btcd.rpc.getRawTransaction(txid);
    expect(tx?.confirmations, txid).toBeGreaterThanOrEqual(1);
  }
  const conn = await connectTestDb(o.dbUrl);
  try {
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT mix_id, mix_status, instance_id FROM mix ORDER BY mix_id',
    );
    expect(rows.filter((m) => m.mix_status === 'SUCCESS').map((m) => m.mix_id)).toEqual(mixIds);
    const [txidRows] = await conn.query<RowDataPacket[]>('SELECT txid FROM mix_txid ORDER BY txid');
    expect(txidRows.map((r) => r.txid)).toEqual(txids);
    const [blames] = await conn.query<RowDataPacket[]>(
      'SELECT created, identifier, reason, mix_id, instance_id FROM blame',
    );
    expect(blames, blames.length > 0 ? o.context?.() : undefined).toEqual([]);
    const [bans] = await conn.query<RowDataPacket[]>('SELECT identifier, notes FROM ban');
    expect(bans).toEqual([]);
    return { mixIds, txids, rows };
  } finally {
    await conn.end();
  }
}
