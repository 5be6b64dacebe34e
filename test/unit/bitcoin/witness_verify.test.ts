import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { p2wpkh, RawWitness, SigHash, Transaction } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import { verifyP2wpkhWitness } from '#shared/bitcoin/witness_verify.ts';
import { TX0_E11E81E6_HEX, TX0_E11E81E6_TXID } from '../protocol/vector_8_6.ts';

describe('verifyP2wpkhWitness', () => {
  it('accepts the real witness of the client test Tx0 e11e81e6… (spec §8.6)', () => {
    const tx = Transaction.fromRaw(hexToBytes(TX0_E11E81E6_HEX), { allowUnknownOutputs: true });
    expect(tx.id).toBe(TX0_E11E81E6_TXID);
    const witness = tx.getInput(0).finalScriptWitness!;
    const pub = witness[1]!;
    const script = p2wpkh(pub).script;
    expect(verifyP2wpkhWitness(tx, 0, script, 500000000n, witness)).toBe(true);
    expect(verifyP2wpkhWitness(tx, 0, script, 500000001n, witness)).toBe(false);
    expect(verifyP2wpkhWitness(tx, 1, script, 500000000n, witness)).toBe(false);
    const other = p2wpkh(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey())).script;
    expect(verifyP2wpkhWitness(tx, 0, other, 500000000n, witness)).toBe(false);
  });

  describe('on a freshly signed two-input transaction', () => {
    const keys = [secp256k1.utils.randomSecretKey(), secp256k1.utils.randomSecretKey()];
    const pubs = keys.map((k) => secp256k1.getPublicKey(k, true));
    const scripts = pubs.map((p) => p2wpkh(p).script);
    const amounts = [100_000n, 200_000n];
    const tx = new Transaction({ version: 1, lockTime: 0 });
    for (let i = 0; i < 2; i++) {
      tx.addInput({
        txid: new Uint8Array(32).fill(i + 1),
        index: i,
        sequence: 0xffffffff,
        witnessUtxo: { script: scripts[i]!, amount: amounts[i]! },
      });
    }
    tx.addOutput({ script: scripts[0]!, amount: 290_000n });
    tx.signIdx(keys[0]!, 0, [SigHash.ALL]);
    tx.signIdx(keys[1]!, 1, [SigHash.ALL]);
    tx.finalize();
    const witnesses = [0, 1].map((i) => tx.getInput(i).finalScriptWitness!);
    // A copy without witnesses, as the coordinator's unsigned mix tx.
    const unsigned = Transaction.fromRaw(tx.toBytes(true, false));

    it('accepts each input signature', () => {
      for (const i of [0, 1]) {
        expect(verifyP2wpkhWitness(unsigned, i, scripts[i]!, amounts[i]!, witnesses[i]!)).toBe(true);
      }
    });

    it('rejects a witness on the wrong input, a tampered signature, or another sighash type', () => {
      expect(verifyP2wpkhWitness(unsigned, 0, scripts[1]!, amounts[1]!, witnesses[1]!)).toBe(false);
      const sig = Uint8Array.from(witnesses[0]![0]!);
      sig[10]! ^= 1;
      expect(verifyP2wpkhWitness(unsigned, 0, scripts[0]!, amounts[0]!, [sig, pubs[0]!])).toBe(false);
      const anyone = Uint8Array.from(witnesses[0]![0]!);
      anyone[anyone.length - 1] = 0x81;
      expect(verifyP2wpkhWitness(unsigned, 0, scripts[0]!, amounts[0]!, [anyone, pubs[0]!])).toBe(false);
    });

    it('rejects a high-S signature', () => {
      const w = witnesses[0]!;
      const der = w[0]!.subarray(0, w[0]!.length - 1);
      const sig = secp256k1.Signature.fromBytes(der, 'der');
      const high = new secp256k1.Signature(sig.r, secp256k1.Point.CURVE().n - sig.s);
      const highDer = Uint8Array.from([...high.toBytes('der'), 0x01]);
      expect(verifyP2wpkhWitness(unsigned, 0, scripts[0]!, amounts[0]!, [highDer, pubs[0]!])).toBe(false);
    });

    it('never throws on garbage', () => {
      const bad: Uint8Array[][] = [
        [],
        [new Uint8Array(0)],
        [new Uint8Array(0), new Uint8Array(0)],
        [new Uint8Array(72).fill(0x30), pubs[0]!],
        [witnesses[0]![0]!, pubs[0]!, new Uint8Array(1)],
        [witnesses[0]![0]!, secp256k1.getPublicKey(keys[0]!, false)],
      ];
      for (const w of bad) expect(verifyP2wpkhWitness(unsigned, 0, scripts[0]!, amounts[0]!, w)).toBe(false);
      expect(verifyP2wpkhWitness(unsigned, 5, scripts[0]!, amounts[0]!, witnesses[0]!)).toBe(false);
      expect(verifyP2wpkhWitness(unsigned, -1, scripts[0]!, amounts[0]!, witnesses[0]!)).toBe(false);
      expect(verifyP2wpkhWitness(unsigned, 0, new Uint8Array(0), amounts[0]!, witnesses[0]!)).toBe(false);
      expect(RawWitness.decode(RawWitness.encode(witnesses[0]!))).toHaveLength(2);
    });
  });
});
