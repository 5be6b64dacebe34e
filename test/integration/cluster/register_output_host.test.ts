/**
 * The registerOutput REST route hands the request's Host header to the
 * cluster's 307 decision, over a real socket: a POST that came in on an
 * onion host is redirected to the holder's onion URL, a clear one to its
 * clear URL (issue 12). The holder lookup is a fixed record (named fake: the
 * inputsHash table is covered by the cluster tests); the Tx0 dependencies
 * are never called here.
 */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterRegisterOutput } from '#coordinator/cluster/cluster_routing.ts';
import { silentLogger } from '#coordinator/log.ts';
import { createRestApp } from '#coordinator/rest/rest_app.ts';

const ONION = 'http://holder2345abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnop.onion';
let server: ReturnType<typeof serve>;
let port = 0;

beforeAll(async () => {
  const fixedHolder = {
    find: async () => ({
      inputsHash: 'ab'.repeat(64),
      poolId: 'p',
      mixId: 'm',
      instanceId: 'holder',
      epoch: 3,
      urlClear: 'https://holder.example',
      urlOnion: ONION,
    }),
  };
  const registerOutput = clusterRegisterOutput({
    engine: {
      findMixByInputsHash: () => null,
      registerOutput: async () => {
        throw new Error('not held here');
      },
    },
    instanceId: 'me',
    inputsHashes: fixedHolder,
    logger: silentLogger(),
  });
  const app = createRestApp({
    pools: [],
    live: { livePools: () => new Map() },
    tx0: {
      network: 'regtest',
      feeAddressSeed: new Uint8Array(64),
      feePaymentCode: 'unused',
      scodes: [],
      nextFeeIndex: async () => {
        throw new Error('unused');
      },
      delayMs: 0,
    },
    registerOutput,
    health: async () => ({ status: 'OK', error: null }),
    logger: silentLogger(),
  });
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      port = info.port;
      resolve();
    });
  });
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
});

function post(host: string): Promise<{ status: number; location: string | undefined }> {
  const body = JSON.stringify({
    inputsHash: 'ab'.repeat(64),
    unblindedSignedBordereau64: 'abcde',
    receiveAddress: 'bcrt1qxyz',
  });
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/rest/registerOutput',
        headers: { host, 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

describe('POST /rest/registerOutput 307 follows the request host', () => {
  it('onion in ⇒ onion Location; clear in ⇒ clear Location', async () => {
    expect(await post('coordinator234abcdefghijklmnopqrstuvwxyz234567abcdefghijklm.onion')).toEqual({
      status: 307,
      location: `${ONION}/rest/registerOutput`,
    });
    expect(await post('coordinator.example:8080')).toEqual({
      status: 307,
      location: 'https://holder.example/rest/registerOutput',
    });
  });
});
