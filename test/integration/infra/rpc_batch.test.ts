/**
 * BitcoinRpc JSON-RPC batching against a real btcd: concurrent calls made in
 * one event-loop turn share one HTTP request (at most `batchMaxCalls` calls
 * each), every call gets its own result, null (-5, spent) or typed error, and
 * a node that cannot be reached fails every call of the batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { RpcError, RpcTransportError } from '#shared/errors.ts';
import { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
import { type ClientUtxo, fundConfirmedUtxos } from '#test/integration/mix/mix_harness.ts';

describe('BitcoinRpc batches on btcd', () => {
  let node: BtcdNode;
  let utxos: ClientUtxo[];

  beforeAll(async () => {
    node = await startBtcd();
    utxos = await fundConfirmedUtxos(node, 3, 100_000);
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
  });

  /** A client whose HTTP requests are counted. */
  function counted(batchMaxCalls: number, url = node.rpcUrl): { rpc: BitcoinRpc; requests: () => number } {
    let n = 0;
    const rpc = new BitcoinRpc({
      url,
      timeoutMs: 10_000,
      batchMaxCalls,
      fetch: (input, init) => {
        n++;
        return fetch(input, init);
      },
    });
    return { rpc, requests: () => n };
  }

  it('answers concurrent calls of every kind from one request', async () => {
    const { rpc, requests } = counted(50);
    const unknown = 'ab'.repeat(32);
    const [outs, missingTx, missingOut, raw, height, bad] = await Promise.all([
      Promise.all(utxos.map((u) => rpc.getTxOut(u.txid, u.index, true))),
      rpc.getRawTransaction(unknown),
      rpc.getTxOut(unknown, 0, true),
      rpc.getRawTransaction(utxos[0]!.txid),
      rpc.getBlockCount(),
      rpc.call('nosuchmethod', [], z.unknown()).catch((err: unknown) => err),
    ]);
    expect(requests()).toBe(1);
    expect(outs.map((o) => o?.value)).toEqual([100_000, 100_000, 100_000]);
    expect(missingTx).toBeNull();
    expect(missingOut).toBeNull();
    expect(raw?.txid).toBe(utxos[0]!.txid);
    expect(height).toBeGreaterThan(100);
    expect(bad).toBeInstanceOf(RpcError);
    expect((bad as RpcError).message).toContain('nosuchmethod');
    // the same answers one call per request
    const single = counted(1);
    expect(await single.rpc.getTxOut(utxos[1]!.txid, utxos[1]!.index, true)).toEqual(outs[1]);
    expect(await single.rpc.getRawTransaction(unknown)).toBeNull();
    expect(single.requests()).toBe(2);
  });

  it('splits a turn into requests of at most batchMaxCalls calls', async () => {
    const { rpc, requests } = counted(5);
    const heights = await Promise.all(Array.from({ length: 12 }, () => rpc.getBlockCount()));
    expect(new Set(heights).size).toBe(1);
    expect(requests()).toBe(3);
  });

  it('fails every call of a batch when the node cannot be reached', async () => {
    const { rpc } = counted(50, 'http://u:p@127.0.0.1:9/');
    const errors = await Promise.all(
      [rpc.getBlockCount(), rpc.getTxOut('ab'.repeat(32), 0, true)].map((p) => p.catch((e: unknown) => e)),
    );
    for (const err of errors) expect(err).toBeInstanceOf(RpcTransportError);
    expect((errors[1] as RpcTransportError).message).toContain('gettxout');
  });
});
