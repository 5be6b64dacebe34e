import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import {
  addressToOutputScript,
  btcNetwork,
  coinType,
  networkId,
  outputScriptToAddress,
  p2wpkhAddress,
} from '#shared/bitcoin/network.ts';
import { DecodeError } from '#shared/errors.ts';

// Key of spec §8.3 / §8.8.
const PUB = hexToBytes('02631b285dbecd7ef9d1445bfd88e99d3f9699a45d05b749b3a1a699dfc3bdfb26');
const SCRIPT = '0014390f6d8966dc57204fc0250ed3b6a0194d8a52d3';

describe('network parameters', () => {
  it('uses bc / tb / tb / bcrt prefixes', () => {
    expect(btcNetwork('mainnet')).toEqual({ bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, wif: 0x80 });
    expect(btcNetwork('testnet')).toEqual({ bech32: 'tb', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef });
    expect(btcNetwork('signet').bech32).toBe('tb');
    expect(btcNetwork('regtest')).toEqual({ bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef });
  });

  it('maps wire networkId and coin type', () => {
    expect(networkId('mainnet')).toBe('main');
    expect(networkId('testnet')).toBe('test');
    expect(networkId('signet')).toBe('signet');
    expect(networkId('regtest')).toBe('regtest');
    expect(coinType('mainnet')).toBe(0);
    expect(coinType('testnet')).toBe(1);
    expect(coinType('signet')).toBe(1);
    expect(coinType('regtest')).toBe(1);
  });

  it('rejects an unknown network name', () => {
    expect(() => btcNetwork('bogus' as never)).toThrow(RangeError);
  });
});

describe('addresses', () => {
  it('derives the P2WPKH address of spec §8.8 on every network', () => {
    expect(p2wpkhAddress(PUB, 'testnet')).toBe('tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g');
    expect(p2wpkhAddress(PUB, 'mainnet')).toBe('bc1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knh0cywm');
    expect(p2wpkhAddress(PUB, 'regtest')).toMatch(/^bcrt1q/);
  });

  it('converts address ↔ output script', () => {
    expect(bytesToHex(addressToOutputScript('tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g', 'testnet'))).toBe(
      SCRIPT,
    );
    expect(outputScriptToAddress(hexToBytes(SCRIPT), 'mainnet')).toBe(
      'bc1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knh0cywm',
    );
    const regtest = p2wpkhAddress(PUB, 'regtest');
    expect(bytesToHex(addressToOutputScript(regtest, 'regtest'))).toBe(SCRIPT);
    expect(outputScriptToAddress(hexToBytes(SCRIPT), 'regtest')).toBe(regtest);
  });

  it('handles legacy P2PKH and P2SH addresses', () => {
    const p2pkh = '1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH'; // hash160 of the generator point's compressed key
    const script = addressToOutputScript(p2pkh, 'mainnet');
    expect(bytesToHex(script)).toBe('76a914751e76e8199196d454941c45d1b3a323f1433bd688ac');
    expect(outputScriptToAddress(script, 'mainnet')).toBe(p2pkh);
    const p2sh = outputScriptToAddress(hexToBytes('a914' + '00'.repeat(20) + '87'), 'testnet');
    expect(p2sh).toMatch(/^2/);
  });

  it('throws DecodeError on garbage or wrong-network addresses', () => {
    expect(() => addressToOutputScript('not an address', 'mainnet')).toThrow(DecodeError);
    expect(() => addressToOutputScript('tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4g', 'mainnet')).toThrow(
      DecodeError,
    );
    expect(() => addressToOutputScript('bc1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knh0cywm', 'regtest')).toThrow(
      DecodeError,
    );
    expect(() => addressToOutputScript('tb1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knafrh4h', 'testnet')).toThrow(
      DecodeError,
    );
  });

  it('returns null for scripts without an address', () => {
    expect(outputScriptToAddress(hexToBytes('6a0400000001'), 'mainnet')).toBeNull();
    expect(outputScriptToAddress(hexToBytes('ff'), 'mainnet')).toBeNull();
    expect(outputScriptToAddress(new Uint8Array(0), 'mainnet')).toBeNull();
  });
});
