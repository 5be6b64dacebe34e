import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { RawTx } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import {
  buildMixTx,
  legacyTxBytes,
  mixTxFee,
  setInputWitness,
  signedTxBytes,
} from '#coordinator/mix/mix_tx.ts';
import { addressToOutputScript, p2wpkhAddress } from '#shared/bitcoin/network.ts';
import { z85Decode, z85Encode } from '#shared/codec/z85.ts';

const D = 1_000_000;

function address(seed: number): string {
  const priv = new Uint8Array(32);
  priv[31] = seed;
  return p2wpkhAddress(secp256k1.getPublicKey(priv, true), 'regtest');
}

const ADDRESSES = [1, 2, 3, 4].map(address);
const INPUTS = [
  { txid: 'ff'.repeat(32), index: 0, value: D + 300 },
  { txid: '0a'.repeat(32), index: 7, value: D },
  { txid: '0a'.repeat(32), index: 2, value: D + 200 },
  { txid: '7c'.repeat(32), index: 1, value: D + 250 },
].map((i, k) => ({ ...i, scriptPubKey: addressToOutputScript(ADDRESSES[k]!, 'regtest') }));

describe('buildMixTx (spec §3.8)', () => {
  const mixTx = buildMixTx(INPUTS, ADDRESSES, D, 'regtest');
  const legacy = legacyTxBytes(mixTx);
  const decoded = RawTx.decode(legacy);

  it('is version 1, lock time 0, legacy serialisation without marker/flag or witnesses', () => {
    expect(decoded.version).toBe(1);
    expect(decoded.lockTime).toBe(0);
    expect(decoded.segwitFlag).toBe(false);
    expect(legacy[4]).not.toBe(0x00); // input count, not the segwit marker
    expect(bytesToHex(legacy.slice(0, 4))).toBe('01000000');
    expect(bytesToHex(legacy.slice(-4))).toBe('00000000');
  });

  it('sorts inputs BIP69 (txid hex ascending, then index) with empty scriptSig and final sequence', () => {
    const order = decoded.inputs.map((i) => `${bytesToHex(i.txid)}:${i.index}`);
    expect(order).toEqual([
      `${'0a'.repeat(32)}:2`,
      `${'0a'.repeat(32)}:7`,
      `${'7c'.repeat(32)}:1`,
      `${'ff'.repeat(32)}:0`,
    ]);
    for (const i of decoded.inputs) {
      expect(i.finalScriptSig.length).toBe(0);
      expect(i.sequence).toBe(0xffffffff);
    }
    expect(mixTx.inputs.map((i) => i.index)).toEqual([2, 7, 1, 0]);
  });

  it('has one output of the denomination per address, sorted by script bytes', () => {
    expect(decoded.outputs).toHaveLength(4);
    for (const o of decoded.outputs) expect(o.amount).toBe(BigInt(D));
    const scripts = decoded.outputs.map((o) => bytesToHex(o.script));
    expect(scripts).toEqual([...scripts].sort());
    expect(new Set(scripts)).toEqual(
      new Set(ADDRESSES.map((a) => bytesToHex(addressToOutputScript(a, 'regtest')))),
    );
  });

  it('round-trips through Z85 as the SIGNING notification carries it', () => {
    const text = z85Encode(legacy);
    expect(text.length).toBe(Math.ceil((legacy.length * 5) / 4));
    expect(bytesToHex(z85Decode(text))).toBe(bytesToHex(legacy));
  });

  it('has an implicit fee of Σ inputs − n × D', () => {
    expect(mixTxFee(mixTx, D)).toBe(750);
  });

  it('serialises witnesses once set (segwit form for broadcast)', () => {
    const again = buildMixTx(INPUTS, ADDRESSES, D, 'regtest');
    for (let i = 0; i < 4; i++)
      setInputWitness(again, i, [hexToBytes('3044'), hexToBytes('02'.padEnd(66, '1'))]);
    const full = RawTx.decode(signedTxBytes(again));
    expect(full.segwitFlag).toBe(true);
    expect(full.witnesses?.[0]?.map(bytesToHex)).toEqual(['3044', '02'.padEnd(66, '1')]);
  });

  it('refuses an address of another network', () => {
    const mainnet = 'bc1q8y8kmztxm3tjqn7qy58d8d4qr9xc55knh0cywm';
    expect(() => buildMixTx(INPUTS.slice(0, 1), [mainnet], D, 'regtest')).toThrow();
  });
});
