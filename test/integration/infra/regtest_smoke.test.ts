/**
 * Smoke test of the regtest infrastructure against real btcd nodes:
 * devnet/btcd.ts (start, mine, stop, several nodes), the test wallet
 * (fund, fundMany, raw spends) and shared/rpc/bitcoin_rpc.ts on btcd's real
 * replies, including how btcd refuses transactions (codes asserted here are
 * btcd v0.26.0's; Bitcoin Core differs where noted).
 */
import { existsSync } from 'node:fs';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import {
  buildP2wpkhSpend,
  regtestOutputScript,
  regtestP2wpkhAddress,
  type WalletUtxo,
} from '#devnet/regtest_wallet.ts';
import {
  RpcAlreadyInChainError,
  RpcError,
  RpcTransportError,
  RpcVerifyError,
  RpcVerifyRejectedError,
} from '#shared/errors.ts';

function newKey(): { privateKey: Uint8Array; address: string } {
  const privateKey = secp256k1.utils.randomSecretKey();
  return { privateKey, address: regtestP2wpkhAddress(secp256k1.getPublicKey(privateKey, true)) };
}

async function rejection(p: Promise<unknown>): Promise<RpcError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof RpcError)) throw new Error(`Expected an RpcError, got ${String(err)}`);
  return err;
}

