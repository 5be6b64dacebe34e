/**
 * Provenance of a registered input (spec §4.8, §4.9; addendum §4.9, §4.10):
 * is the transaction that created the UTXO a Tx0 paying the coordinator fee
 * (→ mustMix), or a previous Whirlpool mix recorded in `mix_txid` (→
 * liquidity)? Throws the exact `Input rejected ...` texts of server 0.23.36
 * as {@link NotifiableError}. The fee data is read with
 * shared/protocol/tx0_fee_data.ts (V0: input 0's key from its witness or
 * scriptSig, a P2PK input 0 is not looked up; V1: the embedded masking key).
 * The fee is checked against the partner found by the decoded partner
 * payload. A cascading Tx0 (scode payload 22222) pays no fee but must spend
 * exactly one output of a parent that is itself a valid Tx0 of the pool its
 * output #3 belongs to (the reference's heuristic, addendum §4.9).
 *
 * @module
 */
import type { MixStore } from '#coordinator/store/mix_store.ts';
import type { NetworkName } from '#shared/bitcoin/network.ts';
import { shortFromScodePayload } from '#shared/protocol/fee_payload.ts';
import { DEFAULT_PARTNERS, type PartnerConfig } from '#shared/protocol/partner.ts';
import type { ScodeConfig } from '#shared/protocol/scode.ts';
import { NotifiableError } from './errors.ts';
import type { TxFacts } from './tx_facts.ts';
import { findTx0FeeOutput } from './tx0_fee_check.ts';
import type { PoolConfig } from './types.ts';

/** Depth limit of the cascading parent chain (each level is one node lookup). */
const MAX_CASCADING_DEPTH = 8;

/** What the provenance check needs besides the transaction. */
export interface ProvenanceContext {
  store: Pick<MixStore, 'isMixTxid'>;
  network: NetworkName;
  scodes: readonly ScodeConfig[];
  /** Fee address of index x for the partner with payload p (default 0). */
  feeAddressAt: (index: number, partnerPayload?: number) => string;
  /** Tx0 partners (default SAMOURAI 0, SPARROW 1). */
  partners?: readonly PartnerConfig[];
  /**
   * Parent lookup of the cascading check: facts and block time (ms) of a
   * transaction, or null when the node does not know it. Absent: cascading
   * Tx0s are refused.
   */
  fetchTx?: (txid: string) => Promise<{ facts: TxFacts; timeMs: number } | null>;
  /** Every configured pool (the cascading parent may belong to a pool this instance does not serve). */
  allPools?: readonly PoolConfig[];
}

/**
 * Checks the provenance of an input of `value` sats created by `tx` and its
 * consistency with the client's `liquidity` flag (§4.10 steps 1–5).
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
  const verdict = tx0Verdict(tx, tx0TimeMs, pool, ctx);
  let isLiquidity: boolean;
  if (verdict.kind === 'not-tx0') {
    if (!(await ctx.store.isMixTxid(txid, value))) {
      throw new NotifiableError('Input rejected (not a premix or whirlpool input)');
    }
    isLiquidity = true;
  } else {
    if (verdict.kind === 'unpaid') {
      throw new NotifiableError(
        `Input rejected (invalid fee for tx0=${txid}, x=${verdict.feeIndice}, scodePayload=${verdict.scode ? 'yes' : 'no'})`,
      );
    }
    if (verdict.kind === 'cascading' && !(await isValidCascading(tx, ctx, 0))) {
      throw new NotifiableError(`Input rejected (invalid cascading for tx0=${txid})`);
    }
    isLiquidity = false;
  }
  if (liquidity && !isLiquidity)
    throw new NotifiableError('Input rejected: joined as liquidity but is a mustMix');
  if (!liquidity && isLiquidity)
    throw new NotifiableError('Input rejected: joined as mustMix but is as a liquidity');
}

type Verdict =
  | { kind: 'not-tx0' }
  | { kind: 'paid' }
  | { kind: 'cascading' }
  | { kind: 'unpaid'; feeIndice: number; scode: boolean };

/** §4.10 steps 1 and 3 for one pool: not a Tx0, paid, cascading (fee-free, parent to check) or unpaid. */
function tx0Verdict(tx: TxFacts, tx0TimeMs: number, pool: PoolConfig, ctx: ProvenanceContext): Verdict {
  const feeData = tx.feeData();
  if (!feeData) return { kind: 'not-tx0' };
  const scodePayload = feeData.scodePayload ? shortFromScodePayload(feeData.scodePayload) : null;
  const outcome = findTx0FeeOutput(
    {
      outputs: tx.outputs.map((o) => ({ value: o.value, address: o.address })),
      feeIndice: feeData.feeIndice,
      scodePayload,
      partnerPayload: feeData.feePartner,
      tx0TimeMs,
    },
    pool,
    ctx.scodes,
    ctx.partners ?? DEFAULT_PARTNERS,
    (index, partner) => ctx.feeAddressAt(index, partner),
  );
  if (!outcome.paid) return { kind: 'unpaid', feeIndice: feeData.feeIndice, scode: scodePayload !== null };
  return { kind: outcome.cascading ? 'cascading' : 'paid' };
}

/** Addendum §4.9 steps 1–4 (recursive for a cascading parent). */
async function isValidCascading(tx: TxFacts, ctx: ProvenanceContext, depth: number): Promise<boolean> {
  if (!ctx.fetchTx || depth >= MAX_CASCADING_DEPTH) return false;
  const inputs = tx.inputs;
  if (inputs === undefined || inputs.length !== 1) return false;
  const parent = await ctx.fetchTx(inputs[0]!.txid);
  if (!parent || parent.facts.outputs.length < 4) return false;
  const value = parent.facts.outputs[3]!.value;
  const pools = [...(ctx.allPools ?? [])].sort((a, b) => b.denomination - a.denomination);
  const parentPool = pools.find(
    (p) => value >= p.denomination + p.minerFeeMin && value <= p.denomination + p.minerFeeMax,
  );
  if (!parentPool) return false;
  const verdict = tx0Verdict(parent.facts, parent.timeMs, parentPool, ctx);
  if (verdict.kind === 'paid') return true;
  if (verdict.kind === 'cascading') return isValidCascading(parent.facts, ctx, depth + 1);
  return false;
}
