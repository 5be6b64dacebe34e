-- 070_lease_renew_seq: the renewal counter of the skew-immune lease
-- (coordinator/cluster/lease_observer.ts). Every acquisition, renewal and
-- release of a pool_lease row adds 1 to renew_seq; a taker acquires a row
-- held by another instance only after it has seen the same
-- (owner, epoch, renew_seq) for TTL + margin on its own monotonic clock, with
-- a conditional UPDATE on that triple. No lease decision compares a database
-- timestamp with another clock any more: lease_until stays, written and read
-- on the owner's side only (the fence check of coordinator/store/pool_lease.ts).
--
-- Rolling upgrades: a release without this migration renews without bumping
-- renew_seq, so its leases look silent to new instances and would be taken
-- after TTL + margin. Upgrade every instance at once (stop, migrate, start),
-- or drain the old ones first (docs/operations.md).
--
-- Idempotent and portable (MariaDB and MySQL 8): the single ALTER runs only
-- while the column is missing.

SET @wp_070_missing = (
  SELECT COUNT(*) = 0 FROM information_schema.COLUMNS
   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'pool_lease' AND COLUMN_NAME = 'renew_seq'
);

SET @wp_070_sql = IF(@wp_070_missing,
  'ALTER TABLE pool_lease ADD COLUMN renew_seq BIGINT NOT NULL DEFAULT 0',
  'DO 0');

PREPARE wp_070_stmt FROM @wp_070_sql;
EXECUTE wp_070_stmt;
DEALLOCATE PREPARE wp_070_stmt;
