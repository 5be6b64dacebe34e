/**
 * Provenance of a registered input (spec §4.8, §4.9): is the transaction that
 * created the UTXO a Tx0 paying the coordinator fee (→ mustMix), or a previous
 * Whirlpool mix recorded in `mix_txid` (→ liquidity)? Throws the exact
 * `Input rejected ...` texts as {@link NotifiableError}. The fee data is read
 * with shared/protocol/tx0_fee_data.ts (input 0's key from its witness or
 * scriptSig; a P2PK input 0 is not looked up, so such a Tx0 counts as "no fee
 * data").
 *
 * @module
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { MixStore } from '#coordinator/store/mix_store.ts';
import type { NetworkName } from '#shared/bitcoin/network.ts';
import { shortFromScodePayload } from '#shared/protocol/fee_payload.ts';
import type { ScodeConfig } from '#shared/protocol/scode.ts';
import { NotifiableError } from './errors.ts';
import type { TxFacts } from './tx_facts.ts';
import { isTx0FeePaid } from './tx0_fee_check.ts';
import type { PoolConfig } from './types.ts';

/** What the provenance check needs besides the transaction. */
export interface ProvenanceContext {
  store: Pick<MixStore, 'isMixTxid'>;
  network: NetworkName;
  scodes: readonly ScodeConfig[];
  feeAddressAt: (index: number) => string;
}

/**
 * Checks the provenance of an input of `value` sats created by `tx` and its
 * consistency with the client's `liquidity` flag (§4.8 steps 1–4).
 */
export async function checkProvenance(
  tx: TxFacts,
  txid: string,
  value: number,
  tx0TimeMs: number,
  liquidity: boolean,
  pool: PoolConfig,
  ctx: ProvenanceContext,
): Promise<void> {
  const feeData = tx.feeData();
  let isLiquidity: boolean;
  if (feeData) {
    const outputs = tx.outputs.map((o) => ({ value: o.value, address: o.address }));
    const scodePayload = feeData.scodePayload ? shortFromScodePayload(feeData.scodePayload) : null;
    const paid = isTx0FeePaid(
      { outputs, feeIndice: feeData.feeIndice, scodePayload, tx0TimeMs },
      pool,
      ctx.scodes,
      ctx.feeAddressAt,
    );
    if (!paid) {
      const payloadHex = feeData.scodePayload ? bytesToHex(feeData.scodePayload) : 'null';
      throw new NotifiableError(
        `Input rejected (invalid fee for tx0=${txid}, x=${feeData.feeIndice}, feePayloadHex=${payloadHex})`,
      );
    }
    isLiquidity = false;
  } else {
    if (!(await ctx.store.isMixTxid(txid, value))) {
      throw new NotifiableError('Input rejected (not a premix or whirlpool input)');
    }
    isLiquidity = true;
  }
  if (liquidity && !isLiquidity)
    throw new NotifiableError('Input rejected: joined as liquidity but is a mustMix');
  if (!liquidity && isLiquidity)
    throw new NotifiableError('Input rejected: joined as mustMix but is as a liquidity');
}
