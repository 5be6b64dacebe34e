import { describe, expect, it } from 'vitest';
import { isValidReceiveAddress } from '#coordinator/mix/receive_address.ts';

describe('isValidReceiveAddress (spec §3.6 step 1, §10.5)', () => {
  it('accepts a bech32 P2WPKH address of the network, any case', () => {
    expect(isValidReceiveAddress('tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g', 'testnet')).toBe(true);
    expect(isValidReceiveAddress('TB1Q8Y8KMZTXM3TJQN7QY58D8D4QR9XC55KNAFRH4G', 'testnet')).toBe(true);
    expect(isValidReceiveAddress('bc1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knh0cywm', 'mainnet')).toBe(true);
  });
  it('refuses an address of another network', () => {
    expect(isValidReceiveAddress('bc1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knh0cywm', 'testnet')).toBe(false);
    expect(isValidReceiveAddress('tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g', 'regtest')).toBe(false);
  });
  it('refuses base58 addresses, bad checksums and garbage', () => {
    expect(isValidReceiveAddress('mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn', 'testnet')).toBe(false);
    expect(isValidReceiveAddress('tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4h', 'testnet')).toBe(false);
    expect(isValidReceiveAddress('tb1', 'testnet')).toBe(false);
  });
});
