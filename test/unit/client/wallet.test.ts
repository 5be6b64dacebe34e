/** Wallet accounts (spec §4.4), index counters (§4.10) and userHash (§8.10). */
import { describe, expect, it } from 'vitest';
import { IndexCounter } from '#client/wallet/index_counter.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { userHash } from '#shared/protocol/user_hash.ts';

const ALL = 'all all all all all all all all all all all all';

describe('Wallet', () => {
  const w = Wallet.fromMnemonic(ALL, { passphrase: 'whirlpool', network: 'testnet' });

  it('uses the four BIP84 accounts of the Java client', () => {
    expect(w.accountPath('deposit')).toBe("m/84'/1'/0'");
    expect(w.accountPath('badbank')).toBe("m/84'/1'/2147483644'");
    expect(w.accountPath('premix')).toBe("m/84'/1'/2147483645'");
    expect(w.accountPath('postmix')).toBe("m/84'/1'/2147483646'");
    const main = Wallet.fromMnemonic(ALL, { network: 'mainnet' });
    expect(main.accountPath('postmix')).toBe("m/84'/0'/2147483646'");
    expect(main.account('deposit').key(0, 0).address.startsWith('bc1q')).toBe(true);
  });

  it("derives the keys of the §8.6 Tx0 (input m/84'/1'/0'/0/61, pubkey 0349baf1…)", () => {
    const k = w.account('deposit').key(0, 61);
    expect(k.path).toBe("m/84'/1'/0'/0/61");
    expect(Buffer.from(k.publicKey).toString('hex')).toBe(
      '0349baf197181fe53937d225d0e7bd14d8b5f921813c038a95d7c2648500c119b0',
    );
  });

  it('finds keys by address, also beyond the derived range within the gap', () => {
    const fresh = Wallet.fromMnemonic(ALL, { passphrase: 'whirlpool', network: 'testnet' });
    const addr = w.account('postmix').key(1, 17).address;
    expect(fresh.keyForAddress(addr)?.path).toBe("m/84'/1'/2147483646'/1/17");
    expect(fresh.keyForAddress('tb1qz84ma37y3d759sdy7mvq3u4vsxlg2qahw3lm23', 5)).toBeNull();
  });

  it('refuses an invalid mnemonic without echoing it', () => {
    expect(() => Wallet.fromMnemonic('all all all', { network: 'testnet' })).toThrow(
      /^Invalid BIP39 mnemonic \(3 words/,
    );
    try {
      Wallet.fromMnemonic('zebra secretword all', { network: 'testnet' });
    } catch (err) {
      expect((err as Error).message).not.toContain('secretword');
    }
  });

  it('generates valid mnemonics', () => {
    expect(Wallet.isValidMnemonic(Wallet.generateMnemonic())).toBe(true);
    expect(Wallet.generateMnemonic(256).split(' ')).toHaveLength(24);
  });

  it('hands out even postmix receive indices by default and persists counters', () => {
    const x = Wallet.fromMnemonic(ALL, { network: 'regtest' });
    const pm = x.account('postmix');
    expect(pm.reserveKey(0).index).toBe(0);
    expect(pm.reserveKey(0).index).toBe(2);
    pm.counter(0).confirm(2);
    expect(x.exportState()['postmix/0']).toEqual({ next: 3 });
    const y = Wallet.fromMnemonic(ALL, { network: 'regtest', state: x.exportState() });
    expect(y.account('postmix').reserveKey(0).index).toBe(4);
  });
});

describe('IndexCounter (spec §4.10)', () => {
  it('confirms on registerOutput and never hands the index out again', () => {
    const c = new IndexCounter();
    const a = c.reserve();
    c.confirm(a);
    c.release(a);
    expect(c.reserve()).toBe(a + 1);
  });
  it('releases an index reset before REGISTER_OUTPUT', () => {
    const c = new IndexCounter();
    const a = c.reserve();
    const b = c.reserve();
    expect(b).toBe(a + 1);
    c.release(a);
    expect(c.reserve()).toBe(a);
  });
  it('honours parity', () => {
    const odd = new IndexCounter({ parity: 'odd' });
    expect([odd.take(), odd.take(), odd.take()]).toEqual([1, 3, 5]);
  });
});

describe('userHash (spec §8.10)', () => {
  it('hashes the premix address 0 and salts it with the mixId', () => {
    const pre = '112870dcea3c8b85148fd586d7c68685fe0aee7da2fa12238ba13537097d9b71';
    expect(userHash('c5cd0d1b6ba84c37a1bd1e6d1b1f2a5a', pre)).toBe(
      '1f357ff4f81eb756292e05e6fd9e766c2d549509d1aff6aef55a0e09b92af30d',
    );
  });
  it('wallet.userPreHash() is SHA-256 of its premix address 0', async () => {
    const { userPreHash } = await import('#shared/protocol/user_hash.ts');
    const w = Wallet.fromMnemonic(ALL, { network: 'testnet' });
    expect(w.userPreHash()).toBe(userPreHash(w.account('premix').key(0, 0).address));
    expect(userPreHash('tb1qkgv4ljdkthdse8kscwvj9tuvysuqlkcr4mp957')).toBe(
      '112870dcea3c8b85148fd586d7c68685fe0aee7da2fa12238ba13537097d9b71',
    );
  });
});
