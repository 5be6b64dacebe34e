-- Output addresses of the Tx0s broadcast through POST /rest/tx0/push (addendum §3.6, §4.11):
-- the strict-mode outputs (every output but the fee OP_RETURN and the fee output). A later
-- push paying to one of them (or to a burned mix output) is refused with `address-reuse`.
-- Shared by every instance of a cluster; written only after the node accepted the Tx0.
CREATE TABLE IF NOT EXISTS tx0_output_address (
  address    VARCHAR(128) NOT NULL PRIMARY KEY,
  txid       CHAR(64) NOT NULL,
  pool_id    VARCHAR(64) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY ix_tx0_output_address_txid (txid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
