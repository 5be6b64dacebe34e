/**
 * Unlinkable by default (issue 12): a WhirlpoolClient given `socksProxy`
 * sends every registerOutput and every mix attempt's WebSocket through the
 * proxy with fresh random credentials — Tor gives each its own circuit — so
 * no two registerOutputs, no two attempts, and no output and input share a
 * SOCKS identity. A SOCKS5 server on a real socket records the credentials
 * of every CONNECT; the coordinator is a scripted stand-in on a real socket.
 */

import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhirlpoolClient } from '#client/api.ts';
import { Wallet } from '#client/wallet/wallet.ts';
import { type SocksLog, startSocksServer } from '#test/support/socks5_server.ts';
import { StompStub } from '#test/support/stomp_stub.ts';

const POOL = '0.01btc';
const log: SocksLog[] = [];
let socks: net.Server;
let coordinator: StompStub;

beforeAll(async () => {
  socks = await startSocksServer(log);
  coordinator = new StompStub();
  await coordinator.listen();
  // every SUBSCRIBE is answered with an ErrorResponse: the attempt ends right after connecting
  coordinator.onSubscribe = (send) => send('ErrorResponse', { mixId: null, message: 'stub' });
});

afterAll(async () => {
  await coordinator?.close();
  await new Promise((r) => socks?.close(r));
});

describe('fresh SOCKS credentials per registerOutput and per mix attempt', () => {
  it('gives every registerOutput and every attempt its own identity, never the configured one', async () => {
    const port = (coordinator.server.address() as AddressInfo).port;
    const warnings: string[] = [];
    const client = new WhirlpoolClient({
      serverUrl: `http://localhost:${port}`,
      socksProxy: `socks5h://configured:secret@127.0.0.1:${(socks.address() as AddressInfo).port}`,
      wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'mainnet' }),
      transport: 'websocket',
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toEqual([]);
    const req = { inputsHash: 'ab'.repeat(32), unblindedSignedBordereau64: 'x', receiveAddress: 'bc1qy' };
    await client.rest!.registerOutput(req);
    await client.rest!.registerOutput(req);
    expect(coordinator.posts).toHaveLength(2);

    const priv = secp256k1.utils.randomSecretKey();
    const utxo = {
      txid: 'aa'.repeat(32),
      vout: 0,
      value: 1_000_150,
      privateKey: priv,
      publicKey: secp256k1.getPublicKey(priv),
    };
    for (let i = 0; i < 2; i++) {
      const outcome = await client.mixOnce(utxo, { poolId: POOL, denomination: 1_000_000 }).run();
      expect(outcome).toMatchObject({ status: 'FAIL', message: expect.stringMatching(/stub/) });
    }
    expect(coordinator.connections).toBe(2);

    const seen = log.filter((l) => l.target === `localhost:${port}`);
    expect(seen).toHaveLength(4); // 2 POSTs + 2 WebSockets, all through the proxy
    for (const s of seen) {
      expect(s.user).toMatch(/^[0-9a-f]{32}$/);
      expect(s.password).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(new Set(seen.map((s) => s.user)).size).toBe(4);
    expect(new Set(seen.map((s) => s.password)).size).toBe(4);
    expect(seen.some((s) => s.user === 'configured')).toBe(false);
  });

  it('warns loudly on mainnet when registerOutput would leave from the input IP (no proxy)', () => {
    const warnings: string[] = [];
    new WhirlpoolClient({
      serverUrl: 'https://pool.example.org',
      wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'mainnet' }),
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toEqual([expect.stringMatching(/same IP address as your input/)]);
  });
});
