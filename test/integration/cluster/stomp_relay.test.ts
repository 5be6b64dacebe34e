/**
 * STOMP relay over real sockets: a relaying server (real transport +
 * `ClusterStompApplication` whose engine serves no pool and whose routing
 * names another instance as owner) and an owner server (real transport + the
 * transport fixture's echo application). A stompjs client without
 * `acceptRedirect` talks to the relaying server: its SUBSCRIBE reaches the
 * owner with the relay marker, MESSAGEs come back with the 0.23 headers on
 * the client's subscription, SENDs (sent before the upstream is even up)
 * arrive in order with their headers, and a close on either side ends the
 * other. Loop protection: a session already marked as relayed is closed, not
 * relayed again. Redirect-aware clients still get a RedirectResponse.
 */
import type { IMessage } from '@stomp/stompjs';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolOwner } from '#coordinator/cluster/cluster_node.ts';
import { ClusterStompApplication } from '#coordinator/cluster/cluster_routing.ts';
import { HEADER_RELAY_AUTH, verifyRelayClaim } from '#coordinator/cluster/relay_auth.ts';
import {
  HEADER_RELAY_CLIENT_IP,
  HEADER_RELAYED_BY,
  relayWebSocketUrl,
} from '#coordinator/cluster/stomp_relay.ts';
import { silentLogger } from '#coordinator/log.ts';
import type { HttpServerHandle } from '#coordinator/transport/http_server.ts';
import { startHttpServer } from '#coordinator/transport/http_server.ts';
import type { ClientSession } from '#coordinator/transport/stomp_application.ts';
import { freePort } from '#devnet/ports.ts';
import { MESSAGE_TYPES } from '#shared/protocol/constants.ts';
import {
  connectStomp,
  type EchoApp,
  POOL_RESPONSE,
  startTestServer,
  until,
} from '#test/integration/transport/transport_fixture.ts';

const POOL = '0.01btc';

let owner: { app: EchoApp; server: HttpServerHandle; http: string; ws: string };
let relay: HttpServerHandle;
let relayBase: { http: string; ws: string };
const engineCalls: string[] = [];
const RELAY_SECRET = 'r'.repeat(40);
/** The relaying application's options (the relay secret is switched off by one test). */
let stompOpts: ConstructorParameters<typeof ClusterStompApplication>[0];
const owners: Record<string, PoolOwner> = {};

beforeAll(async () => {
  owner = await startTestServer();
  owners[POOL] = { poolId: POOL, instanceId: 'owner-1', urlClear: owner.http, urlOnion: null, epoch: 5 };
  // a non-loopback owner reachable only in clear: never relayed (TLS required)
  owners.remote = {
    poolId: 'remote',
    instanceId: 'far-1',
    urlClear: 'http://192.0.2.10:8080',
    urlOnion: null,
    epoch: 2,
  };
  owners.dead = {
    poolId: 'dead',
    instanceId: 'gone-1',
    urlClear: `http://127.0.0.1:${await freePort()}`,
    urlOnion: null,
    epoch: 1,
  };
  const engine = {
    servedPools: () => [],
    isConfiguredPool: () => false,
    onSubscribe: (s: ClientSession) => engineCalls.push(`subscribe ${s.id}`),
    onSend: (s: ClientSession, d: string) => engineCalls.push(`send ${s.id} ${d}`),
    onDisconnect: () => {},
  };
  stompOpts = {
    engine,
    routing: { instanceId: 'relay-1', fenceOf: () => null, ownerOf: (p) => owners[p] ?? null },
    inputsHashes: { record: async () => true },
    logger: silentLogger(),
    unownedWaitMs: 200,
    redirectCloseMs: 200,
    relaySecret: RELAY_SECRET,
  };
  const stomp = new ClusterStompApplication(stompOpts);
  relay = await startHttpServer({
    port: 0,
    host: '127.0.0.1',
    app: new Hono(),
    stomp,
    logger: silentLogger(),
  });
  relayBase = { http: `http://127.0.0.1:${relay.port}`, ws: `ws://127.0.0.1:${relay.port}` };
});

afterAll(async () => {
  await relay?.close();
  await owner?.server.close();
});

function subscribe(
  client: Awaited<ReturnType<typeof connectStomp>>['client'],
  headers: Record<string, string>,
): IMessage[] {
  const got: IMessage[] = [];
  client.subscribe('/private/reply', (m) => got.push(m), headers);
  return got;
}

/** Resolves when the client's WebSocket closes; rejects after `ms`. */
function closedWithin(client: Awaited<ReturnType<typeof connectStomp>>['client'], ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`client connection not closed within ${ms} ms`)), ms);
    client.onWebSocketClose = () => {
      clearTimeout(t);
      resolve();
    };
  });
}

