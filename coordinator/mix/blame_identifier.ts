/**
 * Blame / ban identifiers of spec §5.5: a mustMix input is blamed by the txid
 * of its Tx0 (a ban covers every premix output of that Tx0), a liquidity by
 * its own outpoint `txid:index`.
 *
 * @module
 */

/** Identifier under which an input is blamed and banned. */
export function blameIdentifier(input: { txid: string; index: number; liquidity: boolean }): string {
  return input.liquidity ? `${input.txid}:${input.index}` : input.txid;
}

/** Identifiers checked for an active ban at REGISTER_INPUT (§5.1 step 3): the txid and the outpoint. */
export function banIdentifiers(txid: string, index: number): string[] {
  return [txid, `${txid}:${index}`];
}
