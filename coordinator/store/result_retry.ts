/**
 * Mix results that outlive a database outage: a {@link MixStore} decorator
 * whose `saveMixResult` never loses a result to a transient database error.
 *
 * A mix ends after its transaction was broadcast; if MariaDB is down or
 * restarting at that moment, the `mix` / `mix_log` / `mix_txid` rows would be
 * lost, and with them the remix provenance of every output of that mix. Here
 * a failed save is queued and retried in the background, with the same lease
 * fence, until it is written, refused by the fence (the lease moved on: a stale
 * owner must not record a mix, ARCHITECTURE.md), found already written
 * (duplicate `mix_id`: the first attempt committed but its answer was lost), or
 * older than `maxAgeMs`. Each outcome is logged; a result given up is logged at
 * error level with its txid and raw transaction so an operator can record it.
 *
 * @module
 */
import type { LeaseFence, MixResult } from '#coordinator/mix/types.ts';
import { MYSQL_ERRORS, mysqlErrno } from './db_pool.ts';
import { FencedOutError } from './errors.ts';
import type { MixStore } from './mix_store.ts';

/** The logger calls used here (pino-compatible). */
export interface ResultRetryLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Options of {@link retryMixResults}. */
export interface ResultRetryOptions {
  logger: ResultRetryLogger;
  /** First retry delay; doubles up to `maxDelayMs` (default 500 ms). */
  initialDelayMs?: number;
  /** Longest delay between two retries (default 5 000 ms). */
  maxDelayMs?: number;
  /** A result still unsaved this long after its mix ended is given up (default 600 000 ms). */
  maxAgeMs?: number;
  /**
   * Longest wait for one save attempt (default 3 000 ms): a database that
   * hangs instead of refusing (a network partition) must not hold the mix's
   * SUCCESS notification. An attempt that times out counts as failed; if it
   * commits later, the next attempt finds the duplicate `mix_id` and stops.
   */
  attemptTimeoutMs?: number;
}

/** A {@link MixStore} whose failed `saveMixResult` calls are retried in the background. */
export interface RetryingMixStore extends MixStore {
  /** Results waiting for a retry. */
  readonly pendingResults: number;
  /**
   * Retries every pending result now, repeatedly, until none is left or
   * `timeoutMs` passed. Returns how many are still pending (they keep being retried).
   */
  flush(timeoutMs: number): Promise<number>;
  /** Stops retrying; logs every result still pending at error level and returns their number. */
  close(): number;
}

interface Pending {
  result: MixResult;
  fence: LeaseFence | null;
  since: number;
  attempts: number;
}

/**
 * Wraps `store`: `saveMixResult` tries once; on a transient error it resolves
 * anyway (the mix itself is over) and the save continues in the background.
 * A {@link FencedOutError} on the first try is still thrown to the caller.
 */
export function retryMixResults(store: MixStore, opts: ResultRetryOptions): RetryingMixStore {
  const initialDelayMs = opts.initialDelayMs ?? 500;
  const maxDelayMs = opts.maxDelayMs ?? 5000;
  const maxAgeMs = opts.maxAgeMs ?? 600_000;
  const attemptTimeoutMs = opts.attemptTimeoutMs ?? 3000;
  /** One save attempt, bounded by `attemptTimeoutMs`. */
  const save = (result: MixResult, fence: LeaseFence | null) =>
    bounded(store.saveMixResult(result, fence), attemptTimeoutMs, `saveMixResult of mix '${result.mixId}'`);
  const log = opts.logger;
  const pending = new Set<Pending>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let delay = initialDelayMs;
  let running: Promise<void> | null = null;
  let closed = false;

  const describe = (p: Pending) => ({
    mixId: p.result.mixId,
    poolId: p.result.poolId,
    status: p.result.status,
    txid: p.result.txid,
    attempts: p.attempts,
  });

  /** One attempt for `p`; true when it is settled (saved, already there, refused or too old). */
  async function attempt(p: Pending): Promise<boolean> {
    p.attempts++;
    try {
      await save(p.result, p.fence);
      log.info(describe(p), 'mix result saved after retry');
      return true;
    } catch (err) {
      if (mysqlErrno(err) === MYSQL_ERRORS.DUP_ENTRY) {
        log.info(describe(p), 'mix result was already saved');
        return true;
      }
      if (err instanceof FencedOutError) {
        log.error(
          { ...describe(p), rawTx: p.result.rawTxHex, err },
          'mix result refused by the lease fence: not recorded',
        );
        return true;
      }
      if (Date.now() - p.since > maxAgeMs) {
        log.error({ ...describe(p), rawTx: p.result.rawTxHex, err }, 'mix result given up: not recorded');
        return true;
      }
      log.warn({ ...describe(p), err: errorText(err) }, 'mix result not saved yet, will retry');
      return false;
    }
  }

  async function retryAll(): Promise<void> {
    for (const p of [...pending]) {
      if (await attempt(p)) pending.delete(p);
    }
  }

  function schedule(): void {
    if (closed || timer || pending.size === 0) return;
    timer = setTimeout(() => {
      timer = null;
      running = retryAll().finally(() => {
        running = null;
        delay = pending.size === 0 ? initialDelayMs : Math.min(delay * 2, maxDelayMs);
        schedule();
      });
    }, delay);
    timer.unref?.();
  }

  return {
    inputFacts: (txid, identifiers) => store.inputFacts(txid, identifiers),
    isBanned: (identifiers) => store.isBanned(identifiers),
    isMixTxid: (txid, denomination) => store.isMixTxid(txid, denomination),
    isTx0Whitelisted: (txid) => store.isTx0Whitelisted(txid),
    isOutputUsed: (address) => store.isOutputUsed(address),
    saveOutput: (address, fence) => store.saveOutput(address, fence),
    blame: (b, policy, fence) => store.blame(b, policy, fence),
    nextFeeIndex: () => store.nextFeeIndex(),
    get pendingResults() {
      return pending.size;
    },
    async saveMixResult(result, fence) {
      try {
        await save(result, fence);
      } catch (err) {
        if (err instanceof FencedOutError || closed) throw err;
        const p: Pending = { result, fence, since: Date.now(), attempts: 1 };
        log.warn({ ...describe(p), err: errorText(err) }, 'mix result not saved yet, will retry');
        pending.add(p);
        schedule();
      }
    },
    async flush(timeoutMs) {
      const until = Date.now() + timeoutMs;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
      while (pending.size > 0) {
        await retryAll();
        const left = until - Date.now();
        if (pending.size === 0 || left <= 0) break;
        await new Promise((r) => setTimeout(r, Math.min(initialDelayMs, left)));
      }
      schedule();
      return pending.size;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      for (const p of pending)
        log.error({ ...describe(p), rawTx: p.result.rawTxHex }, 'mix result not recorded before shutdown');
      const left = pending.size;
      pending.clear();
      return left;
    },
  };
}

/** `p`, or a rejection after `ms` (the late outcome of `p` is ignored). */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