describe('StompRelay', () => {
  it('builds the raw STOMP URL of an instance', () => {
    expect(relayWebSocketUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/ws/connect');
    expect(relayWebSocketUrl('https://a.example/base/')).toBe('wss://a.example/base/ws/connect');
    expect(() => relayWebSocketUrl('http://a.example:8080')).toThrow(/only dialled over TLS/);
    expect(() => relayWebSocketUrl('ftp://a.example')).toThrow(/unsupported URL scheme/);
  });

  it('relays an unmodified client: subscribe, ordered SENDs both ways, headers, client disconnect', async () => {
    const c = await connectStomp(relayBase, { connectHeaders: { poolId: POOL } });
    const got = subscribe(c.client, { poolId: POOL, protocolVersion: '0.23' });
    // Sent at once: the upstream is not connected yet, so these are queued and must keep their order.
    for (let i = 0; i < 10; i++)
      c.client.publish({
        destination: '/ws/registerInput',
        headers: { protocolVersion: '0.23', 'content-type': 'application/json;charset=UTF-8' },
        body: `m${i}`,
      });
    await until(() => got.length >= 11, 5000, 'SubscribePoolResponse and 10 echoes');

    const first = got[0]!;
    expect(first.headers.messageType).toBe(MESSAGE_TYPES.SubscribePoolResponse);
    expect(first.headers.protocolVersion).toBe('0.23');
    expect(first.headers.destination).toBe('/private/reply');
    expect(first.headers.subscription).toBe('sub-0');
    expect(JSON.parse(first.body)).toEqual(POOL_RESPONSE);
    expect(got.slice(1).map((m) => JSON.parse(m.body).message)).toEqual(
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    expect(got.slice(1).every((m) => m.headers.messageType === MESSAGE_TYPES.ErrorResponse)).toBe(true);

    // What the owner saw: one session marked as relayed, the client's headers, no acceptRedirect.
    const upstream = owner.app.subscribes.at(-1)!;
    expect(upstream.destination).toBe('/private/reply');
    expect(upstream.headers.get('poolId')).toBe(POOL);
    expect(upstream.headers.get('protocolVersion')).toBe('0.23');
    expect(upstream.headers.get(HEADER_RELAYED_BY)).toBe('relay-1');
    expect(upstream.headers.has('acceptRedirect')).toBe(false);
    expect(upstream.session.connectHeaders.get('poolId')).toBe(POOL);
    expect(upstream.session.connectHeaders.get(HEADER_RELAYED_BY)).toBe('relay-1');
    // loopback link + relay secret: the client IP goes with an HMAC claim for this owner, not the secret
    expect(upstream.session.connectHeaders.get(HEADER_RELAY_CLIENT_IP)).toBe('127.0.0.1');
    const auth = upstream.session.connectHeaders.get(HEADER_RELAY_AUTH);
    expect(auth).not.toContain(RELAY_SECRET);
    expect(
      verifyRelayClaim(
        RELAY_SECRET,
        auth,
        { relayedBy: 'relay-1', ownerId: 'owner-1', clientIp: '127.0.0.1' },
        Date.now(),
      ),
    ).toBe(true);
    const sends = owner.app.sends.filter((s) => s.session.id === upstream.session.id);
    expect(sends.map((s) => s.body)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(sends.every((s) => s.destination === '/ws/registerInput')).toBe(true);
    expect(sends[0]!.headers.get('protocolVersion')).toBe('0.23');
    expect(sends[0]!.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    expect(engineCalls.filter((c) => c.startsWith('send'))).toEqual([]); // nothing reached the local engine

    // Client goes away → the owner sees its upstream session disconnect.
    await c.client.deactivate();
    await owner.app.waitDisconnectOf(upstream.session.id);
    await until(() => relay.sessions() === 0, 5000, 'relay session count back to 0');
  });

  it('without a relay secret the client IP is not sent upstream', async () => {
    stompOpts.relaySecret = null;
    try {
      const c = await connectStomp(relayBase, { connectHeaders: { poolId: POOL } });
      const before = owner.app.subscribes.length;
      subscribe(c.client, { poolId: POOL, protocolVersion: '0.23' });
      await until(() => owner.app.subscribes.length > before, 5000, 'relayed subscribe');
      const upstream = owner.app.subscribes.at(-1)!;
      expect(upstream.session.connectHeaders.get(HEADER_RELAYED_BY)).toBe('relay-1');
      expect(upstream.session.connectHeaders.has(HEADER_RELAY_CLIENT_IP)).toBe(false);
      expect(upstream.session.connectHeaders.has(HEADER_RELAY_AUTH)).toBe(false);
      await c.client.deactivate();
    } finally {
      stompOpts.relaySecret = RELAY_SECRET;
    }
  });

  it('a client spoofing relayClientIp / relayAuth has them dropped, not forwarded', async () => {
    const c = await connectStomp(relayBase, {
      connectHeaders: { poolId: POOL, [HEADER_RELAY_CLIENT_IP]: '6.6.6.6', [HEADER_RELAY_AUTH]: 'v1.1.00' },
    });
    const before = owner.app.subscribes.length;
    subscribe(c.client, { poolId: POOL, protocolVersion: '0.23' });
    await until(() => owner.app.subscribes.length > before, 5000, 'relayed subscribe');
    const upstream = owner.app.subscribes.at(-1)!;
    expect(upstream.session.connectHeaders.get(HEADER_RELAY_CLIENT_IP)).toBe('127.0.0.1');
    expect(upstream.session.connectHeaders.get(HEADER_RELAY_AUTH)).not.toBe('v1.1.00');
    await c.client.deactivate();
  });

  it('never relays in clear to a non-loopback owner: the client gets the 0.23 refusal', async () => {
    const c = await connectStomp(relayBase, { connectHeaders: { poolId: 'remote' } });
    const got = subscribe(c.client, { poolId: 'remote', protocolVersion: '0.23' });
    await until(() => got.length >= 1, 5000, 'refusal');
    expect(got[0]!.headers.messageType).toBe(MESSAGE_TYPES.ErrorResponse);
    expect(JSON.parse(got[0]!.body).message).toBe(
      'Pool remote is served by another coordinator instance: http://192.0.2.10:8080',
    );
    await c.client.deactivate();
  });

  it("carries the later generations' fields untouched: blockHeight/bordereau64 upstream, errorCode downstream", async () => {
    const c = await connectStomp(relayBase, { connectHeaders: {} }); // G4+: no poolId on CONNECT
    const got = subscribe(c.client, { poolId: POOL, protocolVersion: '0.23' });
    await until(() => got.length >= 1, 5000, 'SubscribePoolResponse');
    const body =
      '{"poolId":"0.01btc","utxoHash":"cbef59ce0863490dfbd5427808a29564c8c81cd9f901623d5688faff12020717","utxoIndex":0,"signature":"H5vr0bgDNfKoUpbaY4Ah/dv39nEx/uKaKJi2yfZKCxw6cQDRE+/ZvgiyfTjQ2YvUTeoWpImNo1vdV+uPaM0XeNM=","liquidity":false,"blockHeight":2345678}';
    c.client.publish({ destination: '/ws/registerInput', headers: { protocolVersion: '0.23' }, body });
    await until(() => got.length >= 2, 5000, 'echo');
    const upstream = owner.app.subscribes.at(-1)!;
    expect(owner.app.sends.filter((x) => x.session.id === upstream.session.id).map((x) => x.body)).toEqual([
      body,
    ]);
    upstream.session.sendPrivate('ErrorResponse', {
      mixId: null,
      errorCode: 602,
      message: 'invalid blockHeight',
    });
    await until(() => got.length >= 3, 5000, 'ErrorResponse with errorCode');
    expect(got[2]!.headers.messageType).toBe(MESSAGE_TYPES.ErrorResponse);
    expect(got[2]!.body).toBe('{"mixId":null,"errorCode":602,"message":"invalid blockHeight"}');
    await c.client.deactivate();
  });

  it('closes the client session when the owner closes the upstream one', async () => {
    const c = await connectStomp(relayBase, { connectHeaders: { poolId: POOL } });
    const closed = closedWithin(c.client, 5000);
    const got = subscribe(c.client, { poolId: POOL, protocolVersion: '0.23' });
    await until(() => got.length === 1, 5000, 'SubscribePoolResponse');
    c.client.publish({
      destination: '/ws/registerInput',
      headers: { protocolVersion: '0.23' },
      body: 'close-me',
    });
    await closed;
    await c.client.deactivate();
    await until(() => relay.sessions() === 0, 5000, 'relay session count back to 0');
  });

  it('closes the client session when the owner cannot be reached, after a 1 s delay', async () => {
    const c = await connectStomp(relayBase, { connectHeaders: { poolId: 'dead' } });
    const closed = closedWithin(c.client, 5000);
    const t0 = performance.now();
    const got = subscribe(c.client, { poolId: 'dead', protocolVersion: '0.23' });
    await closed;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
    expect(got).toEqual([]);
    await c.client.deactivate();
  });

  it('never relays a session that is already a relay (loop protection)', async () => {
    const before = owner.app.subscribes.length;
    const c = await connectStomp(relayBase, {
      connectHeaders: { poolId: POOL, [HEADER_RELAYED_BY]: 'other-1' },
    });
    const closed = closedWithin(c.client, 5000);
    const got = subscribe(c.client, { poolId: POOL, protocolVersion: '0.23' });
    await closed;
    expect(got).toEqual([]);
    expect(owner.app.subscribes.length).toBe(before);
    await c.client.deactivate();
  });

  it('still redirects a client that accepts redirects', async () => {
    const before = owner.app.subscribes.length;
    const c = await connectStomp(relayBase, { connectHeaders: { poolId: POOL } });
    const got = subscribe(c.client, { poolId: POOL, protocolVersion: '0.23', acceptRedirect: 'true' });
    await until(() => got.length === 1, 5000, 'RedirectResponse');
    expect(got[0]!.headers.messageType).toBe(MESSAGE_TYPES.RedirectResponse);
    expect(JSON.parse(got[0]!.body)).toMatchObject({ poolId: POOL, instanceId: 'owner-1' });
    expect(owner.app.subscribes.length).toBe(before);
    await c.client.deactivate();
  });
});
