/**
 * The Tx0 check of `POST /rest/tx0/push` (addendum §3.6 step 2, §4.11): the
 * pushed transaction must decode as a Tx0 (V0 or V1 fee OP_RETURN) and pay
 * the pool's fee (§4.10 steps 1 and 3, tx0 time = now; the cascading parent
 * check is not run, as in the reference). Pure: returns the strict-mode
 * output list (every output but the fee OP_RETURN and the fee output) or
 * `Not a TX0`.
 *
 * @module
 */
import { Transaction } from '@scure/btc-signer';
import { type NetworkName, outputScriptToAddress } from '#shared/bitcoin/network.ts';
import { shortFromScodePayload } from '#shared/protocol/fee_payload.ts';
import type { PartnerConfig } from '#shared/protocol/partner.ts';
import type { ScodeConfig } from '#shared/protocol/scode.ts';
import { decodeTx0FeeDataFromTx, type Tx0FeeKeys } from '#shared/protocol/tx0_fee_data.ts';
import { findTx0FeeOutput, type PoolFeeRule } from './tx0_fee_check.ts';

/** The only rejection text of the check (reference `PushTxErrorResponse`). */
export const NOT_A_TX0 = 'Not a TX0';

/** What the check needs besides the transaction and the pool. */
export interface Tx0PushCheckContext {
  network: NetworkName;
  keys: Tx0FeeKeys;
  scodes: readonly ScodeConfig[];
  partners: readonly PartnerConfig[];
  feeAddressAt: (index: number, partnerPayload: number) => string;
  nowMs: number;
}

/** A pushed transaction that passed the check. */
export interface CheckedTx0 {
  tx: Transaction;
  txid: string;
  hex: string;
  /** Strict-mode output indices, ascending. */
  strictVouts: number[];
  /** Address of each strict-mode output (null for scripts without one), same order. */
  strictAddresses: Array<string | null>;
  feeOutputIndex: number | null;
  opReturnIndex: number;
}

/** Checks raw Tx0 bytes for `pool`; `{ ok: false }` means `Not a TX0`. Never throws. */
export function checkPushedTx0(
  raw: Uint8Array,
  pool: PoolFeeRule,
  ctx: Tx0PushCheckContext,
): { ok: true; tx0: CheckedTx0 } | { ok: false; reason: string } {
  let tx: Transaction;
  try {
    tx = Transaction.fromRaw(raw, {
      allowUnknownOutputs: true,
      allowUnknownInputs: true,
      disableScriptCheck: true,
    });
  } catch (err) {
    return { ok: false, reason: `unparsable transaction: ${(err as Error).message}` };
  }
  const fee = decodeTx0FeeDataFromTx(tx, ctx.keys);
  if (!fee) return { ok: false, reason: 'no fee data' };
  const outputs: Array<{ value: number; address: string | null }> = [];
  for (let i = 0; i < tx.outputsLength; i++) {
    const o = tx.getOutput(i);
    outputs.push({
      value: Number(o.amount ?? 0n),
      address: o.script ? outputScriptToAddress(o.script, ctx.network) : null,
    });
  }
  const outcome = findTx0FeeOutput(
    {
      outputs,
      feeIndice: fee.feeIndice,
      scodePayload: fee.scodePayload ? shortFromScodePayload(fee.scodePayload) : null,
      partnerPayload: fee.feePartner,
      tx0TimeMs: ctx.nowMs,
    },
    pool,
    ctx.scodes,
    ctx.partners,
    ctx.feeAddressAt,
  );
  if (!outcome.paid)
    return { ok: false, reason: `fee not paid (x=${fee.feeIndice}, partner=${fee.feePartner})` };
  const strictVouts: number[] = [];
  const strictAddresses: Array<string | null> = [];
  for (let i = 0; i < outputs.length; i++) {
    if (i === fee.opReturnIndex || i === outcome.feeOutputIndex) continue;
    strictVouts.push(i);
    strictAddresses.push(outputs[i]!.address);
  }
  return {
    ok: true,
    tx0: {
      tx,
      txid: tx.id,
      hex: tx.hex,
      strictVouts,
      strictAddresses,
      feeOutputIndex: outcome.feeOutputIndex,
      opReturnIndex: fee.opReturnIndex,
    },
  };
}
