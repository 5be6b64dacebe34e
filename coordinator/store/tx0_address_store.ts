/**
 * The address index behind the address-reuse check of `POST /rest/tx0/push`
 * (addendum §3.6, §4.11; migration 040): the strict-mode output addresses of
 * every Tx0 this cluster broadcast (`tx0_output_address`) plus the burned mix
 * outputs (`mix_output`). The reference delegates the check to Samourai's
 * backend ("strict mode vouts"); without it, this is what the coordinator
 * itself has seen.
 *
 * @module
 */
import { execRead, execWrite, type Queryable } from './sql.ts';

/** Per-statement timeout, ms. */
const QUERY_TIMEOUT_MS = 5_000;

/** Reads and records Tx0 output addresses. */
export class Tx0AddressStore {
  readonly #db: Queryable;

  constructor(db: Queryable) {
    this.#db = db;
  }

  /**
   * The subset of `addresses` already used: by another pushed Tx0 than
   * `txid` (re-pushing the same Tx0 is no reuse), or as a mix output.
   */
  async usedAddresses(addresses: readonly string[], txid: string): Promise<Set<string>> {
    if (addresses.length === 0) return new Set();
    const pushed = await execRead(
      this.#db,
      'SELECT address FROM tx0_output_address WHERE address IN (?) AND txid <> ?',
      [addresses, txid],
      QUERY_TIMEOUT_MS,
    );
    const mixed = await execRead(
      this.#db,
      'SELECT address FROM mix_output WHERE address IN (?)',
      [addresses],
      QUERY_TIMEOUT_MS,
    );
    return new Set([...pushed, ...mixed].map((r) => String(r.address)));
  }

  /** Records the strict-mode addresses of a broadcast Tx0 (already recorded ones are kept). */
  async record(txid: string, poolId: string, addresses: readonly string[]): Promise<number> {
    if (addresses.length === 0) return 0;
    const res = await execWrite(
      this.#db,
      'INSERT IGNORE INTO tx0_output_address (address, txid, pool_id) VALUES ?',
      [addresses.map((a) => [a, txid, poolId])],
      QUERY_TIMEOUT_MS,
    );
    return res.affectedRows;
  }
}
