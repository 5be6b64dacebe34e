-- 010_cluster: what several coordinator instances on one database share to
-- split the pools between them (see ARCHITECTURE.md, "The shared database is
-- the cluster's only coordination point", and coordinator/cluster/).
--
-- * instance: the registry of coordinator processes. `heartbeat_at` is written
--   with the database clock NOW(3) every poll; an instance is live while
--   heartbeat_at is recent (compared with NOW(3), never with a host clock).
-- * pool_lease: one row per configured pool. `owner` serves the pool until
--   `lease_until` (DB clock). `epoch` is the fencing token: +1 on every
--   acquisition, never on renewal. The store's fenced writes require
--   (pool_id, owner, epoch) to match with lease_until > NOW(3).
--   A free pool has owner NULL; `lease_until` then records since when it is
--   free (rows are created expired, release sets it to NOW(3)).
-- * mix_inputs_hash: which instance holds the mix of an `inputsHash` from
--   REGISTER_OUTPUT on, so POST /rest/registerOutput reaching another
--   instance is answered with HTTP 307 to the holder.
-- Idempotent: every statement may run again after a partial failure.

CREATE TABLE IF NOT EXISTS instance (
  id            VARCHAR(64) NOT NULL PRIMARY KEY,
  url_clear     VARCHAR(255) NULL,
  url_onion     VARCHAR(255) NULL,
  version       VARCHAR(32) NOT NULL,
  state         ENUM('starting', 'active', 'draining', 'stopped') NOT NULL DEFAULT 'starting',
  started_at    DATETIME(3) NOT NULL,
  heartbeat_at  DATETIME(3) NOT NULL,
  KEY ix_instance_heartbeat (heartbeat_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS pool_lease (
  pool_id      VARCHAR(64) NOT NULL PRIMARY KEY,
  owner        VARCHAR(64) NULL,
  epoch        BIGINT NOT NULL DEFAULT 0,
  lease_until  DATETIME(3) NULL,
  acquired_at  DATETIME(3) NULL,
  renewed_at   DATETIME(3) NULL,
  KEY ix_pool_lease_owner (owner)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mix_inputs_hash (
  inputs_hash  VARCHAR(128) NOT NULL PRIMARY KEY,
  pool_id      VARCHAR(64) NOT NULL,
  mix_id       VARCHAR(64) NOT NULL,
  instance_id  VARCHAR(64) NOT NULL,
  epoch        BIGINT NOT NULL,
  created_at   DATETIME(3) NOT NULL,
  expires_at   DATETIME(3) NOT NULL,
  KEY ix_mix_inputs_hash_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
