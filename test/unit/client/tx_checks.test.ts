/**
 * Pre-signing checks of the mix transaction (spec §4.11): an honest mix tx is
 * accepted, and every alteration a malicious coordinator could make is
 * refused with its own reason.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Transaction } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import { checkMixTx, type MixTxExpectation } from '#client/mix/tx_checks.ts';
import { sortInputsBip69, sortOutputsBip69 } from '#shared/bitcoin/bip69.ts';
import { addressToOutputScript, p2wpkhAddress } from '#shared/bitcoin/network.ts';
import { computeInputsHash } from '#shared/protocol/inputs_hash.ts';

const D = 1_000_000;

function randomTxid(): string {
  return bytesToHex(secp256k1.utils.randomSecretKey());
}
function randomAddress(): string {
  return p2wpkhAddress(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true), 'regtest');
}

interface Mix {
  inputs: Array<{ txid: string; index: number }>;
  outputs: Array<{ value: bigint; script: Uint8Array }>;
}

function serialize(m: Mix): Uint8Array {
  const tx = new Transaction({ version: 1, lockTime: 0, allowUnknownOutputs: true });
  for (const i of m.inputs) tx.addInput({ txid: i.txid, index: i.index, sequence: 0xffffffff });
  for (const o of m.outputs) tx.addOutput({ script: o.script, amount: o.value });
  return tx.unsignedTx;
}

function honest(): { mix: Mix; exp: MixTxExpectation } {
  const own = { txid: randomTxid(), vout: 2, value: D + 300 };
  const receiveAddress = randomAddress();
  const inputs = sortInputsBip69([
    { txid: own.txid, index: own.vout },
    ...Array.from({ length: 4 }, () => ({ txid: randomTxid(), index: 0 })),
  ]);
  const outputs = sortOutputsBip69([
    { value: BigInt(D), script: addressToOutputScript(receiveAddress, 'regtest') },
    ...Array.from({ length: 4 }, () => ({
      value: BigInt(D),
      script: addressToOutputScript(randomAddress(), 'regtest'),
    })),
  ]);
  return {
    mix: { inputs, outputs },
    exp: {
      network: 'regtest',
      inputsHash: computeInputsHash(inputs),
      denomination: D,
      utxo: own,
      liquidity: false,
      receiveAddress,
    },
  };
}

function ownOutputIndex(mix: Mix, exp: MixTxExpectation): number {
  const s = bytesToHex(addressToOutputScript(exp.receiveAddress, 'regtest'));
  return mix.outputs.findIndex((o) => bytesToHex(o.script) === s);
}

describe('checkMixTx (spec §4.11)', () => {
  it('accepts an honest mix transaction and locates the own input and output', () => {
    const { mix, exp } = honest();
    const r = checkMixTx(serialize(mix), exp);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(mix.inputs[r.inputIndex]).toEqual({ txid: exp.utxo.txid, index: exp.utxo.vout });
    expect(r.outputIndex).toBe(ownOutputIndex(mix, exp));
  });

  it('accepts a liquidity (remix) input paying no fee', () => {
    const { mix, exp } = honest();
    const r = checkMixTx(serialize(mix), { ...exp, liquidity: true, utxo: { ...exp.utxo, value: D } });
    expect(r.ok).toBe(true);
  });

  it('refuses a wrong output amount', () => {
    const { mix, exp } = honest();
    const other = mix.outputs.findIndex((_, i) => i !== ownOutputIndex(mix, exp));
    mix.outputs[other] = { ...mix.outputs[other]!, value: BigInt(D + 1) };
    expect(checkMixTx(serialize(mix), exp)).toMatchObject({ ok: false, code: 'OUTPUT_AMOUNT' });
  });

  it('refuses a lowered own output (fee stolen from a liquidity input)', () => {
    const { mix, exp } = honest();
    const own = ownOutputIndex(mix, exp);
    mix.outputs[own] = { ...mix.outputs[own]!, value: BigInt(D - 1000) };
    expect(
      checkMixTx(serialize(mix), { ...exp, liquidity: true, utxo: { ...exp.utxo, value: D } }),
    ).toMatchObject({
      ok: false,
      code: 'FEE_TOO_HIGH',
    });
  });

  it('refuses a transaction without the own output', () => {
    const { mix, exp } = honest();
    const own = ownOutputIndex(mix, exp);
    mix.outputs[own] = { value: BigInt(D), script: addressToOutputScript(randomAddress(), 'regtest') };
    expect(checkMixTx(serialize(mix), exp)).toMatchObject({ ok: false, code: 'OUTPUT_MISSING' });
  });

  it('refuses a transaction without the own input', () => {
    const { mix, exp } = honest();
    expect(checkMixTx(serialize(mix), { ...exp, utxo: { ...exp.utxo, vout: 7 } })).toMatchObject({
      ok: false,
      code: 'INPUT_MISSING',
    });
  });

  it('refuses two inputs from one previous transaction', () => {
    const { mix, exp } = honest();
    const others = mix.inputs.filter((i) => i.txid !== exp.utxo.txid);
    const victim = others[0]!;
    const replaced = mix.inputs.map((i) => (i === others[1] ? { txid: victim.txid, index: 1 } : i));
    const inputs = sortInputsBip69(replaced);
    const r = checkMixTx(serialize({ inputs, outputs: mix.outputs }), {
      ...exp,
      inputsHash: computeInputsHash(inputs),
    });
    expect(r).toMatchObject({ ok: false, code: 'PREV_TX_REUSE' });
  });

  it('refuses an inputsHash mismatch', () => {
    const { mix, exp } = honest();
    const inputs = mix.inputs.map((i) => (i.txid === exp.utxo.txid ? i : { ...i, index: i.index + 1 }));
    expect(checkMixTx(serialize({ inputs, outputs: mix.outputs }), exp)).toMatchObject({
      ok: false,
      code: 'INPUTS_HASH_MISMATCH',
    });
  });

  it('refuses a duplicate output address', () => {
    const { mix, exp } = honest();
    const own = ownOutputIndex(mix, exp);
    const other = mix.outputs.findIndex((_, i) => i !== own);
    mix.outputs[other] = { value: BigInt(D), script: mix.outputs[own]!.script };
    expect(checkMixTx(serialize(mix), exp)).toMatchObject({ ok: false, code: 'DUPLICATE_OUTPUT' });
  });

  it('refuses more outputs than inputs', () => {
    const { mix, exp } = honest();
    mix.outputs.push({ value: BigInt(D), script: addressToOutputScript(randomAddress(), 'regtest') });
    expect(checkMixTx(serialize(mix), exp)).toMatchObject({ ok: false, code: 'INPUT_OUTPUT_COUNT' });
  });

  it('refuses a must-mix input paying more than 100000 sats', () => {
    const { mix, exp } = honest();
    expect(checkMixTx(serialize(mix), { ...exp, utxo: { ...exp.utxo, value: D + 100_001 } })).toMatchObject({
      ok: false,
      code: 'FEE_TOO_HIGH',
    });
  });

  it('refuses garbage', () => {
    const { exp } = honest();
    expect(checkMixTx(Uint8Array.of(1, 2, 3), exp)).toMatchObject({ ok: false, code: 'MALFORMED_TX' });
  });
});
