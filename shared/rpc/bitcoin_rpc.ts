/**
 * Typed JSON-RPC client for a bitcoin node (Bitcoin Core in production, btcd
 * in tests), over `fetch` only, so it runs unchanged in Node, Deno and Workers.
 *
 * Why hand-written: the npm `bitcoin-core` package is CommonJS on the
 * deprecated `request` library and Node-only; the handful of calls the
 * coordinator makes fit in a small client with zod-checked replies.
 *
 * Wire facts both nodes agree on: JSON-RPC 1.0 envelope with a numeric id,
 * HTTP Basic auth, errors as `{ code, message }` in the body (Core may send
 * them with HTTP 500/404, btcd with 200). Amounts arrive as BTC floats and are
 * converted to satoshis with rounding. `getrawtransaction` takes verbosity as
 * the integer 1 (btcd refuses `true`). btcd closes the connection after each
 * reply, which `fetch` handles without keep-alive tricks — so every call
 * is a TCP connection and an HTTP exchange, the coordinator's largest CPU cost
 * per registration once crypto is native; with `batchMaxCalls` concurrent
 * calls share one request as a JSON-RPC batch (an array; both nodes answer
 * it with an array of replies matched here by id).
 *
 * Error mapping (never by message text): codes -25/-26/-27 become
 * {@link RpcVerifyError}/{@link RpcVerifyRejectedError}/{@link RpcAlreadyInChainError},
 * any other error object an {@link RpcError}; network failures, timeouts and
 * replies that are not JSON-RPC a {@link RpcTransportError}; a reply whose
 * `result` does not match the expected shape a {@link DecodeError} (codec
 * `bitcoin-rpc`).
 *
 * @module
 */
import { z } from 'zod';
import {
  DecodeError,
  RpcAlreadyInChainError,
  RpcError,
  RpcTransportError,
  RpcVerifyError,
  RpcVerifyRejectedError,
} from '../errors.ts';

/** How to reach the node. Credentials come from `url` (`http://user:pass@host:port`) or `user`/`password`. */
export interface BitcoinRpcOptions {
  /** Node URL; may contain `user:pass@` (percent-encoded), which is moved to an Authorization header. */
  url: string;
  /** RPC user; overrides the URL's. */
  user?: string;
  /** RPC password; overrides the URL's. */
  password?: string;
  /** Per-call timeout in milliseconds (default 30 000). */
  timeoutMs?: number;
  /** `fetch` implementation (default: the global one). */
  fetch?: typeof fetch;
  /**
   * Up to this many concurrent calls share one HTTP request as a JSON-RPC
   * batch (calls made in the same event-loop turn; default 1 = one request
   * per call). Each call keeps its own result and error.
   */
  batchMaxCalls?: number;
}

/** A transaction as `getrawtransaction <txid> 1` describes it. */
export interface RawTransactionVerbose {
  txid: string;
  hex: string;
  /** 0 while unconfirmed (the node omits the field). */
  confirmations: number;
  /** Block time in seconds, `null` while unconfirmed. */
  time: number | null;
  blockhash: string | null;
}

/** An unspent output as `gettxout` describes it. */
export interface TxOut {
  /** Amount in satoshis. */
  value: number;
  /** 0 for an output of a mempool transaction. */
  confirmations: number;
  scriptPubKeyHex: string;
  /** The single address of the script, `null` for scripts without exactly one. */
  address: string | null;
}

/** One entry of `testmempoolaccept`'s answer. */
export interface MempoolAcceptResult {
  txid: string;
  allowed: boolean;
  /** Node's reason text when refused (informative only, wording differs between nodes). */
  rejectReason: string | null;
}

/** Core's default `maxfeerate` for `testmempoolaccept`, BTC/kvB (btcd requires the argument). */
const DEFAULT_MAX_FEE_RATE_BTC_PER_KVB = 0.1;

const HEX64 = /^[0-9a-fA-F]{64}$/;

/** BTC amount (float) → satoshis, rounded; refuses negative and absurd values. */
export function btcToSats(btc: number): number {
  const sats = Math.round(btc * 1e8);
  if (!Number.isSafeInteger(sats) || sats < 0 || sats > 21e14) {
    throw new RangeError(`BTC amount '${btc}' is not a valid satoshi amount`);
  }
  return sats;
}

const BtcAmountSchema = z.number().nonnegative().max(21e6).transform(btcToSats);

const ReplySchema = z.object({
  result: z.unknown(),
  error: z.object({ code: z.number().int(), message: z.string() }).nullable().optional(),
  id: z.union([z.number(), z.string(), z.null()]).optional(),
});

const BlockchainInfoSchema = z.object({
  chain: z.string(),
  blocks: z.number().int().nonnegative(),
  bestblockhash: z.string().regex(HEX64),
});

