-- 001_core: the coordinator's own tables (spec §5.6), reconstructed from the
-- 0.23 JPA mappings with these refinements: DATETIME(3) in UTC everywhere
-- (DB clock NOW(3)), NOT NULL where the reference always writes a value,
-- fail_info and ban notes as TEXT, explicit UNIQUE constraints and the indexes
-- of the queries the store runs, utf8mb4. Plus fee_index, the cluster-wide
-- counter of fee-address indices. `instance_id` / `lease_epoch` record which
-- instance (and which lease epoch) wrote a row; NULL outside a cluster.
-- Idempotent: every statement may run again after a partial failure.

CREATE TABLE IF NOT EXISTS mix (
  id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created        DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),   -- when the mix ended
  updated        DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  pool_id        VARCHAR(64) NOT NULL,
  mix_id         VARCHAR(64) NOT NULL,          -- 32-hex mixId
  denomination   BIGINT NOT NULL,
  anonymity_set  INT NOT NULL,
  nb_must_mix    INT NOT NULL,
  nb_liquidities INT NOT NULL,
  amount_in      BIGINT NOT NULL,
  amount_out     BIGINT NOT NULL,
  fees_amount    BIGINT NULL,
  fees_price     BIGINT NULL,
  mix_duration   INT NOT NULL,                  -- seconds
  mix_status     VARCHAR(16) NOT NULL,          -- SUCCESS | FAIL
  fail_reason    VARCHAR(32) NULL,
  fail_info      TEXT NULL,
  instance_id    VARCHAR(64) NULL,
  lease_epoch    BIGINT NULL,
  UNIQUE KEY uq_mix_mix_id (mix_id),
  KEY ix_mix_updated (updated),
  KEY ix_mix_status_created (mix_status, created),
  KEY ix_mix_pool_created (pool_id, created)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mix_log (
  id      BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  mix_id  BIGINT NOT NULL,                      -- mix.id, not the 32-hex mixId
  txid    VARCHAR(64) NULL,
  raw_tx  MEDIUMTEXT NULL,
  UNIQUE KEY uq_mix_log_mix (mix_id),
  KEY ix_mix_log_txid (txid),
  CONSTRAINT fk_mix_log_mix FOREIGN KEY (mix_id) REFERENCES mix (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mix_output (
  id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created     DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  address     VARCHAR(128) NOT NULL,
  pool_id     VARCHAR(64) NULL,
  instance_id VARCHAR(64) NULL,
  lease_epoch BIGINT NULL,
  UNIQUE KEY uq_mix_output_address (address)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mix_txid (
  id           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created      DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  txid         VARCHAR(64) NOT NULL,
  denomination BIGINT NOT NULL,
  UNIQUE KEY uq_mix_txid_txid (txid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS tx0_whitelist (
  id      BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  txid    VARCHAR(64) NOT NULL,
  UNIQUE KEY uq_tx0_whitelist_txid (txid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS blame (
  id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created     DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  identifier  VARCHAR(255) NOT NULL,            -- txid (mustMix) or txid:index (liquidity)
  reason      VARCHAR(32) NOT NULL,             -- REGISTER_OUTPUT | SIGNING | DISCONNECT | SPENT
  mix_id      VARCHAR(64) NOT NULL,
  ip          VARCHAR(255) NOT NULL,
  pool_id     VARCHAR(64) NULL,
  instance_id VARCHAR(64) NULL,
  lease_epoch BIGINT NULL,
  KEY ix_blame_identifier_created (identifier, created),
  KEY ix_blame_created (created)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS ban (
  id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created     DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  identifier  VARCHAR(255) NOT NULL,
  expiration  DATETIME(3) NULL,                 -- NULL = permanent
  response    VARCHAR(255) NULL,                -- appended to "Banned from service. "; NULL -> "Contact us."
  notes       TEXT NULL,
  KEY ix_ban_identifier_expiration (identifier, expiration),
  KEY ix_ban_expiration (expiration)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Cluster-wide fee-address index counter: nextFeeIndex() does
-- UPDATE ... SET next_index = LAST_INSERT_ID(next_index + 1), so indices
-- handed out by all instances are distinct; the first one is 1.
CREATE TABLE IF NOT EXISTS fee_index (
  id         VARCHAR(32) NOT NULL PRIMARY KEY,
  next_index BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO fee_index (id, next_index) VALUES ('fee', 0);
