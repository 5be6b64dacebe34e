/**
 * The coordinator's secret wallets (spec §4.6.3, addendum §4.6, §4.8): from
 * the BIP39 words and passphrases of the configuration,
 *
 * - the **V0** secret wallet (`WHIRLPOOL_SECRET_WALLET_*`, reference
 *   `secret-wallet-v0`): the seed whose fee accounts give the fee addresses
 *   (shared/bitcoin/fee_address.ts) and the BIP47 account whose payment code
 *   `GET /rest/tx0` and `POST /rest/tx0` hand out and whose notification key
 *   unmasks 64-byte OP_RETURNs;
 * - the **V1** secret wallet (`WHIRLPOOL_SECRET_WALLET_V1_*`, reference
 *   `secret-wallet`): the payment code of `POST /rest/tx0/v1` and the key that
 *   unmasks 80-byte OP_RETURNs — the V0 wallet when not configured;
 * - the optional **signing wallet** (`WHIRLPOOL_SIGNING_WALLET_*`): the key at
 *   m/44'/coin'/0'/0/0 that signs `feeOutputSignature`.
 *
 * @module
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { HDKey } from '@scure/bip32';
import { mnemonicToSeedSync } from '@scure/bip39';
import { type Bip47Account, bip47AccountFromSeed } from '#shared/bitcoin/bip47.ts';
import { coinType, type NetworkName } from '#shared/bitcoin/network.ts';
import { signingAddress } from '#shared/protocol/fee_output_signature.ts';

/** Keys derived from the secret wallet. All secret except `paymentCode`. */
export interface SecretWalletKeys {
  /** BIP39 seed (64 bytes): fee addresses at m/84'/coin'/(2147483647 − partner)'/0/x. */
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

/** Every key the coordinator derives from its wallets. */
export interface CoordinatorWallets {
  /** V0 wallet: fee addresses, V0 payment code, 64-byte OP_RETURN key. */
  v0: SecretWalletKeys;
  /** V1 BIP47 account (the V0 one when no V1 wallet is configured). */
  v1: Bip47Account;
  /** Signing key of `feeOutputSignature` and its P2PKH address, or null. Secret key. */
  signing: { privateKey: Uint8Array; address: string } | null;
}

/** Derives all wallets of the configuration (each PBKDF2 ~100 ms: once at startup). */
export function deriveCoordinatorWallets(
  c: {
    secretWalletWords: string;
    secretWalletPassphrase: string;
    secretWalletV1: { words: string; passphrase: string } | null;
    signingWallet: { words: string; passphrase: string } | null;
  },
  network: NetworkName,
): CoordinatorWallets {
  const v0 = deriveSecretWallet(c.secretWalletWords, c.secretWalletPassphrase, network);
  const v1 = c.secretWalletV1
    ? bip47AccountFromSeed(mnemonicToSeedSync(c.secretWalletV1.words, c.secretWalletV1.passphrase), network)
    : v0.bip47;
  let signing: CoordinatorWallets['signing'] = null;
  if (c.signingWallet) {
    const seed = mnemonicToSeedSync(c.signingWallet.words, c.signingWallet.passphrase);
    const privateKey = HDKey.fromMasterSeed(seed).derive(`m/44'/${coinType(network)}'/0'/0/0`).privateKey!;
    signing = { privateKey, address: signingAddress(secp256k1.getPublicKey(privateKey, true), network) };
  }
  return { v0, v1, signing };
}
