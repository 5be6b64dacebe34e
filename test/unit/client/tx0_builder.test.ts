/**
 * Tx0 builder: reproduces the client test Tx0 of spec §8.6 byte for byte
 * (Java Tx0ServiceTest, wallet `all`×12 / `whirlpool`, testnet), and checks
 * that the coordinator's secret wallet unmasks the fee payload.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { mnemonicToSeedSync } from '@scure/bip39';
import { Transaction } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import { buildTx0 } from '#client/tx0/tx0_builder.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { bip47AccountFromSeed } from '#shared/bitcoin/bip47.ts';
import { z85Encode } from '#shared/codec/z85.ts';
import { unmaskFeeOpReturnV1 } from '#shared/protocol/fee_op_return.ts';
import { decodeFeePayload, encodeFeePayload, scodePayloadFromShort } from '#shared/protocol/fee_payload.ts';
import type { Tx0DataResponse } from '#shared/protocol/messages.ts';
import { ecdhSharedX, serializeOutpoint, xorMask } from '#shared/protocol/xor_mask.ts';

const ALL = 'all all all all all all all all all all all all';
const EXPECTED_TXID = 'e11e81e6238a69f5b3c77ad90c59d6c85a45a549fc03400abece68e1818684db';
const EXPECTED_RAW =
  '01000000000101ae24e3f5dbcee7971ae0e5b83fcb1eb67057901f2d371ca494f868b3dc8c58cc0100000000ffffffff0d0000000000000000426a409ae6649a7b1fc8a917f408cbf7b41e27f3a5484650aafdf5167852bd348afa8aa8213dda856188683ab187a902923e7ec3b672a6fbb637a4063c71879f6859171027000000000000160014f6a884f18f4d7e78a4167c3e56773c3ae58e0164d6420f00000000001600141dffe6e395c95927e4a16e8e6bd6d05604447e4dd6420f00000000001600142540e8d450b7114a8b0b429709508735b4b1bbfbd6420f00000000001600145b1cdb2e6ae13f98034b84957d9e0975ad7e6da5d6420f000000000016001472df8c59071778ec20264e2aeb54dd4024bcee0ad6420f00000000001600147aca3eeaecc2ffefd434c70ed67bd579e629c29dd6420f0000000000160014833e54dd2bdc90a6d92aedbecef1ca9cdb24a4c4d6420f00000000001600148535df3b314d3191037e38c698ddb6bac83ba95ad6420f00000000001600149676ec398c2fe0736d61e09e1136958b4bf40cdad6420f0000000000160014adb93750e1ffcfcefc54c6be67bd3011878a5aa5d6420f0000000000160014ff715cbded0e6205a68a1f66a52ee56d56b44c8193a1341d000000001600141bd05eb7c9cb516fddd8187cecb2e0cb4e21ac87024730440220300bd307637ed85bef106e7dd67db7737a1bae1f167813124d36d4a13250277002207822a332bdf472ac623787ef88c76a5aa8df160a70606dcffbc0e4aae9841d0801210349baf197181fe53937d225d0e7bd14d8b5f921813c038a95d7c2648500c119b000000000';

/** The coordinator test secret wallet (`all`×12 / `whirlpool`, testnet), spec §4.6.3. */
const SECRET = bip47AccountFromSeed(mnemonicToSeedSync(ALL, 'whirlpool'), 'testnet');

function tx0Data(): Tx0DataResponse {
  return {
    feePaymentCode: SECRET.paymentCode,
    feeValue: 0,
    feeChange: 10_000,
    feeDiscountPercent: 100,
    message: null,
    feePayload64: z85Encode(hexToBytes('0102')),
    feeAddress: null,
    feeIndice: 0,
  };
}