const RawTransactionSchema = z.object({
  txid: z.string().regex(HEX64),
  hex: z.string().regex(/^[0-9a-fA-F]*$/),
  confirmations: z.number().int().nonnegative().optional(),
  time: z.number().int().optional(),
  blockhash: z.string().regex(HEX64).optional(),
});

const ScriptPubKeySchema = z.object({
  hex: z.string().regex(/^[0-9a-fA-F]*$/),
  address: z.string().optional(),
  addresses: z.array(z.string()).optional(),
});

const TxOutSchema = z
  .object({
    value: BtcAmountSchema,
    confirmations: z.number().int().nonnegative(),
    scriptPubKey: ScriptPubKeySchema,
  })
  .nullable();

const TestMempoolAcceptSchema = z.array(
  z.object({
    txid: z.string().regex(HEX64),
    allowed: z.boolean().optional(),
    'reject-reason': z.string().optional(),
  }),
);

type RpcReply = z.infer<typeof ReplySchema>;

/** A call waiting for the next batch. */
interface QueuedCall {
  id: number;
  method: string;
  params: unknown[];
  resolve: (r: { status: number; reply: RpcReply }) => void;
  reject: (err: unknown) => void;
}

/** Checks one JSON-RPC reply envelope. */
function parseReply(method: string, status: number, json: unknown): RpcReply {
  const reply = ReplySchema.safeParse(json);
  if (!reply.success) {
    throw new RpcTransportError(method, `HTTP ${status} with a body that is not a JSON-RPC reply`, {
      cause: reply.error,
    });
  }
  return reply.data;
}

/** Picks the error class for a node error code. */
function rpcErrorFor(method: string, code: number, message: string): RpcError {
  switch (code) {
    case -25:
      return new RpcVerifyError(method, code, message);
    case -26:
      return new RpcVerifyRejectedError(method, code, message);
    case -27:
      return new RpcAlreadyInChainError(method, code, message);
    default:
      return new RpcError(method, code, message);
  }
}

