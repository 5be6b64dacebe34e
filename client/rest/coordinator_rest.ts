/**
 * REST client of a Whirlpool coordinator (spec §1.3, §2.5, addendum §3):
 * `GET /rest/pools`, the Tx0 data request of each generation (`GET
 * /rest/tx0` with the Java client's literal `scode=null`, `POST /rest/tx0`,
 * `POST /rest/tx0/v1`), `POST /rest/tx0Notify`, `POST /rest/tx0/push`, and
 * `POST /rest/checkOutput` and `POST /rest/registerOutput`, which must travel over a separate network
 * identity (spec §1.2, §9.6): it has its own `fetch`, so a wallet can route
 * it through another Tor circuit / SOCKS5 proxy (e.g. an undici
 * `ProxyAgent`-backed fetch, or {@link socks5Fetch}).
 *
 * A registerOutput answered 307 (cluster: the mix lives on another instance)
 * is not followed by fetch (`redirect: 'manual'`) but by `followRedirect`,
 * which decides where the same body may be re-POSTed: with a directory only
 * to a verified instance's own URL (client/discovery/redirect_policy.ts).
 *
 * @module
 */
import type { z } from 'zod';
import { followUnverifiedRedirect } from '#client/discovery/coordinator_locator.ts';
import { PROTOCOL_VERSION, REST_POOLS, REST_REGISTER_OUTPUT, REST_TX0 } from '#shared/protocol/constants.ts';
import {
  type PoolInfo,
  PoolsResponseSchema,
  PushTxErrorResponseSchema,
  PushTxSuccessResponseSchema,
  type RegisterOutputRequest,
  RestErrorResponseSchema,
  type Tx0DataResponse,
  Tx0DataResponseSchema,
  type Tx0DataResponseV2,
  Tx0DataResponseV2Schema,
} from '#shared/protocol/messages.ts';
import { checkOutputCall, type RestCall, tx0PushCall } from '../generations.ts';

/** `POST /rest/tx0/push` was refused with a `PushTxErrorResponse` (addendum §3.6). */
export class Tx0PushError extends Error {
  readonly pushTxErrorCode: string;
  /** Output indices paying to an already used address (`address-reuse`), else null. */
  readonly voutsAddressReuse: number[] | null;
  constructor(message: string, pushTxErrorCode: string, voutsAddressReuse: number[] | null) {
    super(`Tx0 push refused: ${message} (${pushTxErrorCode})`);
    this.name = 'Tx0PushError';
    this.pushTxErrorCode = pushTxErrorCode;
    this.voutsAddressReuse = voutsAddressReuse;
  }
}

/** A coordinator REST call failed: HTTP error (with the server's `message` when it sent one) or transport failure. */
export class CoordinatorRestError extends Error {
  /** HTTP status, or null when no answer arrived. */
  readonly status: number | null;
  /** `message` of the server's `RestErrorResponse`, or null. */
  readonly serverMessage: string | null;
  readonly url: string;
  /** The raw answer body of an HTTP error, or null. */
  readonly responseBody: string | null;
  constructor(
    url: string,
    status: number | null,
    serverMessage: string | null,
    message: string,
    options?: { cause?: unknown; responseBody?: string },
  ) {
    super(message, options);
    this.name = 'CoordinatorRestError';
    this.url = url;
    this.status = status;
    this.serverMessage = serverMessage;
    this.responseBody = options?.responseBody ?? null;
  }
}

/** Options of {@link CoordinatorRest}. */
export interface CoordinatorRestOptions {
  /** Coordinator base URL (`http(s)://host:port`, no trailing slash needed). */
  serverUrl: string;
  /** fetch for pools and tx0 (default: global fetch). */
  fetch?: typeof fetch;
  /** fetch for registerOutput, ideally another network identity (default: `fetch`). */
  registerOutputFetch?: typeof fetch;
  /** Per-request timeout, ms (default 30 000). */
  timeoutMs?: number;
  /** `user-agent` header (default `whirlpool-client/0.23`, like the Java client). */
  userAgent?: string;
  /**
   * Where a registerOutput answered 307 with `location` may be re-POSTed
   * (absolute URL), or a rejection to give it up. Default
   * {@link followUnverifiedRedirect} (no directory: the Location, never onion → clear
   * or https → http).
   */
  followRedirect?: (location: string, requestUrl: string) => Promise<string>;
}