describe('buildTx0 against the client test Tx0 of spec §8.6', () => {
  const wallet = Wallet.fromMnemonic(ALL, { passphrase: 'whirlpool', network: 'testnet' });
  const input = wallet.account('deposit').key(0, 61);
  const premix = wallet.account('premix');
  const deposit = wallet.account('deposit');

  function build() {
    return buildTx0({
      network: 'testnet',
      inputs: [
        {
          txid: 'cc588cdcb368f894a41c372d1f905770b61ecb3fb8e5e01a97e7cedbf5e324ae',
          vout: 1,
          value: 500_000_000,
          script: input.script,
          privateKey: input.privateKey,
        },
      ],
      tx0Data: tx0Data(),
      premixValue: 1_000_150,
      premixAddresses: Array.from({ length: 10 }, (_, i) => premix.key(0, i).address),
      minerFee: 1,
      feeChangeAddress: deposit.key(1, 0).address,
      changeAddress: deposit.key(1, 1).address,
    });
  }

  it('derives the payment code of the secret wallet used by the Java tests', () => {
    expect(SECRET.paymentCode).toBe(
      'PM8TJXp19gCE6hQzqRi719FGJzF6AreRwvoQKLRnQ7dpgaakakFns22jHUqhtPQWmfevPQRCyfFbdDrKvrfw9oZv5PjaCerQMa3BKkPyUf9yN1CDR3w6',
    );
  });

  it('reproduces txid e11e81e6… and the raw transaction byte for byte', () => {
    const tx0 = build();
    expect(tx0.hex).toBe(EXPECTED_RAW);
    expect(tx0.txid).toBe(EXPECTED_TXID);
  });

  it('puts OP_RETURN first, then feeChange, premixes and change (BIP69)', () => {
    const tx0 = build();
    expect(tx0.outputs.map((o) => o.kind)).toEqual([
      'opReturn',
      'feeChange',
      ...Array(10).fill('premix'),
      'change',
    ]);
    expect(tx0.premixOutputs).toHaveLength(10);
    expect(tx0.change).toBe(489_988_499);
    expect(bytesToHex(tx0.outputs[0]!.script).slice(0, 4)).toBe('6a40');
  });

  it('masks a payload that the coordinator unmasks to version 1, indice 0, scode 0x0102', () => {
    const tx0 = build();
    const tx = Transaction.fromRaw(hexToBytes(tx0.hex), { allowUnknownOutputs: true });
    const pub = tx.getInput(0).finalScriptWitness![1]!;
    const x = ecdhSharedX(SECRET.notificationPrivKey, pub);
    expect(bytesToHex(x)).toBe('7e789a246a49435aa96626567518b63020fc33151825ecc5419d177069149d09');
    const plain = xorMask(tx0.opReturnData, x, serializeOutpoint(tx0InputTxid, 1));
    const payload = decodeFeePayload(plain);
    expect(payload?.feeVersion).toBe(1);
    expect(payload?.feeIndice).toBe(0);
    expect(bytesToHex(payload!.scodePayload!)).toBe('0102');
  });

  it('refuses amounts the inputs do not cover', () => {
    expect(() =>
      buildTx0({
        network: 'testnet',
        inputs: [
          {
            txid: tx0InputTxid,
            vout: 1,
            value: 1_000_000,
            script: input.script,
            privateKey: input.privateKey,
          },
        ],
        tx0Data: tx0Data(),
        premixValue: 1_000_150,
        premixAddresses: [premix.key(0, 0).address],
        minerFee: 200,
        feeChangeAddress: deposit.key(1, 0).address,
      }),
    ).toThrow(/do not cover/);
  });

  it('pays feeValue to the fee address and encodes feeIndice when there is a fee', () => {
    const data = {
      ...tx0Data(),
      feeValue: 50_000,
      feeChange: 0,
      feeAddress: deposit.key(0, 5).address,
      feeIndice: 42,
      feePayload64: null,
    };
    const tx0 = buildTx0({
      network: 'testnet',
      inputs: [
        { txid: tx0InputTxid, vout: 1, value: 5_000_000, script: input.script, privateKey: input.privateKey },
      ],
      tx0Data: data,
      premixValue: 1_000_150,
      premixAddresses: [premix.key(0, 0).address, premix.key(0, 1).address],
      minerFee: 500,
      changeAddress: deposit.key(1, 1).address,
    });
    const fee = tx0.outputs.find((o) => o.kind === 'fee');
    expect(fee?.value).toBe(50_000);
    expect(fee?.address).toBe(deposit.key(0, 5).address);
    const x = ecdhSharedX(SECRET.notificationPrivKey, input.publicKey);
    const payload = decodeFeePayload(xorMask(tx0.opReturnData, x, serializeOutpoint(tx0InputTxid, 1)));
    expect(payload?.feeIndice).toBe(42);
    expect(payload?.scodePayload).toBeNull();
    expect(tx0.change).toBe(5_000_000 - 2 * 1_000_150 - 50_000 - 500);
  });
});

