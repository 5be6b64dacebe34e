/**
 * The health of an instance for `GET /rest/system/health` (spec §7.3,
 * HealthResponse): `{"status":"OK","error":null}` when the database and the
 * bitcoin node answer, else `{"status":"ERROR","error":"Unavailable: <check
 * names>"}`. The endpoint is public: the answer never carries the failure's
 * own text (it names hosts and ports); that goes to the log (warn), once per
 * check run.
 * Checks run at most once per `cacheMs` whatever the request rate, so the
 * endpoint cannot be used to load the node or the database.
 *
 * @module
 */
import type { Logger } from '#coordinator/log.ts';
import type { HealthResponse } from '#shared/protocol/messages.ts';

/** One named check; unhealthy when it rejects or resolves to a non-empty string (the problem). */
export type HealthCheck = () => Promise<unknown>;

/** Runs `checks` (with a timeout each) and caches the answer. */
export class HealthMonitor {
  readonly #checks: ReadonlyArray<[string, HealthCheck]>;
  readonly #cacheMs: number;
  readonly #timeoutMs: number;
  #last: { at: number; value: HealthResponse } | null = null;
  #inflight: Promise<HealthResponse> | null = null;
  readonly #log: Logger | null;

  constructor(
    checks: Record<string, HealthCheck>,
    opts: { cacheMs?: number; timeoutMs?: number; logger?: Logger } = {},
  ) {
    this.#checks = Object.entries(checks);
    this.#cacheMs = opts.cacheMs ?? 5000;
    this.#timeoutMs = opts.timeoutMs ?? 3000;
    this.#log = opts.logger ?? null;
  }

  /** The current health (cached up to `cacheMs`). Never rejects. */
  async health(): Promise<HealthResponse> {
    const now = Date.now();
    if (this.#last && now - this.#last.at < this.#cacheMs) return this.#last.value;
    this.#inflight ??= this.#run().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #run(): Promise<HealthResponse> {
    const errors: string[] = [];
    const failed: string[] = [];
    await Promise.all(
      this.#checks.map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const timeout = new Promise<string>((resolve) => {
            timer = setTimeout(() => resolve(`timed out after ${this.#timeoutMs} ms`), this.#timeoutMs);
          });
          const problem = await Promise.race([check(), timeout]);
          if (typeof problem === 'string' && problem) {
            errors.push(`${name}: ${problem}`);
            failed.push(name);
          }
        } catch (err) {
          errors.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
          failed.push(name);
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    if (errors.length) this.#log?.warn({ problems: errors.sort() }, 'health check failed');
    const value: HealthResponse = failed.length
      ? { status: 'ERROR', error: `Unavailable: ${failed.sort().join(', ')}` }
      : { status: 'OK', error: null };
    this.#last = { at: Date.now(), value };
    return value;
  }
}