/** Redirects of one registerOutput followed at most (instance → holder is one; more means a loop). */
export const MAX_REGISTER_OUTPUT_REDIRECTS = 2;

/** REST client of one coordinator. */
export class CoordinatorRest {
  readonly serverUrl: string;
  readonly #fetch: typeof fetch;
  readonly #registerOutputFetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #followRedirect: (location: string, requestUrl: string) => Promise<string>;

  constructor(opts: CoordinatorRestOptions) {
    this.serverUrl = opts.serverUrl.replace(/\/+$/, '');
    this.#fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.#registerOutputFetch = opts.registerOutputFetch ?? this.#fetch;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#userAgent = opts.userAgent ?? `whirlpool-client/${PROTOCOL_VERSION}`;
    this.#followRedirect = opts.followRedirect ?? followUnverifiedRedirect;
  }

  /** Pools, sorted by denomination descending like the Java client. */
  async pools(): Promise<PoolInfo[]> {
    const res = await this.#json(
      this.#fetch,
      `${this.serverUrl}${REST_POOLS}`,
      { method: 'GET' },
      PoolsResponseSchema,
    );
    return [...res.pools].sort((a, b) => b.denomination - a.denomination);
  }

  /** Tx0 parameters of a pool; `scode` is appended as is, or as the literal `null` (spec §1.3). */
  tx0Data(poolId: string, scode?: string | null): Promise<Tx0DataResponse> {
    const url = `${this.serverUrl}${REST_TX0}?poolId=${encodeURIComponent(poolId)}&scode=${scode ?? 'null'}`;
    return this.#json(this.#fetch, url, { method: 'GET' }, Tx0DataResponseSchema);
  }

  /** Tx0 data of every pool from `POST /rest/tx0` or `POST /rest/tx0/v1` (a {@link RestCall} of `tx0DataCall`). */
  tx0DataV2(call: RestCall): Promise<Tx0DataResponseV2> {
    return this.#json(this.#fetch, `${this.serverUrl}${call.path}`, postInit(call), Tx0DataResponseV2Schema);
  }

  /** `GET /rest/tx0` as a {@link RestCall} of `tx0DataCall` (G0–G2). */
  tx0DataGet(call: RestCall): Promise<Tx0DataResponse> {
    return this.#json(this.#fetch, `${this.serverUrl}${call.path}`, { method: 'GET' }, Tx0DataResponseSchema);
  }

  /** Sends a POST whose success is 200 with any body (`tx0Notify`). */
  async postNoContent(call: RestCall): Promise<void> {
    await this.#request(this.#fetch, `${this.serverUrl}${call.path}`, postInit(call));
  }

  /**
   * `POST /rest/tx0/push`; resolves with the txid. A `PushTxErrorResponse`
   * with a non-empty `pushTxErrorCode` is thrown as {@link Tx0PushError}
   * (how 0.24.3 reads it); other failures as {@link CoordinatorRestError}.
   */
  async tx0Push(tx64: string, poolId: string): Promise<string> {
    const call = tx0PushCall(tx64, poolId);
    const url = `${this.serverUrl}${call.path}`;
    try {
      return (await this.#json(this.#fetch, url, postInit(call), PushTxSuccessResponseSchema)).txid;
    } catch (err) {
      if (err instanceof CoordinatorRestError && err.responseBody !== null) {
        let parsed: ReturnType<typeof PushTxErrorResponseSchema.safeParse> | null = null;
        try {
          parsed = PushTxErrorResponseSchema.safeParse(JSON.parse(err.responseBody));
        } catch {
          // not JSON: keep the REST error
        }
        if (parsed?.success && parsed.data.pushTxErrorCode) {
          throw new Tx0PushError(
            parsed.data.message,
            parsed.data.pushTxErrorCode,
            parsed.data.voutsAddressReuse,
          );
        }
      }
      throw err;
    }
  }

  /** `POST /rest/checkOutput` through the register-output fetch (its own identity); 200 = unused address. */
  async checkOutput(receiveAddress: string, signature: string): Promise<void> {
    const call = checkOutputCall(receiveAddress, signature);
    await this.#request(this.#registerOutputFetch, `${this.serverUrl}${call.path}`, postInit(call));
  }

  /**
   * Registers a mix output through the register-output fetch; success is
   * HTTP 200 with an empty body. A 307 is re-POSTed (same body, same fetch)
   * where `followRedirect` allows, at most {@link MAX_REGISTER_OUTPUT_REDIRECTS} times.
   */
  async registerOutput(req: RegisterOutputRequest): Promise<void> {
    let url = `${this.serverUrl}${REST_REGISTER_OUTPUT}`;
    const init: RequestInit = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(req),
      redirect: 'manual',
    };
    for (let hops = 0; ; hops++) {
      const { location } = await this.#request(this.#registerOutputFetch, url, init, { redirectable: true });
      if (location === null) return;
      if (hops >= MAX_REGISTER_OUTPUT_REDIRECTS) {
        throw new CoordinatorRestError(url, 307, null, `registerOutput redirected more than ${hops} times`);
      }
      let next: string;
      try {
        next = await this.#followRedirect(location, url);
      } catch (err) {
        throw new CoordinatorRestError(
          url,
          307,
          null,
          `registerOutput redirect refused: ${(err as Error).message}`,
          { cause: err },
        );
      }
      url = next;
    }
  }

  async #json<T>(f: typeof fetch, url: string, init: RequestInit, schema: z.ZodType<T>): Promise<T> {
    const { text } = await this.#request(f, url, init);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new CoordinatorRestError(url, 200, null, `Coordinator answer of ${url} is not JSON`, {
        cause: err,
      });
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new CoordinatorRestError(
        url,
        200,
        null,
        `Coordinator answer of ${url} is not a valid ${schema.description ?? 'response'}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`,
        { cause: parsed.error },
      );
    }
    return parsed.data;
  }

  /**
   * Sends a request; resolves with the body of a 200 (`location` null), or,
   * with `redirectable`, with the Location of a 307; throws on anything else.
   */
  async #request(
    f: typeof fetch,
    url: string,
    init: RequestInit,
    opts: { redirectable?: boolean } = {},
  ): Promise<{ text: string; location: string | null }> {
    let res: Response;
    let text: string;
    try {
      res = await f(url, {
        ...init,
        headers: { ...(init.headers as Record<string, string> | undefined), 'user-agent': this.#userAgent },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw new CoordinatorRestError(
        url,
        null,
        null,
        `Coordinator request ${init.method} ${url} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const location = res.headers.get('location');
    if (opts.redirectable && res.status === 307 && location) return { text, location };
    if (res.status !== 200) {
      let serverMessage: string | null = null;
      try {
        const body = RestErrorResponseSchema.safeParse(JSON.parse(text));
        if (body.success) serverMessage = body.data.message;
      } catch {
        // not JSON
      }
      throw new CoordinatorRestError(
        url,
        res.status,
        serverMessage,
        serverMessage !== null
          ? `Coordinator refused ${init.method} ${url}: ${serverMessage}`
          : `Coordinator answered HTTP ${res.status} to ${init.method} ${url}`,
        { responseBody: text.slice(0, 65_536) },
      );
    }
    return { text, location: null };
  }
}

/** A JSON POST of a {@link RestCall}. */
function postInit(call: RestCall): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(call.body ?? {}),
  };
}
