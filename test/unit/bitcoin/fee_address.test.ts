import { HDKey } from '@scure/bip32';
import { mnemonicToSeedSync } from '@scure/bip39';
import { describe, expect, it } from 'vitest';
import { FEE_ACCOUNT, feeAddressAt } from '#shared/bitcoin/fee_address.ts';
import { p2wpkhAddress } from '#shared/bitcoin/network.ts';

const SEED = mnemonicToSeedSync('all all all all all all all all all all all all', 'whirlpool');

describe('feeAddressAt', () => {
  it("is the P2WPKH address of m/84'/coin'/2147483647'/0/index", () => {
    const root = HDKey.fromMasterSeed(SEED);
    for (const index of [0, 1, 11, 643, 2 ** 31 - 1]) {
      const testnet = root.derive(`m/84'/1'/${FEE_ACCOUNT}'/0/${index}`);
      expect(feeAddressAt(SEED, 'testnet', index)).toBe(p2wpkhAddress(testnet.publicKey!, 'testnet'));
      const mainnet = root.derive(`m/84'/0'/${FEE_ACCOUNT}'/0/${index}`);
      expect(feeAddressAt(SEED, 'mainnet', index)).toBe(p2wpkhAddress(mainnet.publicKey!, 'mainnet'));
    }
    expect(feeAddressAt(SEED, 'regtest', 3)).toMatch(/^bcrt1q/);
    expect(FEE_ACCOUNT).toBe(2147483647);
  });

  it('gives distinct addresses per index and per seed', () => {
    const a = new Set([0, 1, 2, 3].map((i) => feeAddressAt(SEED, 'testnet', i)));
    expect(a.size).toBe(4);
    const other = mnemonicToSeedSync('all all all all all all all all all all all all', 'other');
    expect(feeAddressAt(other, 'testnet', 0)).not.toBe(feeAddressAt(SEED, 'testnet', 0));
  });

  it('rejects invalid indexes', () => {
    for (const i of [-1, 1.5, 2 ** 31, Number.NaN])
      expect(() => feeAddressAt(SEED, 'testnet', i)).toThrow(RangeError);
  });

  it('reproduces the legacy P2WPKH derivation vectors xpub/0/x (spec §8.5)', () => {
    // Same derivation step (non-hardened receive chain, P2WPKH bech32) from the legacy vpub.
    const vpub =
      'vpub5YS8pQgZKVbrSn9wtrmydDWmWMjHrxL2mBCZ81BDp7Z2QyCgTLZCrnBprufuoUJaQu1ZeiRvUkvdQTNqV6hS96WbbVZgweFxYR1RXYkBcKt';
    const node = HDKey.fromExtendedKey(vpub, { public: 0x045f1cf6, private: 0x045f18bc });
    const expected = [
      'tb1qz84ma37y3d759sdy7mvq3u4vsxlg2qahw3lm23',
      'tb1qk20n7cpza4eakn0vqyfwskdgpwwwy29l5ek93w',
      'tb1qs394xtk0cx8ls9laymdn3scdrss3c2c20gttdx',
    ];
    for (const [i, address] of expected.entries()) {
      expect(p2wpkhAddress(node.deriveChild(0).deriveChild(i + 1).publicKey!, 'testnet')).toBe(address);
    }
  });
});
