/**
 * The coordinator's fee addresses (replaces Samourai's XManager, spec
 * §4.6.5): P2WPKH of m/84'/coin'/2147483647'/0/index of the coordinator's
 * secret seed, a dedicated account that never collides with wallet accounts.
 * The (address, index) pair handed out by `/rest/tx0` is verified later by
 * re-deriving the address for the index decoded from the Tx0. Each Tx0
 * partner (addendum §4.2) has its own account: partner payload p uses
 * account 2147483647 − p (payload 0, the default partner, keeps the original
 * account).
 *
 * @module
 */

import { HDKey } from '@scure/bip32';
import { coinType, type NetworkName, p2wpkhAddress } from './network.ts';

/** Account index (hardened) reserved for coordinator fee addresses. */
export const FEE_ACCOUNT = 2147483647;

const accountCache = new WeakMap<Uint8Array, Map<string, HDKey>>();

/** Returns the fee address of `index` (0 ≤ index < 2^31) for the partner with payload `partnerPayload` (0..32767). */
export function feeAddressAt(
  seed: Uint8Array,
  network: NetworkName,
  index: number,
  partnerPayload = 0,
): string {
  if (!Number.isInteger(index) || index < 0 || index >= 0x8000_0000) {
    throw new RangeError(`Invalid fee address index "${index}"`);
  }
  if (!Number.isInteger(partnerPayload) || partnerPayload < 0 || partnerPayload > 0x7fff) {
    throw new RangeError(`Invalid partner payload "${partnerPayload}"`);
  }
  return p2wpkhAddress(
    feeChain(seed, network, FEE_ACCOUNT - partnerPayload).deriveChild(index).publicKey!,
    network,
  );
}

/** Public node m/84'/coin'/account'/0, cached per seed object, network and account (hardened derivation is the slow part). */
function feeChain(seed: Uint8Array, network: NetworkName, account: number): HDKey {
  let perKey = accountCache.get(seed);
  if (perKey === undefined) {
    perKey = new Map();
    accountCache.set(seed, perKey);
  }
  const key = `${network}/${account}`;
  let chain = perKey.get(key);
  if (chain === undefined) {
    const node = HDKey.fromMasterSeed(seed).derive(`m/84'/${coinType(network)}'/${account}'/0`);
    // Keep only the public half: addresses need no private key.
    chain = new HDKey({ publicKey: node.publicKey!, chainCode: node.chainCode! });
    perKey.set(key, chain);
  }
  return chain;
}
