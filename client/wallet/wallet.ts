/**
 * Whirlpool wallet: a BIP39 mnemonic (+ passphrase) and the four BIP84
 * accounts the Java client uses (spec §4.4): DEPOSIT 0', BADBANK
 * 2147483644', PREMIX 2147483645', POSTMIX 2147483646', each with a receive
 * (0) and change (1) chain, index counters, and key lookup by address.
 * Derivation is lazy and memoised, so simulated wallets stay cheap.
 *
 * @module
 */
import { HDKey } from '@scure/bip32';
import { generateMnemonic, mnemonicToSeedSync, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { addressToOutputScript, coinType, type NetworkName, p2wpkhAddress } from '#shared/bitcoin/network.ts';
import { userPreHash } from '#shared/protocol/user_hash.ts';
import { IndexCounter, type IndexCounterState, type IndexParity } from './index_counter.ts';

/** BIP84 account numbers (hardened) of the Whirlpool accounts. */
export const ACCOUNTS = {
  deposit: 0,
  badbank: 2147483644,
  premix: 2147483645,
  postmix: 2147483646,
} as const;

/** Name of a Whirlpool account. */
export type AccountName = keyof typeof ACCOUNTS;
/** BIP84 chain: 0 receive, 1 change. */
export type Chain = 0 | 1;

/** A derived P2WPKH key of the wallet. */
export interface WalletKey {
  account: AccountName;
  chain: Chain;
  index: number;
  /** Derivation path, e.g. `m/84'/1'/2147483645'/0/3`. */
  path: string;
  address: string;
  /** P2WPKH output script (`0014…`). */
  script: Uint8Array;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** Persisted counters of a wallet (`account/chain` → state). */
export type WalletState = Partial<Record<`${AccountName}/${Chain}`, IndexCounterState>>;

/** Options of {@link Wallet.fromMnemonic}. */
export interface WalletOptions {
  passphrase?: string;
  network: NetworkName;
  /** Counter state restored from a previous run. */
  state?: WalletState;
  /** Parity of postmix receive indices: `even` like the CLI (default), `odd` like Android, or `any`. */
  postmixParity?: IndexParity;
}

/** One BIP84 account of the wallet (m/84'/coin'/account'). */
export class WalletAccount {
  readonly name: AccountName;
  readonly #wallet: Wallet;
  readonly #node: HDKey;
  readonly #chains: [HDKey | null, HDKey | null] = [null, null];
  readonly #counters: [IndexCounter, IndexCounter];

  constructor(wallet: Wallet, name: AccountName, node: HDKey, counters: [IndexCounter, IndexCounter]) {
    this.#wallet = wallet;
    this.name = name;
    this.#node = node;
    this.#counters = counters;
  }

  /** Account extended public key (BIP32 `xpub`/`tpub` serialization). */
  get xpub(): string {
    return this.#node.publicExtendedKey;
  }

  /** Index counter of a chain. */
  counter(chain: Chain): IndexCounter {
    return this.#counters[chain];
  }

  /** Derives (memoised by the wallet) the key at `chain/index`. */
  key(chain: Chain, index: number): WalletKey {
    const path = `${this.#wallet.accountPath(this.name)}/${chain}/${index}`;
    const cached = this.#wallet.keyByPath(path);
    if (cached) return cached;
    let chainNode = this.#chains[chain];
    if (!chainNode) {
      chainNode = this.#node.deriveChild(chain);
      this.#chains[chain] = chainNode;
    }
    const child = chainNode.deriveChild(index);
    if (!child.privateKey || !child.publicKey) throw new Error(`Key ${path} has no private key`);
    const address = p2wpkhAddress(child.publicKey, this.#wallet.network);
    const key: WalletKey = {
      account: this.name,
      chain,
      index,
      path,
      address,
      script: addressToOutputScript(address, this.#wallet.network),
      publicKey: child.publicKey,
      privateKey: child.privateKey,
    };
    this.#wallet.remember(key);
    return key;
  }

  /** Reserves the next index of `chain` (see {@link IndexCounter.reserve}) and returns its key. */
  reserveKey(chain: Chain): WalletKey {
    return this.key(chain, this.#counters[chain].reserve());
  }

  /** Takes (reserves and confirms) the next index of `chain` and returns its key. */
  nextKey(chain: Chain): WalletKey {
    return this.key(chain, this.#counters[chain].take());
  }
}

/** A BIP39/BIP84 Whirlpool wallet. Never logs or serializes the mnemonic. */
export class Wallet {
  readonly network: NetworkName;
  readonly #root: HDKey;
  readonly #accounts = new Map<AccountName, WalletAccount>();
  readonly #byAddress = new Map<string, WalletKey>();
  readonly #byPath = new Map<string, WalletKey>();
  readonly #state: WalletState;
  readonly #postmixParity: IndexParity;

  private constructor(root: HDKey, opts: WalletOptions) {
    this.#root = root;
    this.network = opts.network;
    this.#state = opts.state ?? {};
    this.#postmixParity = opts.postmixParity ?? 'even';
  }

  /** Generates a new English BIP39 mnemonic (default 12 words). */
  static generateMnemonic(strength: 128 | 256 = 128): string {
    return generateMnemonic(wordlist, strength);
  }

  /** Returns whether `mnemonic` is a valid English BIP39 mnemonic. */
  static isValidMnemonic(mnemonic: string): boolean {
    return validateMnemonic(normalizeMnemonic(mnemonic), wordlist);
  }

  /** Opens the wallet of a mnemonic. Throws on an invalid mnemonic (without echoing it). */
  static fromMnemonic(mnemonic: string, opts: WalletOptions): Wallet {
    const words = normalizeMnemonic(mnemonic);
    if (!validateMnemonic(words, wordlist)) {
      throw new Error(`Invalid BIP39 mnemonic (${words.split(' ').length} words, bad word or checksum)`);
    }
    return Wallet.fromSeed(mnemonicToSeedSync(words, opts.passphrase ?? ''), opts);
  }

  /** Opens the wallet of a BIP39 seed. */
  static fromSeed(seed: Uint8Array, opts: WalletOptions): Wallet {
    return new Wallet(HDKey.fromMasterSeed(seed), opts);
  }

  /** `m/84'/coin'/account'` of a named account. */
  accountPath(name: AccountName): string {
    return `m/84'/${coinType(this.network)}'/${ACCOUNTS[name]}'`;
  }

  /** One of the four accounts. */
  account(name: AccountName): WalletAccount {
    let acc = this.#accounts.get(name);
    if (!acc) {
      const node = this.#root.derive(this.accountPath(name));
      const counters: [IndexCounter, IndexCounter] = [
        new IndexCounter({
          next: this.#state[`${name}/0`]?.next ?? 0,
          parity: name === 'postmix' ? this.#postmixParity : 'any',
        }),
        new IndexCounter({ next: this.#state[`${name}/1`]?.next ?? 0 }),
      ];
      acc = new WalletAccount(this, name, node, counters);
      this.#accounts.set(name, acc);
    }
    return acc;
  }

  /**
   * The wallet key of `address`, or null. Looks in keys derived so far, then
   * derives `gap` indices beyond each chain's counter of every account.
   */
  keyForAddress(address: string, gap = 20): WalletKey | null {
    const known = this.#byAddress.get(address);
    if (known) return known;
    this.deriveAhead(gap);
    return this.#byAddress.get(address) ?? null;
  }

  /** Derives every index below `counter.next + gap` on both chains of all accounts (for lookups and scans). */
  deriveAhead(gap: number): void {
    for (const name of Object.keys(ACCOUNTS) as AccountName[]) {
      const acc = this.account(name);
      for (const chain of [0, 1] as const) {
        const end = acc.counter(chain).next + gap;
        for (let i = 0; i < end; i++) acc.key(chain, i);
      }
    }
  }

  /** Keys derived so far (for UTXO scans). */
  knownKeys(): WalletKey[] {
    return [...this.#byAddress.values()];
  }

  /** userPreHash input: the address of PREMIX chain 0 index 0 (spec §4.4). */
  premixAddress0(): string {
    return this.account('premix').key(0, 0).address;
  }

  /** Lowercase hex SHA-256 of the premix address 0 (spec §4.4), identical for all UTXOs of this wallet. */
  userPreHash(): string {
    return userPreHash(this.premixAddress0());
  }

  /** Counter state to persist (indices only, no secrets). */
  exportState(): WalletState {
    const out: WalletState = { ...this.#state };
    for (const [name, acc] of this.#accounts) {
      out[`${name}/0`] = acc.counter(0).toJSON();
      out[`${name}/1`] = acc.counter(1).toJSON();
    }
    return out;
  }

  /** @internal memoises a derived key. */
  remember(key: WalletKey): void {
    this.#byAddress.set(key.address, key);
    this.#byPath.set(key.path, key);
  }

  /** @internal */
  keyByPath(path: string): WalletKey | undefined {
    return this.#byPath.get(path);
  }
}

/** Lower-cases and collapses whitespace (NFKD is applied by @scure/bip39). */
function normalizeMnemonic(mnemonic: string): string {
  return mnemonic.trim().toLowerCase().split(/\s+/).join(' ');
}
