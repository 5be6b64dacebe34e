-- 060_history: what the dashboard's pictures draw, recorded in the shared
-- database so every instance draws the same picture (coordinator/store/history_store.ts).
--
-- * history_sample: written by every instance every sample interval
--   (WHIRLPOOL_HISTORY_SAMPLE_MS) and at once when it starts serving a pool.
--   pool_id NULL: the instance's own heartbeat (its registry state);
--   otherwise a pool it serves, under lease `epoch`, with its queue sizes.
--   `at` is the database clock NOW(3). Rows older than the retention
--   (WHIRLPOOL_HISTORY_RETENTION_HOURS) are deleted by every instance on a timer.
-- Idempotent: every statement may run again after a partial failure.

CREATE TABLE IF NOT EXISTS history_sample (
  id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at              DATETIME(3) NOT NULL,
  instance_id     VARCHAR(64) NOT NULL,
  instance_state  VARCHAR(16) NOT NULL,
  pool_id         VARCHAR(64) NULL,
  epoch           BIGINT NULL,
  mix_status      VARCHAR(24) NULL,
  nb_must_mix     INT NULL,
  nb_liquidity    INT NULL,
  nb_confirmed    INT NULL,
  KEY ix_history_sample_at (at),
  KEY ix_history_sample_pool_at (pool_id, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- the pictures count mixes per pool over the last hours
CREATE INDEX IF NOT EXISTS ix_mix_created ON mix (created);
