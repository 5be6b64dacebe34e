/**
 * The timer that feeds the dashboard's pictures: every sample interval this
 * instance records its heartbeat and the pools it serves (epoch, queue
 * sizes) in `history_sample`, records at once when it starts or stops
 * serving a pool (so a takeover is drawn at the moment it happened, not at
 * the next tick), and prunes rows older than the retention. A failed write
 * is logged once until the next success and never affects mixing.
 *
 * @module
 */
import type { Logger } from '#coordinator/log.ts';
import type { HistoryStore, ServedPoolSample } from '#coordinator/store/history_store.ts';

/** What {@link startHistoryRecorder} needs. */
export interface HistoryRecorderOptions {
  store: Pick<HistoryStore, 'record' | 'prune'>;
  instanceId: string;
  /** The instance's registry state now (`active`, `draining`, …). */
  state(): string;
  /** The pools served now, with their lease epochs and queue sizes. */
  served(): ServedPoolSample[];
  /** Subscribes to serve/unserve events; returns the unsubscribe function. */
  onServeChange?(listener: () => void): () => void;
  sampleMs: number;
  retentionMs: number;
  /** Pruning period (default 10 minutes). */
  pruneMs?: number;
  logger: Logger;
}

/** A running recorder. */
export interface HistoryRecorder {
  /** Records one sample now (the timer's work); resolves when written. */
  sampleNow(): Promise<void>;
  stop(): void;
}

/** Starts recording (first sample at once). */
export function startHistoryRecorder(opts: HistoryRecorderOptions): HistoryRecorder {
  let failing = false;
  let stopped = false;
  let inflight: Promise<void> | null = null;
  let again = false;
  const write = async (): Promise<void> => {
    try {
      await opts.store.record(opts.instanceId, opts.state(), opts.served());
      if (failing) opts.logger.info('history sampling recovered');
      failing = false;
    } catch (err) {
      if (!failing) opts.logger.warn({ err: (err as Error).message }, 'history sample failed');
      failing = true;
    }
  };
  // one write at a time; a request during a write runs once more after it
  const sampleNow = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (inflight) {
      again = true;
      return inflight;
    }
    inflight = (async () => {
      do {
        again = false;
        await write();
      } while (again && !stopped);
      inflight = null;
    })();
    return inflight;
  };
  const prune = () => {
    opts.store.prune(opts.retentionMs).catch((err: unknown) => {
      opts.logger.warn({ err: (err as Error).message }, 'history pruning failed');
    });
  };
  const sampleTimer = setInterval(() => void sampleNow(), opts.sampleMs);
  sampleTimer.unref();
  const pruneTimer = setInterval(prune, opts.pruneMs ?? 600_000);
  pruneTimer.unref();
  const unsubscribe = opts.onServeChange?.(() => void sampleNow()) ?? (() => undefined);
  void sampleNow();
  prune();
  return {
    sampleNow,
    stop() {
      stopped = true;
      clearInterval(sampleTimer);
      clearInterval(pruneTimer);
      unsubscribe();
    },
  };
}
