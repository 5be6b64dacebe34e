/**
 * Client Tx0 on a real btcd regtest node: a fresh wallet's deposit address is
 * funded by the test wallet, the UTXO source (btcd `searchrawtransactions`)
 * finds the deposit, the Tx0 is built (masked OP_RETURN, fee output, BIP69),
 * accepted by btcd's mempool and mined, and the UTXO source then finds the
 * premix outputs and the change with their confirmations.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { mnemonicToSeedSync } from '@scure/bip39';
import { Transaction } from '@scure/btc-signer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtcdUtxoSource } from '#client/chain/utxo_source.ts';
import { estimatedFee } from '#client/tx0/fee_estimator.ts';
import { buildTx0 } from '#client/tx0/tx0_builder.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { bip47AccountFromSeed } from '#shared/bitcoin/bip47.ts';
import { decodeTx0FeeDataFromTx } from '#shared/protocol/tx0_fee_data.ts';

const COORDINATOR = bip47AccountFromSeed(mnemonicToSeedSync(Wallet.generateMnemonic(), 'x'), 'regtest');

describe('client Tx0 on btcd regtest', () => {
  let btcd: BtcdNode;
  beforeAll(async () => {
    btcd = await startBtcd();
  });
  afterAll(async () => {
    await btcd?.stop();
  });

  it('funds a deposit, builds and broadcasts a Tx0, and finds the premix outputs', async () => {
    const wallet = Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest', passphrase: 'p' });
    const source = new BtcdUtxoSource(btcd.rpc);
    const deposit = wallet.account('deposit').nextKey(0);
    const fund = await btcd.wallet.fund(deposit.address, 12_345_678n);

    // Unconfirmed deposit is visible (mempool), then confirmed.
    const before = await source.listUnspent([deposit.address]);
    expect(before).toEqual([
      expect.objectContaining({ txid: fund.txid, vout: fund.vout, value: 12_345_678, confirmations: 0 }),
    ]);
    await btcd.mine(1);
    const [utxo] = await source.listUnspent([deposit.address]);
    expect(utxo?.confirmations).toBe(1);

    const feeAddress = wallet.account('badbank').key(0, 0).address; // stands in for the coordinator's
    const nbPremix = 10;
    const minerFee = estimatedFee({ p2wpkh: 1, outputs: nbPremix + 2, opReturn: 1 }, 2);
    const premixAddresses = Array.from(
      { length: nbPremix },
      () => wallet.account('premix').nextKey(0).address,
    );
    const tx0 = buildTx0({
      network: 'regtest',
      inputs: [
        {
          txid: utxo!.txid,
          vout: utxo!.vout,
          value: utxo!.value,
          script: deposit.script,
          privateKey: deposit.privateKey,
        },
      ],
      tx0Data: {
        feePaymentCode: COORDINATOR.paymentCode,
        feeValue: 50_000,
        feeChange: 0,
        feeDiscountPercent: 0,
        message: null,
        feePayload64: null,
        feeAddress,
        feeIndice: 7,
      },
      premixValue: 1_000_201,
      premixAddresses,
      minerFee,
      changeAddress: wallet.account('deposit').nextKey(1).address,
    });
    expect(tx0.vsize).toBeLessThanOrEqual(minerFee / 2);

    const [accept] = await btcd.rpc.testMempoolAccept([tx0.hex]);
    expect(accept).toMatchObject({ txid: tx0.txid, allowed: true });
    expect(await btcd.rpc.sendRawTransaction(tx0.hex)).toBe(tx0.txid);

    // The coordinator's secret wallet reads the fee data back from the broadcast tx.
    const onChain = Transaction.fromRaw(hexToBytes((await btcd.rpc.getRawTransaction(tx0.txid))!.hex), {
      allowUnknownOutputs: true,
    });
    expect(decodeTx0FeeDataFromTx(onChain, COORDINATOR.notificationPrivKey)).toMatchObject({ feeIndice: 7 });

    await btcd.mine(1);
    const premix = await source.listUnspent(premixAddresses);
    expect(premix).toHaveLength(nbPremix);
    for (const u of premix) {
      expect(u).toMatchObject({ txid: tx0.txid, value: 1_000_201, confirmations: 1 });
      expect(wallet.keyForAddress(u.address)?.account).toBe('premix');
    }
    expect(await source.listUnspent([deposit.address])).toEqual([]); // spent
    expect(await source.confirmations(tx0.txid, premix[0]!.vout)).toBe(1);
    expect(await source.confirmations(fund.txid, fund.vout)).toBeNull();
    const change = tx0.outputs.find((o) => o.kind === 'change')!;
    expect(change.value).toBe(12_345_678 - nbPremix * 1_000_201 - 50_000 - minerFee);
  });
});
