/**
 * The registerInput bounds in front of the engine (a {@link StompApplication}
 * wrapper): a token bucket per session and one for the instance, and a
 * semaphore on the validations running at once (each costs bitcoin RPC calls
 * and database queries) with a bounded wait queue. A refused registerInput
 * gets the engine's usual answer shape, an `ErrorResponse` with a message
 * saying to retry later, is counted ({@link Refusals}) and never reaches the
 * engine. Each session's SENDs stay in order: a SEND waits behind its
 * session's registerInput that waits for a permit.
 *
 * @module
 */
import type { ClientSession, StompApplication } from '#coordinator/transport/stomp_application.ts';
import { WS_REGISTER_INPUT } from '#shared/protocol/constants.ts';
import { serverErrorCode } from '#shared/protocol/error_codes.ts';
import type { Refusals } from './refusals.ts';
import { Semaphore } from './semaphore.ts';
import { KeyedTokenBuckets, TokenBucket } from './token_bucket.ts';

/** The bounds (README configuration table, `WHIRLPOOL_LIMIT_REGISTER_INPUT_*`). */
export interface RegisterInputLimits {
  burstPerSession: number;
  /** One more per-session token every this many ms (0: no refill). */
  refillMsPerSession: number;
  perSecond: number;
  concurrency: number;
}

/** Message of a refused registerInput (the client retries like after any ErrorResponse). */
export const REGISTER_INPUT_BUSY = 'Too many registrations, retry later';

/** Wraps `app` with the registerInput bounds. */
export function limitRegisterInput(
  app: StompApplication,
  limits: RegisterInputLimits,
  refusals: Refusals,
  now: () => number = Date.now,
): StompApplication {
  const perSession = new KeyedTokenBuckets({
    capacity: limits.burstPerSession,
    refillPerMs: limits.refillMsPerSession > 0 ? 1 / limits.refillMsPerSession : 0,
  });
  const global = new TokenBucket(limits.perSecond, limits.perSecond / 1000, now());
  const validations = new Semaphore(limits.concurrency, limits.concurrency * 8);
  /** The last SEND of each session still waiting or running behind the semaphore. */
  const tails = new Map<string, Promise<unknown>>();

  function refuse(session: ClientSession, limit: Parameters<Refusals['refused']>[0]): void {
    refusals.refused(limit, { ip: session.ip });
    session.sendPrivate('ErrorResponse', {
      mixId: null,
      errorCode: serverErrorCode(REGISTER_INPUT_BUSY),
      message: REGISTER_INPUT_BUSY,
    });
  }

  function chained(session: ClientSession, run: () => Promise<unknown>): Promise<unknown> {
    const previous = tails.get(session.id) ?? Promise.resolve();
    const next = previous.then(run, run);
    tails.set(session.id, next);
    void next.finally(() => {
      if (tails.get(session.id) === next) tails.delete(session.id);
    });
    return next;
  }

  return {
    onSubscribe(session, destination, headers) {
      app.onSubscribe(session, destination, headers);
    },
    onSend(session, destination, headers, body) {
      if (destination !== WS_REGISTER_INPUT) {
        if (!tails.has(session.id)) return app.onSend(session, destination, headers, body);
        return chained(session, async () => app.onSend(session, destination, headers, body));
      }
      const t = now();
      if (!perSession.take(session.id, t)) return refuse(session, 'register_input_session_rate');
      if (!global.take(t)) return refuse(session, 'register_input_rate');
      const permit = validations.acquire();
      if (permit === null) return refuse(session, 'register_input_busy');
      return chained(session, async () => {
        const release = await permit;
        try {
          await app.onSend(session, destination, headers, body);
        } finally {
          release();
        }
      });
    },
    onDisconnect(session) {
      perSession.delete(session.id);
      app.onDisconnect(session);
    },
  };
}
