/**
 * The Tx0 REST routes of the later generations (addendum §3.4–§3.6):
 *
 * - `POST /rest/tx0` (G3–G4) and `POST /rest/tx0/v1` (G5–G6, `cascading` for
 *   G6): `{scode, partnerId[, cascading]}` → `Tx0DataResponseV2` after the
 *   reference's 700 ms anti brute-force delay;
 * - `POST /rest/tx0Notify` (G1–G3): 200 with an empty body, whatever the body;
 * - `POST /rest/tx0/push` (G4–G6): the Tx0 is checked like the reference
 *   does (coordinator/mix/tx0_push_check.ts), its strict-mode outputs are
 *   checked for address reuse against what the cluster has seen
 *   (coordinator/store/tx0_address_store.ts), it is broadcast through the
 *   node, and the answer is `{"txid"}` or a `PushTxErrorResponse`.
 *
 * Every route has a body limit (413 `{"message":"Request body too large"}`);
 * malformed JSON is 400 `{"message":"Invalid request body"}`; every other
 * failure is HTTP 500 with the reference's body. Nothing is written to the
 * database before the node accepted a pushed Tx0. All state is in the
 * shared database, so any instance of a cluster answers.
 *
 * @module
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from '#coordinator/log.ts';
import { clientMessage } from '#coordinator/mix/errors.ts';
import { checkPushedTx0, NOT_A_TX0, type Tx0PushCheckContext } from '#coordinator/mix/tx0_push_check.ts';
import type { PoolConfig } from '#coordinator/mix/types.ts';
import type { Tx0AddressStore } from '#coordinator/store/tx0_address_store.ts';
import { z85Decode } from '#shared/codec/z85.ts';
import { REST_TX0, REST_TX0_NOTIFY, REST_TX0_PUSH, REST_TX0_V1 } from '#shared/protocol/constants.ts';
import {
  type PushTxErrorResponse,
  parseJson,
  Tx0DataRequestV2Schema,
  Tx0NotifyRequestSchema,
  Tx0PushRequestSchema,
} from '#shared/protocol/messages.ts';
import type { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
import { type Tx0DataV2Deps, tx0DataV2 } from './tx0_data.ts';

/** Largest body of `/rest/tx0`, `/rest/tx0/v1`, `/rest/tx0Notify`, `/rest/checkOutput` (bytes). */
export const SMALL_BODY_LIMIT = 4 * 1024;
/** Largest body of `/rest/tx0/push`: a Tx0 of ~1000 outputs in Z85 fits. */
export const PUSH_BODY_LIMIT = 128 * 1024;

/** What the push route needs. */
export interface Tx0PushDeps {
  rpc: Pick<BitcoinRpc, 'sendRawTransaction'>;
  addresses: Pick<Tx0AddressStore, 'usedAddresses' | 'record'>;
  /** Everything of the Tx0 check but the clock. */
  check: Omit<Tx0PushCheckContext, 'nowMs'>;
  now?: () => number;
}

/** Dependencies of {@link addTx0Routes}. */
export interface Tx0RoutesDeps {
  pools: readonly PoolConfig[];
  tx0: Tx0DataV2Deps & { delayMs: number };
  push: Tx0PushDeps;
  logger: Logger;
}

/** The 413 answer of every body limit. */
export function bodyTooLarge(c: Context): Response {
  return c.json({ message: 'Request body too large' }, 413);
}

/** The 400 answer to a body that is not the expected JSON. */
export function invalidBody(c: Context): Response {
  return c.json({ message: 'Invalid request body' }, 400);
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

function pushError(c: Context, code: string, voutsAddressReuse: number[] | null = null): Response {
  const body: PushTxErrorResponse = { message: code, pushTxErrorCode: code, voutsAddressReuse };
  return c.json(body, 500);
}

/** The node's own text of a failed `sendrawtransaction` (e.g. `bad-txns-inputs-missingorspent`). */
function nodeErrorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/^RPC \S+ failed \(-?\d+\): /, '').slice(0, 500) || 'Error';
}