const tx0InputTxid = 'cc588cdcb368f894a41c372d1f905770b61ecb3fb8e5e01a97e7cedbf5e324ae';

describe('buildTx0 with a V1 OP_RETURN (G5+, addendum §9.5)', () => {
  const wallet = Wallet.fromMnemonic(ALL, { passphrase: 'whirlpool', network: 'testnet' });
  const input = wallet.account('deposit').key(0, 61);
  const premix = wallet.account('premix');
  const deposit = wallet.account('deposit');
  /** The Java tests' static masking key (test mode). */
  const TEST_MASKING_KEY = hexToBytes('4b5260af762d91443d65f8d4f2f1d9ea166e4d0fb8d59d47311db7bb2c34ecba');
  const V1_RAW =
    '01000000000101ae24e3f5dbcee7971ae0e5b83fcb1eb67057901f2d371ca494f868b3dc8c58cc0100000000ffffffff040000000000000000536a4c504d51fe709cbcb9ad363057318d1898fc2c024da31dca9796e1aa290e7db2c7226f83da6bc62fc79f15a3fe70694c036e350b47817fe80c931d2e7317d46b6017af2427f201bec425e41ae8d89a029d011027000000000000160014f6a884f18f4d7e78a4167c3e56773c3ae58e0164ee2b0000000000001600141bd05eb7c9cb516fddd8187cecb2e0cb4e21ac87d6420f00000000001600141dffe6e395c95927e4a16e8e6bd6d05604447e4d02473044022037cb7ab0cc47cd12396a08a24cb65f8ba88f0a2ace0dfc40c52933647bc30e6d02207b15a0adfa6fff0fc673424ffd9551e39c71a4e840a39493b186fa51d9d6c29001210349baf197181fe53937d225d0e7bd14d8b5f921813c038a95d7c2648500c119b000000000';

  function buildV1(maskingKey?: Uint8Array) {
    return buildTx0({
      network: 'testnet',
      inputs: [
        { txid: tx0InputTxid, vout: 1, value: 1_021_397, script: input.script, privateKey: input.privateKey },
      ],
      fee: {
        feeValue: 0,
        feeChange: 10_000,
        feeAddress: null,
        feePaymentCode: SECRET.paymentCode,
        feePayload: encodeFeePayload({ feeIndice: 1, scodePayload: scodePayloadFromShort(2) }, 46),
      },
      opReturn: 'V1',
      maskingKey,
      premixValue: 1_000_150,
      premixAddresses: [premix.key(0, 0).address],
      minerFee: 1,
      feeChangeAddress: deposit.key(1, 0).address,
      changeAddress: deposit.key(1, 1).address,
    });
  }

  it('reproduces Tx0ServiceV1Test tx0_1premix_withChange_scode_nofee byte for byte', () => {
    const tx0 = buildV1(TEST_MASKING_KEY);
    expect(tx0.hex).toBe(V1_RAW);
    expect(tx0.txid).toBe('35fcb9366fc80b01609de812c024da922675211c12d7abc49ace29d825d315f6');
    expect(tx0.opReturnData).toHaveLength(80);
    expect(tx0.outputs.find((o) => o.kind === 'opReturn')?.script.slice(0, 3)).toEqual(
      Uint8Array.of(0x6a, 0x4c, 0x50),
    );
  });

  it('draws a fresh masking key per Tx0 when none is given; the coordinator unmasks both', () => {
    const a = buildV1();
    const b = buildV1();
    expect(bytesToHex(a.opReturnData.slice(46, 79))).not.toBe(bytesToHex(b.opReturnData.slice(46, 79)));
    for (const tx0 of [a, b]) {
      const plain = unmaskFeeOpReturnV1(
        tx0.opReturnData,
        serializeOutpoint(tx0InputTxid, 1),
        SECRET.notificationPrivKey,
      );
      expect(bytesToHex(plain.slice(0, 10))).toBe('00010000000100020000');
    }
  });
});
