-- Directory: one signed record per coordinator instance (docs/directory.md).
-- `record` keeps the exact canonical JSON text that was signed: TEXT with a
-- binary collation, never the JSON type (MySQL 8 would re-serialise it and
-- break the signature). Bootstrap nodes read only `directory_view`, through
-- a read-only account granted SELECT on that view alone; the view runs with
-- its definer's rights (SQL SECURITY DEFINER) so that account needs no right
-- on the table.
CREATE TABLE IF NOT EXISTS directory_record (
  instance_id VARCHAR(64) NOT NULL,
  record TEXT NOT NULL,
  signature CHAR(128) NOT NULL,
  issued_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NOT NULL,
  PRIMARY KEY (instance_id),
  KEY directory_record_expires_at (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE OR REPLACE SQL SECURITY DEFINER VIEW directory_view AS
  SELECT instance_id, record, signature, expires_at
  FROM directory_record
  WHERE expires_at > NOW(3);
