-- 002_pool_status: the live state of each pool as last published by the
-- instance serving it, so that any instance of a cluster answers
-- GET /rest/pools with live fields (mix status, elapsed time, counts) for
-- pools it does not serve. Written every couple of seconds by the serving
-- instance only while it holds the pool's lease; readers ignore rows older
-- than a few seconds. elapsed_ms is the mix age at updated_at (DB clock).
-- Idempotent.

CREATE TABLE IF NOT EXISTS pool_status (
  pool_id       VARCHAR(64) NOT NULL PRIMARY KEY,
  instance_id   VARCHAR(64) NOT NULL,
  mix_id        VARCHAR(64) NOT NULL,
  mix_status    VARCHAR(32) NOT NULL,
  elapsed_ms    BIGINT NOT NULL,
  nb_confirmed  INT NOT NULL,
  nb_registered INT NOT NULL,
  updated_at    DATETIME(3) NOT NULL,
  KEY ix_pool_status_updated (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
