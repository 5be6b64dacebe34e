/**
 * What happens when a limit refuses something: the
 * `whirlpool_limit_refusals_total{limit}` counter goes up and, at most once
 * per `logEveryMs` per limit, one debug line says how many were refused since
 * the last one (no stack, no per-refusal line: a flood must not become a log
 * flood).
 *
 * @module
 */
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '#coordinator/log.ts';

/** The limits that count refusals (label values of the counter). */
export type LimitName =
  | 'body_size'
  | 'connections'
  | 'connections_per_address'
  | 'sessions'
  | 'sessions_per_address'
  | 'stomp_frame'
  | 'register_input_session_rate'
  | 'register_input_rate'
  | 'register_input_busy'
  | 'tx0_address_rate'
  | 'tx0_rate'
  | 'relays'
  | 'relays_per_address'
  | 'output_lookup_busy'
  | 'login_address_rate'
  | 'login_rate'
  | 'login_busy';

/** Records refusals; see module doc. */
export interface Refusals {
  refused(limit: LimitName, detail?: Record<string, unknown>): void;
}

/** A {@link Refusals} on `registry` (null: counter-less, log only) and `logger`. */
export function createRefusals(
  registry: Registry | null,
  logger: Logger,
  opts: { logEveryMs?: number } = {},
): Refusals {
  const counter = registry
    ? new Counter({
        name: 'whirlpool_limit_refusals_total',
        help: 'Requests, connections and messages refused by an abuse limit, by limit',
        labelNames: ['limit'],
        registers: [registry],
      })
    : null;
  const every = opts.logEveryMs ?? 10_000;
  const since = new Map<LimitName, { at: number; n: number }>();
  return {
    refused(limit, detail) {
      counter?.inc({ limit });
      const now = Date.now();
      const s = since.get(limit);
      if (s && now - s.at < every) {
        s.n++;
        return;
      }
      logger.debug({ limit, refusedSinceLastLine: (s?.n ?? 0) + 1, ...detail }, 'limit refused');
      since.set(limit, { at: now, n: 0 });
    },
  };
}

/** A {@link Refusals} that only counts nowhere (tests of modules used without metrics). */
export const NO_REFUSALS: Refusals = { refused() {} };
