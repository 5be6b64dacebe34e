/**
 * The coordinator's fee addresses (replaces Samourai's XManager, spec
 * §4.6.5): P2WPKH of m/84'/coin'/2147483647'/0/index of the coordinator's
 * secret seed, a dedicated account that never collides with wallet accounts.
 * The (address, index) pair handed out by `/rest/tx0` is verified later by
 * re-deriving the address for the index decoded from the Tx0.
 *
 * @module
 */

import { HDKey } from '@scure/bip32';
import { coinType, type NetworkName, p2wpkhAddress } from './network.ts';

/** Account index (hardened) reserved for coordinator fee addresses. */
export const FEE_ACCOUNT = 2147483647;

const accountCache = new WeakMap<Uint8Array, Map<NetworkName, HDKey>>();

/** Returns the fee address of `index` (0 ≤ index < 2^31). */
export function feeAddressAt(seed: Uint8Array, network: NetworkName, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= 0x8000_0000) {
    throw new RangeError(`Invalid fee address index "${index}"`);
  }
  return p2wpkhAddress(feeChain(seed, network).deriveChild(index).publicKey!, network);
}

/** Public node m/84'/coin'/2147483647'/0, cached per seed object and network (hardened derivation is the slow part). */
function feeChain(seed: Uint8Array, network: NetworkName): HDKey {
  let perNetwork = accountCache.get(seed);
  if (perNetwork === undefined) {
    perNetwork = new Map();
    accountCache.set(seed, perNetwork);
  }
  let chain = perNetwork.get(network);
  if (chain === undefined) {
    const node = HDKey.fromMasterSeed(seed).derive(`m/84'/${coinType(network)}'/${FEE_ACCOUNT}'/0`);
    // Keep only the public half: addresses need no private key.
    chain = new HDKey({ publicKey: node.publicKey!, chainCode: node.chainCode! });
    perNetwork.set(network, chain);
  }
  return chain;
}
