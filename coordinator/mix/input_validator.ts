import type { MixStore } from '#coordinator/store/mix_store.ts';
import { isPublicKeyOfScript, recoverMessagePublicKey } from '#shared/bitcoin/signed_message.ts';
import type { Secp256k1 } from '#shared/crypto/secp256k1.ts';
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
  store: Pick<MixStore, 'inputFacts'>;
  testMode: boolean;
  /** Parsed transactions by txid. */
  txFacts: TxFactsCache;
  /** Signed-message recovery backend (default: the portable noble one). */
  secp256k1?: Secp256k1;
  /** The pool if it exists (and is served by this instance), else null. */
  findPool: (poolId: string) => PoolConfig | null;
}

const UTXO_HASH_RE = /^[0-9a-f]{64}$/;

/**
 * Validates a RegisterInputRequest (spec §5.1 steps 1–13), cheapest checks
 * first so that junk costs as little as possible before it reaches the node
 * or the database:
 *
 * 1. syntax of the outpoint, the pool (in memory), a well-formed signature
 *    that recovers a public key (CPU only) — no I/O at all;
 * 2. the transaction (Tx facts cache, else one getrawtransaction) and its
 *    output; the recovered key must own that output — a forged signature for
 *    a known Tx0 still touches neither the node nor the database;
 * 3. one database statement (bans, Tx0 whitelist, mix txids) together with
 *    gettxout; the ban is reported before "already spent".
 *
 * Against the reference's order (ban, tx, signature, spent, provenance,
 * pool) only the error of a request with several faults can differ; a
 * signature check before the ban lookup also means that only the owner of an
 * input learns that it is banned.
 */
export async function validateRegisterInput(
  req: RegisterInputRequest,
  ctx: InputValidatorContext,
): Promise<ValidatedInput> {
  // 1–2: syntax of the outpoint
  if (!UTXO_HASH_RE.test(req.utxoHash)) throw new NotifiableError('Invalid utxoHash');
  if (!(req.utxoIndex >= 0)) throw new NotifiableError('Invalid utxoIndex');
  const txid = req.utxoHash;
  const index = req.utxoIndex;

  // 11 (early, in memory): the pool is served here
  const pool = ctx.findPool(req.poolId);
  if (!pool) throw new NotifiableError('Pool not found');

  // 6 (first half, CPU only): the signature is well formed and recovers a key
  const publicKey = recoverMessagePublicKey(req.poolId, req.signature, ctx.secp256k1);
  if (publicKey === null) throw new NotifiableError('Invalid signature');

  // 4: the node knows the transaction
  let raw = ctx.txFacts.confirmedRaw(txid) ?? null;
  const rawFromCache = raw !== null;
  if (!raw) raw = await ctx.txFacts.fetchRaw(txid, (id) => ctx.rpc.getRawTransaction(id));
  if (!raw) throw new NotifiableError(`UTXO not found: ${txid}-${index}`);
  if (!rawFromCache) ctx.txFacts.rememberRaw(raw);
  const tx = ctx.txFacts.get(txid, raw.hex);

  // 5: the output exists (internal error in the reference → `Error`)
  const output = tx.outputs[index];
  if (!output) {
    throw new MixInternalError(`Output index out of range: ${txid}-${index} (${tx.outputs.length} outputs)`);
  }
  const { script: scriptPubKey, value, address } = output;

  // 6 (second half): the recovered key owns the output
  if (address === null || !isPublicKeyOfScript(publicKey, scriptPubKey)) {
    throw new NotifiableError('Invalid signature');
  }

  // 3 and 7 together: one database statement and gettxout
  const factsLookup = ctx.store.inputFacts(txid, banIdentifiers(txid, index));
  const txOutLookup = ctx.rpc.getTxOut(txid, index, true);
  txOutLookup.catch(() => undefined);
  const facts = await factsLookup.catch(async (err: unknown) => {
    await txOutLookup.catch(() => undefined);
    throw err;
  });
  if (facts.ban) throw new NotifiableError(`Banned from service. ${facts.ban.response ?? 'Contact us.'}`);
  if (!(await txOutLookup)) throw new NotifiableError('Input already spent');

  // 8–10: provenance unless whitelisted or test mode
  if (!facts.tx0Whitelisted && !ctx.testMode) {
    const tx0TimeMs = (raw.time ?? 0) * 1000;
    await checkProvenance(tx, txid, value, tx0TimeMs, req.liquidity, pool, {
      ...ctx,
      store: { isMixTxid: async (_txid, denomination) => facts.mixDenominations.includes(denomination) },
    });
  }

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