/** Base64 of a UTF-8 string without `node:buffer`. */
function base64Utf8(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** JSON-RPC client for Bitcoin Core and btcd; one instance per node, safe for concurrent calls. */
export class BitcoinRpc {
  readonly #endpoint: string;
  readonly #authorization: string | null;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #batchMaxCalls: number;
  readonly #queue: QueuedCall[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | null = null;
  #nextId = 1;

  constructor(opts: BitcoinRpcOptions) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch (err) {
      throw new TypeError(`Bitcoin RPC url is not a valid URL`, { cause: err });
    }
    const user = opts.user ?? decodeURIComponent(url.username);
    const password = opts.password ?? decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
    this.#endpoint = url.toString();
    this.#authorization = user || password ? `Basic ${base64Utf8(`${user}:${password}`)}` : null;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.#batchMaxCalls = Math.max(1, Math.floor(opts.batchMaxCalls ?? 1));
  }

  /** The node URL without credentials (safe to log). */
  get endpoint(): string {
    return this.#endpoint;
  }

  /**
   * Calls `method` with positional `params` and checks `result` against
   * `schema`. Throws {@link RpcError} (or a subclass) when the node answers
   * with an error, {@link RpcTransportError} on network/HTTP/envelope
   * failures and timeouts, {@link DecodeError} when `result` does not match.
   */
  async call<T>(method: string, params: unknown[], schema: z.ZodType<T>): Promise<T> {
    const { status, reply } =
      this.#batchMaxCalls > 1 ? await this.#enqueue(method, params) : await this.#postOne(method, params);
    const { error, result } = reply;
    if (error) throw rpcErrorFor(method, error.code, error.message);
    if (status !== 200) {
      throw new RpcTransportError(method, `HTTP ${status} without an error object`);
    }
    const parsed = schema.safeParse(result);
    if (!parsed.success) {
      throw new DecodeError(
        'bitcoin-rpc',
        `unexpected result of '${method}': ${z.prettifyError(parsed.error)}`,
        {
          cause: parsed.error,
        },
      );
    }
    return parsed.data;
  }

  /** POSTs `body`; returns the HTTP status and the parsed JSON, or throws RpcTransportError for `method`. */
  async #post(method: string, body: unknown): Promise<{ status: number; json: unknown }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#authorization) headers.authorization = this.#authorization;
    let status: number;
    let text: string;
    try {
      const response = await this.#fetch(this.#endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (err) {
      const reason =
        err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
          ? `no reply within ${this.#timeoutMs} ms`
          : `request to '${this.#endpoint}' failed`;
      throw new RpcTransportError(method, reason, { cause: err });
    }
    try {
      return { status, json: JSON.parse(text) };
    } catch (err) {
      throw new RpcTransportError(
        method,
        `HTTP ${status} with a body that is not JSON: '${text.slice(0, 120)}'`,
        {
          cause: err,
        },
      );
    }
  }

  /** One call in its own HTTP request. */
  async #postOne(method: string, params: unknown[]): Promise<{ status: number; reply: RpcReply }> {
    const id = this.#nextId++;
    const { status, json } = await this.#post(method, { jsonrpc: '1.0', id, method, params });
    return { status, reply: parseReply(method, status, json) };
  }

  /** Queues a call for the next batch (sent at the end of this event-loop turn, or when full). */
  #enqueue(method: string, params: unknown[]): Promise<{ status: number; reply: RpcReply }> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, method, params, resolve, reject });
      if (this.#queue.length >= this.#batchMaxCalls) this.#flush();
      else this.#flushTimer ??= setTimeout(() => this.#flush(), 0);
    });
  }

  /** Sends the queued calls as one JSON-RPC batch (a single call as a plain request). */
  #flush(): void {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    const batch = this.#queue.splice(0);
    if (batch.length === 0) return;
    if (batch.length === 1) {
      const [only] = batch as [QueuedCall];
      this.#postOne(only.method, only.params).then(only.resolve, only.reject);
      return;
    }
    const label = `batch of ${batch.length} (${batch[0]!.method}, …)`;
    this.#post(
      label,
      batch.map((c) => ({ jsonrpc: '1.0', id: c.id, method: c.method, params: c.params })),
    ).then(
      ({ status, json }) => {
        const byId = new Map<unknown, unknown>();
        if (Array.isArray(json)) {
          for (const item of json) {
            if (typeof item === 'object' && item !== null && 'id' in item) byId.set(item.id, item);
          }
        }
        for (const c of batch) {
          const item = byId.get(c.id);
          if (item === undefined) {
            c.reject(
              new RpcTransportError(c.method, `HTTP ${status}: no reply for this call in the batch reply`),
            );
            continue;
          }
          try {
            c.resolve({ status, reply: parseReply(c.method, status, item) });
          } catch (err) {
            c.reject(err);
          }
        }
      },
      (err: unknown) => {
        for (const c of batch) {
          c.reject(
            err instanceof RpcTransportError
              ? new RpcTransportError(c.method, err.message, { cause: err })
              : err,
          );
        }
      },
    );
  }

  /** Chain name (`main`, `test`, `signet`, `regtest`), height and best block hash. */
  async getBlockchainInfo(): Promise<{ chain: string; blocks: number; bestblockhash: string }> {
    const info = await this.call('getblockchaininfo', [], BlockchainInfoSchema);
    return { chain: info.chain, blocks: info.blocks, bestblockhash: info.bestblockhash };
  }

  /** Height of the best chain. */
  getBlockCount(): Promise<number> {
    return this.call('getblockcount', [], z.number().int().nonnegative());
  }

  /**
   * The transaction with `txid` from the mempool or (with `-txindex`) the
   * chain, or `null` when the node does not know it (code -5).
   */
  async getRawTransaction(txid: string): Promise<RawTransactionVerbose | null> {
    try {
      const tx = await this.call('getrawtransaction', [txid, 1], RawTransactionSchema);
      return {
        txid: tx.txid,
        hex: tx.hex,
        confirmations: tx.confirmations ?? 0,
        time: tx.time ?? null,
        blockhash: tx.blockhash ?? null,
      };
    } catch (err) {
      if (err instanceof RpcError && err.code === -5) return null;
      throw err;
    }
  }

  /**
   * The unspent output `txid:vout` (by default mempool spends count as
   * spent and mempool outputs are visible), or `null` when it is spent or
   * unknown.
   */
  async getTxOut(txid: string, vout: number, includeMempool = true): Promise<TxOut | null> {
    const out = await this.call('gettxout', [txid, vout, includeMempool], TxOutSchema);
    if (out === null) return null;
    const { scriptPubKey } = out;
    const address =
      scriptPubKey.address ??
      (scriptPubKey.addresses?.length === 1 ? (scriptPubKey.addresses[0] ?? null) : null);
    return {
      value: out.value,
      confirmations: out.confirmations,
      scriptPubKeyHex: scriptPubKey.hex,
      address,
    };
  }

  /** Broadcasts a raw transaction and returns its txid; refusals throw the typed -25/-26/-27 errors. */
  sendRawTransaction(hex: string): Promise<string> {
    return this.call('sendrawtransaction', [hex], z.string().regex(HEX64));
  }

  /**
   * Asks whether the mempool would accept each transaction (no broadcast),
   * with Core's default max fee rate of 0.1 BTC/kvB.
   */
  async testMempoolAccept(hexes: string[]): Promise<MempoolAcceptResult[]> {
    const results = await this.call(
      'testmempoolaccept',
      [hexes, DEFAULT_MAX_FEE_RATE_BTC_PER_KVB],
      TestMempoolAcceptSchema,
    );
    return results.map((r) => ({
      txid: r.txid,
      allowed: r.allowed ?? false,
      rejectReason: r['reject-reason'] ?? null,
    }));
  }
}
