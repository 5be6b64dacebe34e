import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { HDKey } from '@scure/bip32';
import { mnemonicToSeedSync } from '@scure/bip39';
import { RawTx, Transaction } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import { bip47AccountFromSeed, notificationPubKeyFromPaymentCode } from '#shared/bitcoin/bip47.ts';
import { encodeFeePayload } from '#shared/protocol/fee_payload.ts';
import {
  decodeTx0FeeData,
  decodeTx0FeeDataFromTx,
  findOpReturnPayload,
  input0PublicKey,
} from '#shared/protocol/tx0_fee_data.ts';
import { ecdhSharedX, serializeOutpoint, xorMask } from '#shared/protocol/xor_mask.ts';
import {
  SECRET_WALLET_NOTIFICATION_PRIV,
  TX0_B3557587_HEX,
  TX0_B3557587_TXID,
  TX0_E11E81E6_HEX,
  TX0_E11E81E6_TXID,
} from './vector_8_6.ts';

const PRIV = hexToBytes(SECRET_WALLET_NOTIFICATION_PRIV);

function parse(hex: string): Transaction {
  return Transaction.fromRaw(hexToBytes(hex), { allowUnknownOutputs: true });
}

describe('Tx0 fee data (spec §8.6)', () => {
  it('decodes b3557587… to feeIndice 11, payload 3039', () => {
    const tx = parse(TX0_B3557587_HEX);
    expect(tx.id).toBe(TX0_B3557587_TXID);
    expect(bytesToHex(input0PublicKey(tx)!)).toBe(
      '025fb5f55491ca63611977e2e2b6d70fc4121400a441d8c3ba58b4c96c14d71e0a',
    );
    expect(bytesToHex(ecdhSharedX(PRIV, input0PublicKey(tx)!))).toBe(
      'e306a44bb3d8e8cc18a80f2b8b20c90044328d5f63257173cc1c7a2a11784b73',
    );
    const fee = decodeTx0FeeData(TX0_B3557587_HEX, PRIV)!;
    expect(fee.feeVersion).toBe(1);
    expect(fee.feeIndice).toBe(11);
    expect(bytesToHex(fee.scodePayload!)).toBe('3039');
    expect(fee.feePartner).toBe(0);
  });

  it('decodes the client test Tx0 e11e81e6… to feeIndice 0, payload 0102', () => {
    const tx = parse(TX0_E11E81E6_HEX);
    expect(tx.id).toBe(TX0_E11E81E6_TXID);
    const pub = input0PublicKey(tx)!;
    expect(bytesToHex(pub)).toBe('0349baf197181fe53937d225d0e7bd14d8b5f921813c038a95d7c2648500c119b0');
    const x = ecdhSharedX(PRIV, pub);
    expect(bytesToHex(x)).toBe('7e789a246a49435aa96626567518b63020fc33151825ecc5419d177069149d09');
    const outpoint = serializeOutpoint('cc588cdcb368f894a41c372d1f905770b61ecb3fb8e5e01a97e7cedbf5e324ae', 1);
    expect(bytesToHex(xorMask(new Uint8Array(64), x, outpoint))).toBe(
      '9ae7649a7b1fc9ab17f408cbf7b41e27f3a5484650aafdf5167852bd348afa8aa8213dda856188683ab187a902923e7ec3b672a6fbb637a4063c71879f685917',
    );
    const fee = decodeTx0FeeData(hexToBytes(TX0_E11E81E6_HEX), PRIV)!;
    expect(fee.feeIndice).toBe(0);
    expect(bytesToHex(fee.scodePayload!)).toBe('0102');
    expect(decodeTx0FeeDataFromTx(tx, PRIV)).toEqual(fee);
  });

  it('reproduces the e11e81e6… OP_RETURN from the client side (input key × payment code)', () => {
    const seed = mnemonicToSeedSync('all all all all all all all all all all all all', 'whirlpool');
    const inputKey = HDKey.fromMasterSeed(seed).derive("m/84'/1'/0'/0/61");
    const tx = parse(TX0_E11E81E6_HEX);
    expect(bytesToHex(inputKey.publicKey!)).toBe(bytesToHex(input0PublicKey(tx)!));
    const paymentCode = bip47AccountFromSeed(seed, 'testnet').paymentCode;
    const x = ecdhSharedX(inputKey.privateKey!, notificationPubKeyFromPaymentCode(paymentCode));
    const outpoint = serializeOutpoint('cc588cdcb368f894a41c372d1f905770b61ecb3fb8e5e01a97e7cedbf5e324ae', 1);
    const plain = encodeFeePayload({ feeIndice: 0, scodePayload: hexToBytes('0102') });
    expect(bytesToHex(xorMask(plain, x, outpoint))).toBe(bytesToHex(findOpReturnPayload(tx)!));
  });

  it('finds the OP_RETURN payload (first value-0 OP_RETURN <push>)', () => {
    const payload = findOpReturnPayload(parse(TX0_B3557587_HEX))!;
    expect(payload).toHaveLength(64);
    expect(bytesToHex(payload).slice(0, 8)).toBe('1e5947a9');
  });

  it('returns null with another key (garbage payload version)', () => {
    const other = hexToBytes('01'.repeat(32));
    expect(decodeTx0FeeData(TX0_B3557587_HEX, other)).toBeNull();
  });

  it('returns null for a 4-byte OP_RETURN (older format), no OP_RETURN, or garbage', () => {
    const input = input0Of(parse(TX0_B3557587_HEX));
    const feeScript = parse(TX0_B3557587_HEX).getOutput(1).script!;
    const old = buildTx(input, [
      { amount: 0n, script: hexToBytes('6a0400000001') },
      { amount: 10000n, script: feeScript },
    ]);
    expect(findOpReturnPayload(parse(bytesToHex(old)))).toHaveLength(4);
    expect(decodeTx0FeeData(old, PRIV)).toBeNull();

    const noOpReturn = buildTx(input, [{ amount: 10000n, script: feeScript }]);
    expect(decodeTx0FeeData(noOpReturn, PRIV)).toBeNull();

    for (const junk of ['', '00', 'zz', TX0_B3557587_HEX.slice(0, 200), `${TX0_B3557587_HEX}00`]) {
      expect(decodeTx0FeeData(junk, PRIV)).toBeNull();
    }
    expect(decodeTx0FeeData(new Uint8Array(100), PRIV)).toBeNull();
  });

  it('ignores an OP_RETURN with a non-zero value and takes the first matching one', () => {
    const tx = parse(TX0_B3557587_HEX);
    const payload = findOpReturnPayload(tx)!;
    const raw = buildTx(input0Of(tx), [
      { amount: 1n, script: hexToBytes(`6a40${'00'.repeat(64)}`) },
      { amount: 0n, script: hexToBytes('6a') }, // one chunk only
      { amount: 0n, script: hexToBytes(`6a40${bytesToHex(payload)}`) },
      { amount: 0n, script: hexToBytes(`6a40${'11'.repeat(64)}`) },
    ]);
    expect(bytesToHex(findOpReturnPayload(parse(bytesToHex(raw)))!)).toBe(bytesToHex(payload));
    expect(decodeTx0FeeData(raw, PRIV)?.feeIndice).toBe(11);
  });

  it('takes the public key of a P2PKH scriptSig when there is no witness', () => {
    const pub = hexToBytes('025fb5f55491ca63611977e2e2b6d70fc4121400a441d8c3ba58b4c96c14d71e0a');
    const outputs = [{ amount: 0n, script: hexToBytes('6a0400000001') }];
    const withKey = buildTx(
      {
        txid: new Uint8Array(32).fill(7),
        index: 0,
        scriptSig: hexToBytes(`47${'30'.repeat(71)}21${bytesToHex(pub)}`),
      },
      outputs,
    );
    expect(bytesToHex(input0PublicKey(parse(bytesToHex(withKey)))!)).toBe(bytesToHex(pub));
    const bare = buildTx(
      { txid: new Uint8Array(32).fill(7), index: 0, scriptSig: hexToBytes(`47${'30'.repeat(71)}`) },
      outputs,
    );
    expect(input0PublicKey(parse(bytesToHex(bare)))).toBeNull();
  });
});

interface TestInput {
  txid: Uint8Array;
  index: number;
  scriptSig?: Uint8Array;
  witness?: Uint8Array[];
}

function input0Of(tx: Transaction): TestInput {
  const input = tx.getInput(0);
  return { txid: input.txid!, index: input.index!, witness: input.finalScriptWitness! };
}

/** Serializes a one-input transaction by hand (the Transaction builder refuses outputs after final inputs). */
function buildTx(input: TestInput, outputs: Array<{ amount: bigint; script: Uint8Array }>): Uint8Array {
  const segwit = input.witness !== undefined;
  return RawTx.encode({
    version: 1,
    segwitFlag: segwit,
    inputs: [
      {
        txid: input.txid,
        index: input.index,
        finalScriptSig: input.scriptSig ?? new Uint8Array(0),
        sequence: 0xffffffff,
      },
    ],
    outputs,
    witnesses: segwit ? [input.witness!] : undefined,
    lockTime: 0,
  });
}
