/**
 * Syntax check of a receive (postmix) address at REGISTER_OUTPUT (spec §3.6
 * step 1): a bech32 segwit address. Unlike the reference, which accepts any
 * `bc`/`tb` address and breaks later when building the transaction, an address
 * of another network is refused here too, as spec §10.5 recommends.
 *
 * @module
 */
import { addressToOutputScript, btcNetwork, type NetworkName } from '#shared/bitcoin/network.ts';

/** True when `address` is a bech32/bech32m segwit address of `network`. */
export function isValidReceiveAddress(address: string, network: NetworkName): boolean {
  if (!address.toLowerCase().startsWith(`${btcNetwork(network).bech32}1`)) return false;
  let script: Uint8Array;
  try {
    script = addressToOutputScript(address, network);
  } catch {
    return false;
  }
  const version = script[0];
  return version === 0x00 || (version !== undefined && version >= 0x51 && version <= 0x60);
}
