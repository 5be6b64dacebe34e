/**
 * Errors of the MySQL store: a fenced write refused because the pool lease
 * moved on, an output address seen before, and a migration failure.
 *
 * @module
 */
import type { LeaseFence } from '#coordinator/mix/types.ts';

/**
 * A write belonging to a pool's mix was refused: the `pool_lease` row no
 * longer has this (pool, owner, epoch), or the lease expired (DB clock).
 * Nothing was written. The caller must stop serving the pool.
 */
export class FencedOutError extends Error {
  readonly fence: LeaseFence;
  /** What was being written, e.g. `saveOutput`. */
  readonly operation: string;
  constructor(operation: string, fence: LeaseFence, options?: { cause?: unknown }) {
    super(
      `Write '${operation}' refused: pool '${fence.poolId}' is no longer leased to instance '${fence.instanceId}' at epoch ${fence.epoch}`,
      options,
    );
    this.name = 'FencedOutError';
    this.fence = fence;
    this.operation = operation;
  }
}

/** The output address is already in `mix_output` (address reuse, spec §4.10). */
export class OutputAlreadyUsedError extends Error {
  readonly address: string;
  constructor(address: string, options?: { cause?: unknown }) {
    super(`Output address '${address}' was already used`, options);
    this.name = 'OutputAlreadyUsedError';
    this.address = address;
  }
}

/** A schema migration could not be applied (file name and statement index in the message). */
export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}
