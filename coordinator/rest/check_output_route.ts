/**
 * `POST /rest/checkOutput` (addendum §3.7): a wallet checks, before mixing,
 * that its next postmix address is unused. In the reference's order: the
 * signature (signed message of the address string by the address's key) →
 * `Invalid signature`; the address must be a segwit address of the network →
 * `Invalid receiveAddress`; present in `mix_output` → `Output already
 * registered` (G1+ clients compare this text literally and then move their
 * postmix index); else 200 with an empty body. Reads only the shared
 * database: any instance answers.
 *
 * @module
 */
import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from '#coordinator/log.ts';
import { isValidReceiveAddress } from '#coordinator/mix/receive_address.ts';
import type { MixStore } from '#coordinator/store/mix_store.ts';
import type { NetworkName } from '#shared/bitcoin/network.ts';
import { verifyMessageForAddress } from '#shared/bitcoin/signed_message.ts';
import { REST_CHECK_OUTPUT } from '#shared/protocol/constants.ts';
import { type CheckOutputRequest, CheckOutputRequestSchema, parseJson } from '#shared/protocol/messages.ts';
import { bodyTooLarge, invalidBody, SMALL_BODY_LIMIT } from './tx0_routes.ts';

/** Dependencies of {@link addCheckOutputRoute}. */
export interface CheckOutputDeps {
  network: NetworkName;
  store: Pick<MixStore, 'isOutputUsed'>;
  logger: Logger;
}

/** The check of addendum §3.7 (pure but for the store): the error text, or null when the address is free. */
export async function checkOutput(req: CheckOutputRequest, deps: CheckOutputDeps): Promise<string | null> {
  const address = req.receiveAddress ?? '';
  const signature = req.signature ?? '';
  if (!address || !signature || !verifyMessageForAddress(address, signature, address, deps.network)) {
    return 'Invalid signature';
  }
  if (!isValidReceiveAddress(address, deps.network)) return 'Invalid receiveAddress';
  if (await deps.store.isOutputUsed(address)) return 'Output already registered';
  return null;
}

/** Adds `POST /rest/checkOutput` to `app`. */
export function addCheckOutputRoute(app: Hono, deps: CheckOutputDeps): void {
  app.post(REST_CHECK_OUTPUT, bodyLimit({ maxSize: SMALL_BODY_LIMIT, onError: bodyTooLarge }), async (c) => {
    let req: CheckOutputRequest;
    try {
      req = parseJson(CheckOutputRequestSchema, await c.req.text());
    } catch (err) {
      deps.logger.info({ err: (err as Error).message }, 'checkOutput: malformed body');
      return invalidBody(c);
    }
    const problem = await checkOutput(req, deps);
    if (problem !== null) return c.json({ message: problem }, 500);
    return c.body(null, 200);
  });
}
