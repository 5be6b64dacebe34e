/**
 * The coordinator's secret wallet (spec §4.6.3): from the BIP39 words and
 * passphrase of the configuration, the seed whose dedicated account gives
 * the fee addresses (shared/bitcoin/fee_address.ts) and the BIP47 account
 * whose payment code clients use to mask Tx0 fee payloads.
 *
 * @module
 */
import { mnemonicToSeedSync } from '@scure/bip39';
import { type Bip47Account, bip47AccountFromSeed } from '#shared/bitcoin/bip47.ts';
import type { NetworkName } from '#shared/bitcoin/network.ts';

/** Keys derived from the secret wallet. All secret except `paymentCode`. */
export interface SecretWalletKeys {
  /** BIP39 seed (64 bytes): fee addresses at m/84'/coin'/2147483647'/0/x. */
  feeAddressSeed: Uint8Array;
  /** BIP47 account 0: payment code and notification key m/47'/coin'/0'/0. */
  bip47: Bip47Account;
}

/** Derives the secret wallet keys (PBKDF2, ~100 ms: call once at startup). */
export function deriveSecretWallet(
  words: string,
  passphrase: string,
  network: NetworkName,
): SecretWalletKeys {
  const seed = mnemonicToSeedSync(words, passphrase);
  return { feeAddressSeed: seed, bip47: bip47AccountFromSeed(seed, network) };
}
