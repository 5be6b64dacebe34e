/**
 * BitcoinRpc error mapping, reply checking and value conversion against a
 * fake node: a real HTTP server on 127.0.0.1 started here that answers canned
 * JSON-RPC replies. It exists only for shapes btcd cannot be made to produce
 * (Core's HTTP 500 errors, -27, malformed results, hung nodes); the real-node
 * behaviour is covered by test/integration/infra/regtest_smoke.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  DecodeError,
  RpcAlreadyInChainError,
  RpcError,
  RpcTransportError,
  RpcVerifyError,
  RpcVerifyRejectedError,
} from '#shared/errors.ts';
import { BitcoinRpc, btcToSats } from '#shared/rpc/bitcoin_rpc.ts';

interface SeenRequest {
  authorization: string | undefined;
  contentType: string | undefined;
  body: { jsonrpc: string; id: unknown; method: string; params: unknown[] };
}

/** What the fake node answers next: HTTP status and raw body, or `hang` to never answer. */
type CannedReply = { status?: number; body: string } | 'hang';

const TXID = 'aa'.repeat(32);
const BLOCK = 'bb'.repeat(32);

describe('BitcoinRpc against a fake node', () => {
  let fakeNode: Server;
  let baseUrl: string;
  let seen: SeenRequest[] = [];
  let next: CannedReply[] = [];

  /** Queues a JSON-RPC reply with the id of the request it answers. */
  function reply(
    result: unknown,
    error: { code: number; message: string } | null = null,
    status = 200,
  ): void {
    next.push({ status, body: JSON.stringify({ result, error, id: '__ID__' }) });
  }

  beforeAll(async () => {
    fakeNode = createServer((req: IncomingMessage, res: ServerResponse) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => {
        const body = JSON.parse(data);
        seen.push({
          authorization: req.headers.authorization,
          contentType: req.headers['content-type'],
          body,
        });
        const canned = next.shift() ?? { status: 500, body: 'no canned reply' };
        if (canned === 'hang') return;
        res.writeHead(canned.status ?? 200, { 'content-type': 'application/json', connection: 'close' });
        res.end(canned.body.replace('"__ID__"', JSON.stringify(body.id)));
      });
    });
    await new Promise<void>((resolve) => fakeNode.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(fakeNode.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    fakeNode.closeAllConnections();
    await new Promise<void>((resolve) => fakeNode.close(() => resolve()));
  });
  beforeEach(() => {
    seen = [];
    next = [];
  });

  function rpc(opts: { timeoutMs?: number } = {}): BitcoinRpc {
    const u = new URL(baseUrl);
    u.username = 'alice';
    u.password = 'p@ss:word';
    return new BitcoinRpc({ url: u.toString(), ...opts });
  }

  it('sends a JSON-RPC 1.0 request with numeric ids and Basic auth from the URL', async () => {
    const client = rpc();
    reply(7);
    reply(8);
    expect(await client.getBlockCount()).toBe(7);
    expect(await client.getBlockCount()).toBe(8);
    expect(seen[0]?.body).toEqual({ jsonrpc: '1.0', id: 1, method: 'getblockcount', params: [] });
    expect(seen[1]?.body.id).toBe(2);
    expect(seen[0]?.authorization).toBe(`Basic ${btoa('alice:p@ss:word')}`);
    expect(client.endpoint).toBe(baseUrl);
  });

  it('lets explicit user and password override the URL', async () => {
    const client = new BitcoinRpc({
      url: baseUrl.replace('http://', 'http://x:y@'),
      user: 'u',
      password: 'p',
    });
    reply(1);
    await client.getBlockCount();
    expect(seen[0]?.authorization).toBe(`Basic ${btoa('u:p')}`);
  });

  it('maps -25, -26 and -27 to typed errors carrying code and method', async () => {
    const client = rpc();
    reply(null, { code: -25, message: 'bad-txns-inputs-missingorspent' }, 500);
    reply(null, { code: -26, message: 'min relay fee not met' }, 500);
    reply(null, { code: -27, message: 'Transaction already in block chain' }, 500);
    const e25 = await client.sendRawTransaction('00').catch((e: unknown) => e);
    const e26 = await client.sendRawTransaction('00').catch((e: unknown) => e);
    const e27 = await client.sendRawTransaction('00').catch((e: unknown) => e);
    expect(e25).toBeInstanceOf(RpcVerifyError);
    expect(e26).toBeInstanceOf(RpcVerifyRejectedError);
    expect(e27).toBeInstanceOf(RpcAlreadyInChainError);
    expect(e26).toMatchObject({ code: -26, method: 'sendrawtransaction' });
    expect((e26 as Error).message).toContain('min relay fee not met');
  });

  it('maps other codes to a plain RpcError, whatever the HTTP status', async () => {
    const client = rpc();
    reply(null, { code: -32601, message: 'Method not found' }, 404);
    const err = await client.call('nosuch', [], z.unknown()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).not.toBeInstanceOf(RpcVerifyError);
    expect(err).toMatchObject({ code: -32601, method: 'nosuch' });
  });

  it('returns null for an unknown transaction (-5) and rethrows other errors', async () => {
    const client = rpc();
    reply(null, { code: -5, message: 'No such mempool or blockchain transaction.' }, 500);
    expect(await client.getRawTransaction(TXID)).toBeNull();
    expect(seen[0]?.body.params).toEqual([TXID, 1]);
    reply(null, { code: -8, message: 'parameter 1 must be hexadecimal' }, 500);
    await expect(client.getRawTransaction('zz')).rejects.toMatchObject({ code: -8 });
  });

  it('fills confirmations, time and blockhash defaults for a mempool transaction', async () => {
    const client = rpc();
    reply({ txid: TXID, hash: TXID, hex: '0100', vin: [], vout: [] });
    expect(await client.getRawTransaction(TXID)).toEqual({
      txid: TXID,
      hex: '0100',
      confirmations: 0,
      time: null,
      blockhash: null,
    });
    reply({ txid: TXID, hex: '0100', confirmations: 3, time: 1700000000, blockhash: BLOCK });
    expect(await client.getRawTransaction(TXID)).toMatchObject({ confirmations: 3, blockhash: BLOCK });
  });

  it('converts BTC floats to satoshis and reads Core and legacy address fields', async () => {
    const client = rpc();
    reply({
      bestblock: BLOCK,
      confirmations: 1,
      value: 0.1 + 0.2,
      scriptPubKey: { hex: '0014ab', address: 'bc1qa' },
    });
    reply({ confirmations: 0, value: 0.00050001, scriptPubKey: { hex: '0014cd', addresses: ['bc1qb'] } });
    reply({ confirmations: 0, value: 1, scriptPubKey: { hex: '51', addresses: ['x', 'y'] } });
    reply(null);
    expect(await client.getTxOut(TXID, 0)).toEqual({
      value: 30_000_000,
      confirmations: 1,
      scriptPubKeyHex: '0014ab',
      address: 'bc1qa',
    });
    expect(seen[0]?.body.params).toEqual([TXID, 0, true]);
    expect(await client.getTxOut(TXID, 1, false)).toMatchObject({ value: 50_001, address: 'bc1qb' });
    expect(seen[1]?.body.params).toEqual([TXID, 1, false]);
    expect((await client.getTxOut(TXID, 2))?.address).toBeNull();
    expect(await client.getTxOut(TXID, 3)).toBeNull();
    expect(btcToSats(20999999.9769)).toBe(2099999997690000);
    expect(() => btcToSats(-0.00000001)).toThrow(RangeError);
  });

  it('maps testmempoolaccept results and sends the max fee rate btcd requires', async () => {
    const client = rpc();
    reply([
      { txid: TXID, allowed: true, vsize: 110, fees: { base: 0.00001 } },
      { txid: BLOCK, allowed: false, 'reject-reason': 'min relay fee not met' },
    ]);
    expect(await client.testMempoolAccept(['00', '01'])).toEqual([
      { txid: TXID, allowed: true, rejectReason: null },
      { txid: BLOCK, allowed: false, rejectReason: 'min relay fee not met' },
    ]);
    expect(seen[0]?.body.params).toEqual([['00', '01'], 0.1]);
  });

  it('refuses a result of the wrong shape with a DecodeError naming the method', async () => {
    const client = rpc();
    reply('not a number');
    const err = await client.getBlockCount().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).codec).toBe('bitcoin-rpc');
    expect((err as Error).message).toContain('getblockcount');
    reply({ bestblock: BLOCK, confirmations: 1, value: -1, scriptPubKey: { hex: '00' } });
    await expect(client.getTxOut(TXID, 0)).rejects.toBeInstanceOf(DecodeError);
    reply('short');
    await expect(client.sendRawTransaction('00')).rejects.toBeInstanceOf(DecodeError);
  });

  it('reports HTTP failures without a JSON-RPC body as transport errors', async () => {
    const client = rpc();
    next.push({ status: 401, body: '' });
    const err = await client.getBlockCount().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcTransportError);
    expect((err as Error).message).toContain('HTTP 401');
    next.push({ status: 200, body: '{"foo": 1}' });
    next.push({ status: 200, body: '[1,2]' });
    await expect(client.getBlockCount()).rejects.toBeInstanceOf(RpcTransportError);
    await expect(client.getBlockCount()).rejects.toBeInstanceOf(RpcTransportError);
    next.push({ status: 503, body: JSON.stringify({ result: 1, error: null, id: 1 }) });
    await expect(client.getBlockCount()).rejects.toBeInstanceOf(RpcTransportError);
  });

  it('times out a node that never answers', async () => {
    const client = rpc({ timeoutMs: 200 });
    next.push('hang');
    const started = Date.now();
    const err = await client.getBlockCount().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcTransportError);
    expect((err as Error).message).toContain('200 ms');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('reports a refused connection as a transport error without the password', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new BitcoinRpc({ url: `http://u:secret@127.0.0.1:${port}/` });
    const err = await client.getBlockCount().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcTransportError);
    expect((err as RpcTransportError).method).toBe('getblockcount');
    expect((err as Error).message).not.toContain('secret');
  });
});
