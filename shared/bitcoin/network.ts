/**
 * Bitcoin network parameters and address ↔ output-script helpers for the four
 * networks Whirlpool runs on (mainnet `bc`, testnet and signet `tb`, regtest
 * `bcrt`). Thin wrappers over @scure/btc-signer that add the regtest network
 * (not built in) and map errors to {@link DecodeError}.
 *
 * @module
 */

import { Address, NETWORK, OutScript, p2wpkh, TEST_NETWORK } from '@scure/btc-signer';
import { DecodeError } from '../errors.ts';

/** The networks a coordinator or client can run on. */
export type NetworkName = 'mainnet' | 'testnet' | 'signet' | 'regtest';

/** Network parameters in the shape @scure/btc-signer expects. */
export interface BtcNetwork {
  bech32: string;
  pubKeyHash: number;
  scriptHash: number;
  wif: number;
}

const NETWORKS: Readonly<Record<NetworkName, Readonly<BtcNetwork>>> = Object.freeze({
  mainnet: Object.freeze({ ...NETWORK }),
  testnet: Object.freeze({ ...TEST_NETWORK }),
  signet: Object.freeze({ ...TEST_NETWORK }),
  regtest: Object.freeze({ bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef }),
});

/** Returns the @scure/btc-signer network object of a network. */
export function btcNetwork(name: NetworkName): BtcNetwork {
  const net = NETWORKS[name];
  if (net === undefined) throw new RangeError(`Unknown network "${String(name)}"`);
  return net;
}

/** Returns the wire `networkId` of a network (bitcoinj payment-protocol id, spec §1.1). */
export function networkId(name: NetworkName): 'main' | 'test' | 'signet' | 'regtest' {
  switch (name) {
    case 'mainnet':
      return 'main';
    case 'testnet':
      return 'test';
    case 'signet':
      return 'signet';
    case 'regtest':
      return 'regtest';
    default:
      throw new RangeError(`Unknown network "${String(name)}"`);
  }
}

/** Returns the BIP44 coin type of a network: 0 on mainnet, 1 on every test network. */
export function coinType(name: NetworkName): 0 | 1 {
  btcNetwork(name);
  return name === 'mainnet' ? 0 : 1;
}

/**
 * Returns the output script paying `address` on `network`. Throws
 * {@link DecodeError} (codec `address`) on an invalid address or one of
 * another network.
 */
export function addressToOutputScript(address: string, network: NetworkName): Uint8Array {
  const net = btcNetwork(network);
  try {
    return OutScript.encode(Address(net).decode(address));
  } catch (err) {
    throw new DecodeError('address', `Invalid ${network} address "${address}"`, { cause: err });
  }
}

/**
 * Returns the address of an output script on `network`, or `null` when the
 * script has no address form (OP_RETURN, bare multisig, P2PK, non-standard).
 */
export function outputScriptToAddress(script: Uint8Array, network: NetworkName): string | null {
  const net = btcNetwork(network);
  try {
    return Address(net).encode(OutScript.decode(script));
  } catch {
    return null;
  }
}

/** Returns the P2WPKH (bech32) address of a 33-byte compressed public key. */
export function p2wpkhAddress(pubKey: Uint8Array, network: NetworkName): string {
  const address = p2wpkh(pubKey, btcNetwork(network)).address;
  if (address === undefined) throw new Error('p2wpkh produced no address');
  return address;
}
