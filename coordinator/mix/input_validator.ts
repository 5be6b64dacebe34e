import type { MixStore } from '#coordinator/store/mix_store.ts';
import { verifyMessageForAddress } from '#shared/bitcoin/signed_message.ts';
import type { RegisterInputRequest } from '#shared/protocol/messages.ts';
import type { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
import { banIdentifiers } from './blame_identifier.ts';
import { MixInternalError, NotifiableError } from './errors.ts';
import type { TxFactsCache } from './tx_facts.ts';
import { checkProvenance, type ProvenanceContext } from './tx0_provenance.ts';
import type { PoolConfig } from './types.ts';

/** A UTXO that passed REGISTER_INPUT validation. */
export interface ValidatedInput {
  poolId: string;
  txid: string;
  index: number;
  value: number;
  confirmations: number;
  scriptPubKey: Uint8Array;
  address: string;
  liquidity: boolean;
}

/** Dependencies of the validator. */
export interface InputValidatorContext extends Omit<ProvenanceContext, 'store'> {
  rpc: Pick<BitcoinRpc, 'getRawTransaction' | 'getTxOut'>;
  store: Pick<MixStore, 'isBanned' | 'isTx0Whitelisted' | 'isMixTxid'>;
  testMode: boolean;
  /** Parsed transactions by txid. */
  txFacts: TxFactsCache;
  /** The pool if it exists (and is served by this instance), else null. */
  findPool: (poolId: string) => PoolConfig | null;
}

const UTXO_HASH_RE = /^[0-9a-f]{64}$/;

/** Validates a RegisterInputRequest (spec §5.1 steps 1–13). */
export async function validateRegisterInput(
  req: RegisterInputRequest,
  ctx: InputValidatorContext,
): Promise<ValidatedInput> {
  // 1–2: syntax of the outpoint
  if (!UTXO_HASH_RE.test(req.utxoHash)) throw new NotifiableError('Invalid utxoHash');
  if (!(req.utxoIndex >= 0)) throw new NotifiableError('Invalid utxoIndex');
  const txid = req.utxoHash;
  const index = req.utxoIndex;

  // The lookups of steps 3, 4 and 8 start together (they only read); their
  // results are still used, and their errors reported, in the spec's order.
  let raw = ctx.txFacts.confirmedRaw(txid) ?? null;
  const rawFromCache = raw !== null;
  const banLookup = ctx.store.isBanned(banIdentifiers(txid, index));
  const rawLookup = raw
    ? Promise.resolve(raw)
    : ctx.txFacts.fetchRaw(txid, (id) => ctx.rpc.getRawTransaction(id));
  const whitelistLookup = ctx.store.isTx0Whitelisted(txid);
  rawLookup.catch(() => undefined);
  whitelistLookup.catch(() => undefined);

  // 3: bans on the txid and on the outpoint
  const ban = await banLookup;
  if (ban) throw new NotifiableError(`Banned from service. ${ban.response ?? 'Contact us.'}`);

  // 4: the node knows the transaction
  raw = await rawLookup;
  if (!raw) throw new NotifiableError(`UTXO not found: ${txid}-${index}`);
  if (!rawFromCache) ctx.txFacts.rememberRaw(raw);
  const tx = ctx.txFacts.get(txid, raw.hex);

  // 5: the output exists (internal error in the reference → `Error`)
  const output = tx.outputs[index];
  if (!output) {
    throw new MixInternalError(`Output index out of range: ${txid}-${index} (${tx.outputs.length} outputs)`);
  }
  const { script: scriptPubKey, value, address } = output;

  // 6: ownership signature over the poolId
  if (address === null || !verifyMessageForAddress(req.poolId, req.signature, address, ctx.network)) {
    throw new NotifiableError('Invalid signature');
  }

  // 7: unspent (mempool included)
  const txOut = await ctx.rpc.getTxOut(txid, index, true);
  if (!txOut) throw new NotifiableError('Input already spent');

  // 8–10: provenance unless whitelisted or test mode
  if (!(await whitelistLookup)) {
    const pool = ctx.findPool(req.poolId);
    if (!pool) throw new NotifiableError('Pool not found');
    if (!ctx.testMode) {
      const tx0TimeMs = (raw.time ?? 0) * 1000;
      await checkProvenance(tx, txid, value, tx0TimeMs, req.liquidity, pool, ctx);
    }
  }

  // 11: pool exists
  const pool = ctx.findPool(req.poolId);
  if (!pool) throw new NotifiableError('Pool not found');

  // 12: value within bounds for the flag
  const min = req.liquidity ? pool.denomination : pool.denomination + pool.minerFeeMin;
  const max = req.liquidity ? pool.denomination : pool.denomination + pool.minerFeeMax;
  if (value < min || value > max) {
    throw new NotifiableError(`Invalid input balance (expected: ${min}-${max}, actual:${value})`);
  }

  // 13: confirmations
  const minConfirmations = req.liquidity ? pool.minConfirmations.liquidity : pool.minConfirmations.mustMix;
  if (raw.confirmations < minConfirmations && rawFromCache) {
    raw = (await ctx.rpc.getRawTransaction(txid)) ?? raw; // cached confirmations only grow: ask again
    ctx.txFacts.rememberRaw(raw);
  }
  if (raw.confirmations < minConfirmations) throw new NotifiableError('Input is not confirmed');

  return {
    poolId: pool.id,
    txid,
    index,
    value,
    confirmations: raw.confirmations,
    scriptPubKey,
    address,
    liquidity: req.liquidity,
  };
}
