-- 003_pool_status_queues: the owner's queue sizes in pool_status, split into
-- queued must-mix and queued liquidity inputs (the dashboard shows both;
-- nb_registered stays the total, invited-but-unconfirmed included).
--
-- Rolling upgrades: a release without this migration still inserts and
-- upserts pool_status rows naming only the 002 columns. Its inserts get the
-- defaults below, and its upserts leave the three new columns as they were
-- (possibly counts from an earlier owner). queues_at is therefore the
-- updated_at of the publication that wrote the two counts: readers trust them
-- only while queues_at = updated_at and show them as unknown otherwise.
--
-- Idempotent and portable (MariaDB and MySQL 8, no ADD COLUMN IF NOT EXISTS):
-- the single ALTER (atomic) runs only while none of the columns exists.

SET @wp_003_missing = (
  SELECT COUNT(*) = 0 FROM information_schema.COLUMNS
   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'pool_status'
     AND COLUMN_NAME IN ('nb_must_mix_queued', 'nb_liquidity_queued', 'queues_at')
);

SET @wp_003_sql = IF(@wp_003_missing,
  'ALTER TABLE pool_status
     ADD COLUMN nb_must_mix_queued  INT NOT NULL DEFAULT 0,
     ADD COLUMN nb_liquidity_queued INT NOT NULL DEFAULT 0,
     ADD COLUMN queues_at           DATETIME(3) NULL',
  'DO 0');

PREPARE wp_003_stmt FROM @wp_003_sql;
EXECUTE wp_003_stmt;
DEALLOCATE PREPARE wp_003_stmt;