/** Adds the Tx0 routes to `app`. */
export function addTx0Routes(app: Hono, deps: Tx0RoutesDeps): void {
  const log = deps.logger;
  const pools = new Map(deps.pools.map((p) => [p.id, p]));
  const small = bodyLimit({ maxSize: SMALL_BODY_LIMIT, onError: bodyTooLarge });

  for (const [path, version] of [
    [REST_TX0, 0],
    [REST_TX0_V1, 1],
  ] as const) {
    app.post(path, small, async (c) => {
      let req: ReturnType<typeof Tx0DataRequestV2Schema.parse>;
      try {
        req = parseJson(Tx0DataRequestV2Schema, await c.req.text());
      } catch (err) {
        log.info({ err: (err as Error).message, path }, 'Tx0 data request: malformed body');
        return invalidBody(c);
      }
      await sleep(deps.tx0.delayMs);
      try {
        return c.json(await tx0DataV2(deps.pools, req, version, deps.tx0));
      } catch (err) {
        log.info({ err: (err as Error).message, path, partnerId: req.partnerId }, 'Tx0 data request refused');
        return c.json({ message: clientMessage(err) }, 500);
      }
    });
  }

  app.post(REST_TX0_NOTIFY, small, async (c) => {
    // Deprecated in the reference (it reads no body); the txid is only logged.
    try {
      const req = parseJson(Tx0NotifyRequestSchema, await c.req.text());
      log.debug({ txid: req.txid, poolId: req.poolId }, 'tx0Notify');
    } catch {
      // an unreadable notice is still answered 200, as the reference does
    }
    return c.body(null, 200);
  });

  app.post(REST_TX0_PUSH, bodyLimit({ maxSize: PUSH_BODY_LIMIT, onError: bodyTooLarge }), async (c) => {
    let req: ReturnType<typeof Tx0PushRequestSchema.parse>;
    try {
      req = parseJson(Tx0PushRequestSchema, await c.req.text());
    } catch (err) {
      log.info({ err: (err as Error).message }, 'tx0/push: malformed body');
      return invalidBody(c);
    }
    const pool = req.poolId ? pools.get(req.poolId) : undefined;
    if (!pool) return c.json({ message: 'Pool not found' }, 500);
    let raw: Uint8Array;
    try {
      raw = z85Decode(req.tx64 ?? '');
    } catch {
      return pushError(c, NOT_A_TX0);
    }
    const checked = checkPushedTx0(raw, pool, {
      ...deps.push.check,
      nowMs: (deps.push.now ?? Date.now)(),
    });
    if (!checked.ok) {
      log.info({ poolId: pool.id, reason: checked.reason }, 'tx0/push refused: Not a TX0');
      return pushError(c, NOT_A_TX0);
    }
    const tx0 = checked.tx0;
    const addressed = tx0.strictAddresses.filter((a): a is string => a !== null);
    let used: Set<string>;
    try {
      used = await deps.push.addresses.usedAddresses(addressed, tx0.txid);
    } catch (err) {
      log.error({ err, txid: tx0.txid }, 'tx0/push: address index unavailable');
      return c.json({ message: 'Error' }, 500);
    }
    const reused = tx0.strictVouts.filter((_, i) => {
      const a = tx0.strictAddresses[i];
      return a !== null && a !== undefined && used.has(a);
    });
    if (reused.length > 0) {
      log.info({ txid: tx0.txid, reused }, 'tx0/push refused: address-reuse');
      return pushError(c, 'address-reuse', reused);
    }
    let txid: string;
    try {
      txid = await deps.push.rpc.sendRawTransaction(bytesToHex(raw));
    } catch (err) {
      const text = nodeErrorText(err);
      log.info({ txid: tx0.txid, err: text }, 'tx0/push: broadcast refused');
      return pushError(c, text);
    }
    try {
      await deps.push.addresses.record(txid, pool.id, addressed);
    } catch (err) {
      // The Tx0 is on the network: answer success; a later reuse is only checked by the node.
      log.error({ err, txid }, 'tx0/push: could not record the Tx0 addresses');
    }
    log.info({ txid, poolId: pool.id, outputs: tx0.strictVouts.length }, 'tx0/push: broadcast');
    return c.json({ txid });
  });
}
