/**
 * The coordinator's REST API on Hono (spec §1.3, §2.3, §2.5):
 * `GET /rest/pools`, `GET /rest/tx0?poolId=&scode=`, `POST /rest/registerOutput`,
 * `GET /rest/system/health`; and the later generations' routes (addendum
 * §3): `POST /rest/tx0`, `/rest/tx0/v1`, `/rest/tx0Notify`, `/rest/tx0/push`
 * (tx0_routes.ts) and `POST /rest/checkOutput` (check_output_route.ts).
 * Every `/rest/*` response carries the header
 * `protocolVersion: 0.23`. Errors are HTTP 500 `{"message": ...}` where only a
 * NotifiableError's text reaches the client and anything else reads `Error`
 * (bad JSON included); unknown request fields are ignored. A missing
 * `poolId` on `/rest/tx0` is 400 with an empty body, as Spring does.
 *
 * @module
 */
import { type Context, Hono } from 'hono';
import type { Logger } from '#coordinator/log.ts';
import type { CoordinatorMetrics } from '#coordinator/metrics.ts';
import { clientMessage } from '#coordinator/mix/errors.ts';
import type { PoolConfig } from '#coordinator/mix/types.ts';
import {
  HEADER_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  REST_HEALTH,
  REST_POOLS,
  REST_REGISTER_OUTPUT,
  REST_TX0,
} from '#shared/protocol/constants.ts';
import {
  type HealthResponse,
  parseJson,
  type RegisterOutputRequest,
  RegisterOutputRequestSchema,
} from '#shared/protocol/messages.ts';
import { addCheckOutputRoute, type CheckOutputDeps } from './check_output_route.ts';
import { IDLE_POOL_STATUS, type LivePoolSource, poolInfo, poolsResponse } from './pools_route.ts';
import { normalizeScode, type Tx0DataDeps, tx0Data } from './tx0_data.ts';
import { addTx0Routes, type Tx0RoutesDeps } from './tx0_routes.ts';

/** What `POST /rest/registerOutput` may answer besides success: a 307 to the instance holding the mix (cluster). */
// biome-ignore lint/suspicious/noConfusingVoidType: engine.registerOutput resolves to void
export type RegisterOutputOutcome = void | { redirectTo: string };

/** Dependencies of {@link createRestApp}. */
export interface RestDeps {
  /** Configured pools (the list every instance answers with). */
  pools: readonly PoolConfig[];
  /** Live fields of the pools. */
  live: LivePoolSource;
  tx0: Tx0DataDeps & {
    /** Artificial delay before answering `/rest/tx0` (anti brute force), ms. */
    delayMs: number;
  };
  /**
   * Usually `engine.registerOutput`; the cluster stream wraps it to redirect
   * (`via.host`: the request's Host header, so an onion request is redirected
   * to an onion URL). Throws NotifiableError for clients.
   */
  registerOutput(
    req: RegisterOutputRequest,
    via?: { host?: string | undefined },
  ): Promise<RegisterOutputOutcome>;
  health(): Promise<HealthResponse>;
  /** `POST /rest/tx0`, `/rest/tx0/v1`, `/rest/tx0Notify`, `/rest/tx0/push` (absent: not served). */
  tx0V2?: Omit<Tx0RoutesDeps, 'pools' | 'logger'>;
  /** `POST /rest/checkOutput` (absent: not served). */
  checkOutput?: Omit<CheckOutputDeps, 'logger'>;
  logger: Logger;
  metrics?: CoordinatorMetrics;
}

function restError(c: Context, message: string): Response {
  return c.json({ message }, 500);
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

/** A Hono app with the REST routes; mount it with `app.route('/', createRestApp(deps))` or serve it as is. */
export function createRestApp(deps: RestDeps): Hono {
  const app = new Hono();
  const pools = new Map(deps.pools.map((p) => [p.id, p]));
  const log = deps.logger;

  app.use('/rest/*', async (c, next) => {
    const started = performance.now();
    await next();
    c.res.headers.set(HEADER_PROTOCOL_VERSION, PROTOCOL_VERSION);
    if (deps.metrics) {
      const route = c.req.routePath || 'unknown';
      deps.metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
      deps.metrics.httpDuration.observe(
        { method: c.req.method, route },
        (performance.now() - started) / 1000,
      );
    }
  });

  app.onError((err, c) => {
    log.error({ err, path: c.req.path }, 'REST handler failed');
    const res = restError(c, 'Error');
    if (c.req.path.startsWith('/rest/')) res.headers.set(HEADER_PROTOCOL_VERSION, PROTOCOL_VERSION);
    return res;
  });

  app.get(REST_POOLS, async (c) => {
    try {
      return c.json(await poolsResponse(deps.pools, deps.live));
    } catch (err) {
      // Live data unavailable (e.g. database outage in a cluster): the configured pools still answer.
      log.warn({ err }, 'live pool status unavailable; answering /rest/pools with idle status');
      return c.json({ pools: deps.pools.map((p) => poolInfo(p, IDLE_POOL_STATUS)) });
    }
  });

  app.get(REST_TX0, async (c) => {
    const poolId = c.req.query('poolId');
    if (!poolId) return c.body(null, 400);
    await sleep(deps.tx0.delayMs);
    const pool = pools.get(poolId);
    if (!pool) return restError(c, 'Pool not found');
    const rawScode = c.req.query('scode');
    try {
      const data = await tx0Data(pool, rawScode, deps.tx0);
      deps.metrics?.tx0Requests.inc({
        pool: pool.id,
        scode: normalizeScode(rawScode) === null ? 'none' : data.feePayload64 === null ? 'invalid' : 'valid',
      });
      return c.json(data);
    } catch (err) {
      log.error({ err, poolId }, 'GET /rest/tx0 failed');
      return restError(c, clientMessage(err));
    }
  });

  app.post(REST_REGISTER_OUTPUT, async (c) => {
    let req: RegisterOutputRequest;
    try {
      req = parseJson(RegisterOutputRequestSchema, await c.req.text());
    } catch (err) {
      log.info({ err: (err as Error).message }, 'POST /rest/registerOutput: malformed body');
      deps.metrics?.registerOutputs.inc({ result: 'error' });
      return restError(c, 'Error');
    }
    try {
      const outcome = await deps.registerOutput(req, { host: c.req.header('host') });
      if (outcome && 'redirectTo' in outcome) {
        deps.metrics?.registerOutputs.inc({ result: 'redirect' });
        return c.redirect(outcome.redirectTo, 307);
      }
      deps.metrics?.registerOutputs.inc({ result: 'ok' });
      return c.body(null, 200);
    } catch (err) {
      const message = clientMessage(err);
      log.info(
        { err: (err as Error).message, inputsHash: req.inputsHash },
        'POST /rest/registerOutput refused',
      );
      deps.metrics?.registerOutputs.inc({ result: 'error' });
      return restError(c, message);
    }
  });

  app.get(REST_HEALTH, async (c) => c.json(await deps.health()));

  if (deps.tx0V2) addTx0Routes(app, { ...deps.tx0V2, pools: deps.pools, logger: log });
  if (deps.checkOutput) addCheckOutputRoute(app, { ...deps.checkOutput, logger: log });

  return app;
}