describe('regtest btcd with the test wallet', () => {
  let node: BtcdNode;

  beforeAll(async () => {
    const started = Date.now();
    node = await startBtcd();
    console.info(`btcd started and mined 110 blocks in ${Date.now() - started} ms`);
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('starts on regtest at height 110 with 11 mature coinbases in the wallet', async () => {
    const info = await node.rpc.getBlockchainInfo();
    expect(info.chain).toBe('regtest');
    expect(info.blocks).toBe(110);
    expect(await node.rpc.getBlockCount()).toBe(110);
    const utxos = await node.wallet.listUnspent();
    expect(utxos.map((u) => u.coinbaseHeight)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(await node.wallet.balance()).toBe(11n * 5_000_000_000n);
    expect(node.wallet.address).toMatch(/^bcrt1q[02-9ac-hj-np-z]{38}$/);
  });

  it('funds a bcrt1q address and reads it back before and after mining', async () => {
    const { address } = newKey();
    const started = Date.now();
    const funded = await node.wallet.fund(address, 100_000n);
    const raw = await node.rpc.getRawTransaction(funded.txid);
    expect(raw).toEqual({
      txid: funded.txid,
      hex: funded.hex,
      confirmations: 0,
      time: null,
      blockhash: null,
    });
    expect(await node.rpc.getTxOut(funded.txid, funded.vout)).toEqual({
      value: 100_000,
      confirmations: 0,
      scriptPubKeyHex: bytesToHex(regtestOutputScript(address)),
      address,
    });
    // excluding the mempool, the unconfirmed output does not exist yet
    expect(await node.rpc.getTxOut(funded.txid, funded.vout, false)).toBeNull();

    const [blockHash] = await node.mine(1);
    console.info(`fund + mine 1 block in ${Date.now() - started} ms`);
    const mined = await node.rpc.getRawTransaction(funded.txid);
    expect(mined?.confirmations).toBe(1);
    expect(mined?.blockhash).toBe(blockHash);
    expect(mined?.time).toBeGreaterThan(1_600_000_000);
    await node.mine(2);
    expect((await node.rpc.getRawTransaction(funded.txid))?.confirmations).toBe(3);
    // --addrindex: btcd finds transactions by address (verbose 0 = raw hex)
    const byAddress = await node.rpc.call('searchrawtransactions', [address, 0], z.array(z.string()));
    expect(byAddress).toEqual([funded.hex]);
    expect((await node.rpc.getTxOut(funded.txid, funded.vout))?.confirmations).toBe(3);
  });

  it('refuses a transaction below the 1 sat/vB relay fee: testmempoolaccept false, sendrawtransaction -26', async () => {
    const { address } = newKey();
    const balance = await node.wallet.balance();
    const low = await node.wallet.createTransaction([{ address, sats: 50_000n }], { fee: 50n });
    expect(low.fee).toBe(50n);
    const [verdict] = await node.rpc.testMempoolAccept([low.hex]);
    expect(verdict).toMatchObject({ txid: low.txid, allowed: false });
    expect(verdict?.rejectReason).toEqual(expect.any(String));
    // btcd (with --limitfreerelay=0): -26 "rejected by the rate limiter due to low fees";
    // Core: -26 "min relay fee not met".
    const err = await rejection(node.rpc.sendRawTransaction(low.hex));
    expect(err).toBeInstanceOf(RpcVerifyRejectedError);
    expect(err.code).toBe(-26);
    // nothing was spent
    expect(await node.wallet.balance()).toBe(balance);
    expect(await node.rpc.getRawTransaction(low.txid)).toBeNull();

    const ok = await node.wallet.createTransaction([{ address, sats: 50_000n }], { feeRate: 1 });
    expect(ok.fee).toBeGreaterThanOrEqual(BigInt(ok.vsize));
    expect(await node.rpc.testMempoolAccept([ok.hex])).toEqual([
      { txid: ok.txid, allowed: true, rejectReason: null },
    ]);
  });

  it('maps btcd refusals of invalid transactions to typed errors', async () => {
    const { address } = newKey();
    // dust output: -26 (not standard)
    const dust = await node.wallet.createTransaction([{ address, sats: 100n }]);
    expect((await node.rpc.testMempoolAccept([dust.hex]))[0]?.allowed).toBe(false);
    expect(await rejection(node.rpc.sendRawTransaction(dust.hex))).toBeInstanceOf(RpcVerifyRejectedError);

    // unknown input: btcd -25 (orphan); Core -25 "bad-txns-inputs-missingorspent"
    const ghost: WalletUtxo = { txid: 'ab'.repeat(32), vout: 0, sats: 100_000n, coinbaseHeight: null };
    const orphan = await node.wallet.createTransaction([{ address, sats: 50_000n }], { inputs: [ghost] });
    expect(await node.rpc.testMempoolAccept([orphan.hex])).toEqual([
      { txid: orphan.txid, allowed: false, rejectReason: 'missing-inputs' },
    ]);
    const orphanErr = await rejection(node.rpc.sendRawTransaction(orphan.hex));
    expect(orphanErr).toBeInstanceOf(RpcVerifyError);
    expect(orphanErr.code).toBe(-25);

    // bad signature (signed for the wrong amount): btcd -25; Core -26 "mandatory-script-verify-flag-failed"
    const [coin] = await node.wallet.listUnspent();
    const badSig = await node.wallet.createTransaction([{ address, sats: 50_000n }], {
      inputs: [{ ...coin!, sats: coin!.sats + 1n }],
    });
    expect((await node.rpc.testMempoolAccept([badSig.hex]))[0]?.allowed).toBe(false);
    expect((await rejection(node.rpc.sendRawTransaction(badSig.hex))).code).toBe(-25);

    // immature coinbase (the tip's): btcd -25; Core -26 "bad-txns-premature-spend-of-coinbase"
    const tipHash = await node.rpc.call('getblockhash', [await node.rpc.getBlockCount()], z.string());
    const tip = await node.rpc.call('getblock', [tipHash], z.object({ tx: z.array(z.string()) }));
    const coinbaseOut = await node.rpc.getTxOut(tip.tx[0]!, 0);
    expect(coinbaseOut?.address).toBe(node.wallet.address);
    const immature = await node.wallet.createTransaction([{ address, sats: 50_000n }], {
      inputs: [{ txid: tip.tx[0]!, vout: 0, sats: BigInt(coinbaseOut!.value), coinbaseHeight: null }],
    });
    expect((await node.rpc.testMempoolAccept([immature.hex]))[0]?.allowed).toBe(false);
    const immatureErr = await rejection(node.rpc.sendRawTransaction(immature.hex));
    expect(immatureErr).toBeInstanceOf(RpcVerifyError);
    expect(immatureErr.code).toBe(-25);

    // a transaction already in the mempool: btcd -26; Core answers with the txid
    const funded = await node.wallet.fund(address, 30_000n);
    const again = await rejection(node.rpc.sendRawTransaction(funded.hex));
    expect(again).toBeInstanceOf(RpcVerifyRejectedError);
    // ... and once mined: -27 on both
    await node.mine(1);
    const inChain = await rejection(node.rpc.sendRawTransaction(funded.hex));
    expect(inChain).toBeInstanceOf(RpcAlreadyInChainError);
    expect(inChain.code).toBe(-27);
    // a spent output is gone, an unknown transaction is null
    expect(await node.rpc.getTxOut(coin!.txid, coin!.vout)).toBeNull();
    expect(await node.rpc.getRawTransaction('cd'.repeat(32))).toBeNull();
    // malformed hex: -22, a plain RpcError
    const decode = await rejection(node.rpc.sendRawTransaction('00'));
    expect(decode.constructor).toBe(RpcError);
    expect(decode.code).toBe(-22);
  });

  it('pays many addresses in one transaction, concurrently with other funding', async () => {
    const keys = Array.from({ length: 30 }, newKey);
    const [many, single] = await Promise.all([
      node.wallet.fundMany(keys.map((k, i) => ({ address: k.address, sats: 10_000n + BigInt(i) }))),
      node.wallet.fund(newKey().address, 20_000n),
    ]);
    expect(many.vouts).toEqual(keys.map((_, i) => i));
    expect(single.txid).not.toBe(many.txid);
    await node.mine(1);
    for (const [i, k] of keys.entries()) {
      const out = await node.rpc.getTxOut(many.txid, many.vouts[i]!);
      expect(out).toMatchObject({ value: 10_000 + i, address: k.address, confirmations: 1 });
    }
  });

  it('spends an output of another key with buildP2wpkhSpend', async () => {
    const owner = newKey();
    const to = newKey();
    const funded = await node.wallet.fund(owner.address, 200_000n);
    const spend = buildP2wpkhSpend({
      inputs: [{ txid: funded.txid, vout: funded.vout, sats: 200_000n, privateKey: owner.privateKey }],
      outputs: [{ address: to.address, sats: 150_000n }],
      changeScript: regtestOutputScript(owner.address),
      feeRate: 3,
    });
    expect(spend.changeVout).toBe(1);
    expect(spend.fee).toBeGreaterThanOrEqual(BigInt(spend.vsize * 3));
    expect(spend.fee).toBeLessThan(BigInt(spend.vsize * 3 + 10));
    // spends an unconfirmed parent: btcd accepts the chain
    expect(await node.rpc.sendRawTransaction(spend.hex)).toBe(spend.txid);
    await node.mine(1);
    expect(await node.rpc.getTxOut(spend.txid, 0)).toMatchObject({ value: 150_000, address: to.address });
    expect(await node.rpc.getTxOut(funded.txid, funded.vout)).toBeNull();
  });

  it('sees coinbases mature as blocks are mined', async () => {
    const before = await node.rpc.getBlockCount();
    await node.mine(3);
    const heights = (await node.wallet.listUnspent()).map((u) => u.coinbaseHeight).filter((h) => h !== null);
    expect(Math.max(...heights)).toBe(before + 3 - 99);
  });

  it('runs a second node at the same time with its own chain, wallet and ports', async () => {
    const started = Date.now();
    const other = await startBtcd({ matureBlocks: 101 });
    try {
      console.info(`second btcd started in ${Date.now() - started} ms`);
      expect(other.rpcUrl).not.toBe(node.rpcUrl);
      expect(other.p2pPort).not.toBe(node.p2pPort);
      expect(other.wallet.address).not.toBe(node.wallet.address);
      expect(await other.rpc.getBlockCount()).toBe(101);
      expect(await other.wallet.balance()).toBe(2n * 5_000_000_000n);
      const funded = await other.wallet.fund(newKey().address, 40_000n);
      expect((await other.rpc.getRawTransaction(funded.txid))?.txid).toBe(funded.txid);
      expect(await node.rpc.getRawTransaction(funded.txid)).toBeNull();
    } finally {
      await other.stop();
    }
    expect(existsSync(other.dataDir)).toBe(false);
    await expect(other.rpc.getBlockCount()).rejects.toBeInstanceOf(RpcTransportError);
    await other.stop();
    expect(await node.rpc.getBlockCount()).toBeGreaterThan(110);
  });
});
