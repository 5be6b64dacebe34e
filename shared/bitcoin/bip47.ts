/**
 * The BIP47 helpers Whirlpool needs (spec §4.6.3): the coordinator's payment
 * code from m/47'/coin'/account', its notification key (child 0), and the
 * notification public key of a payment code (client side of the XorMask).
 * Hand-written on @scure/bip32: the only npm BIP47 package
 * (@samouraiwallet/bip47) depends on a tiny-secp256k1-style ecc object and a
 * fork of bip32, for a few lines of code here.
 *
 * @module
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from '@noble/hashes/utils.js';
import { createBase58check } from '@scure/base';
import { HDKey } from '@scure/bip32';
import { DecodeError } from '../errors.ts';
import { coinType, type NetworkName } from './network.ts';

/** A BIP47 account: payment code and notification key pair. */
export interface Bip47Account {
  /** Base58check payment code (`PM8T…`). */
  paymentCode: string;
  /** Private key of m/47'/coin'/account'/0 (unmasks Tx0 fee payloads). */
  notificationPrivKey: Uint8Array;
  /** Compressed public key of m/47'/coin'/account'/0. */
  notificationPubKey: Uint8Array;
}

const PAYMENT_CODE_PREFIX = 0x47;
const PAYMENT_CODE_VERSION = 0x01;
const base58check = createBase58check(sha256);

/** Derives the BIP47 account m/47'/coin'/account' (default 0) of a BIP39 seed. */
export function bip47AccountFromSeed(seed: Uint8Array, network: NetworkName, account = 0): Bip47Account {
  if (!Number.isInteger(account) || account < 0 || account >= 0x8000_0000) {
    throw new RangeError(`Invalid BIP47 account "${account}"`);
  }
  const node = HDKey.fromMasterSeed(seed).derive(`m/47'/${coinType(network)}'/${account}'`);
  const notification = node.deriveChild(0);
  return {
    paymentCode: encodePaymentCode(node.publicKey!, node.chainCode!),
    notificationPrivKey: notification.privateKey!,
    notificationPubKey: notification.publicKey!,
  };
}

/**
 * Returns the notification public key (non-hardened child 0) of a payment
 * code. Throws {@link DecodeError} (codec `bip47`) on a malformed code.
 */
export function notificationPubKeyFromPaymentCode(paymentCode: string): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = base58check.decode(paymentCode);
  } catch (err) {
    throw new DecodeError('bip47', `Invalid payment code "${paymentCode}"`, { cause: err });
  }
  if (raw.length !== 81 || raw[0] !== PAYMENT_CODE_PREFIX) {
    throw new DecodeError('bip47', `Invalid payment code "${paymentCode}": wrong length or prefix`);
  }
  const version = raw[1]!;
  if (version !== 0x01 && version !== 0x02) {
    throw new DecodeError('bip47', `Unsupported payment code version ${version}`);
  }
  const publicKey = raw.slice(3, 36);
  const chainCode = raw.slice(36, 68);
  try {
    return new HDKey({ publicKey, chainCode }).deriveChild(0).publicKey!;
  } catch (err) {
    throw new DecodeError('bip47', `Invalid payment code public key in "${paymentCode}"`, { cause: err });
  }
}

function encodePaymentCode(publicKey: Uint8Array, chainCode: Uint8Array): string {
  const payload = concatBytes(
    Uint8Array.of(PAYMENT_CODE_VERSION, 0x00), // version 1, no features
    publicKey, // 33 bytes: sign ‖ x
    chainCode, // 32 bytes
    new Uint8Array(13),
  );
  return base58check.encode(concatBytes(Uint8Array.of(PAYMENT_CODE_PREFIX), payload));
}
