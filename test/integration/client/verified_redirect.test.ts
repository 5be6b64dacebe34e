/**
 * Redirects only to verified instances, on real sockets (issue 12): a mirror
 * serving a signed directory over HTTP, scripted STOMP coordinators, and an
 * "attacker" server that counts every connection it gets.
 *
 * - A RedirectResponse claiming epoch 2^40 with the attacker's URLs for a
 *   listed instance: the session reconnects to that instance's *record* URL;
 *   the attacker sees nothing.
 * - A redirect to an instance the directory does not list: the attempt is
 *   given up (DISCONNECTED, "Redirect refused"); the attacker sees nothing.
 * - A registerOutput answered 307 to the attacker: refused, the attacker
 *   gets no POST; a 307 to a listed instance's published URL is re-POSTed
 *   there with the same body.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryLocator } from '#client/discovery/coordinator_locator.ts';
import { DirectoryClient } from '#client/discovery/directory_client.ts';
import { MixSession } from '#client/mix/mix_session.ts';
import { CoordinatorRest, CoordinatorRestError } from '#client/rest/coordinator_rest.ts';
import type { DirectoryRecord } from '#shared/directory/record.ts';
import { directoryPublicKey, signDirectoryRecord } from '#shared/directory/signing.ts';
import { StompStub } from '#test/support/stomp_stub.ts';

const POOL = '0.01btc';
const key = ed25519.utils.randomSecretKey();

let redirector: StompStub;
let owner: StompStub;
let attacker: StompStub;
let mirror: http.Server;
let mirrorUrl: string;

function record(id: string, url: string, pools: DirectoryRecord['pools']): DirectoryRecord {
  const now = Date.now();
  return {
    version: 1,
    instanceId: id,
    urlClear: url,
    urlOnion: null,
    state: 'active',
    pools,
    issuedAt: now - 1000,
    expiresAt: now + 60_000,
  };
}

beforeAll(async () => {
  [redirector, owner, attacker] = [new StompStub(), new StompStub(), new StompStub()];
  await Promise.all([redirector.listen(), owner.listen(), attacker.listen()]);
  mirror = http.createServer((req, res) => {
    // the redirector is listed as the pool's owner (epoch 3); "owner" is listed without pools
    const body = JSON.stringify({
      version: 1,
      records: [
        signDirectoryRecord(record('redirector', redirector.url, [{ poolId: POOL, epoch: 3 }]), key),
        signDirectoryRecord(record('owner', owner.url, []), key),
      ],
    });
    if (req.url === '/instances') res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', () => r()));
  mirrorUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all([redirector?.close(), owner?.close(), attacker?.close()]);
  mirror?.closeAllConnections();
  await new Promise<void>((r) => (mirror ? mirror.close(() => r()) : r()));
});

function locator(): DirectoryLocator {
  return new DirectoryLocator(
    new DirectoryClient({
      bootstrapUrls: [mirrorUrl],
      publicKey: directoryPublicKey(key),
      onWarning: () => {},
    }),
  );
}

function session(l: DirectoryLocator): MixSession {
  const priv = secp256k1.utils.randomSecretKey();
  return new MixSession({
    serverUrl: '',
    network: 'regtest',
    poolId: POOL,
    denomination: null,
    utxo: {
      txid: 'aa'.repeat(32),
      vout: 0,
      value: 1_000_150,
      privateKey: priv,
      publicKey: secp256k1.getPublicKey(priv),
    },
    receiveAddress: () => ({ address: 'bcrt1qunused', confirm: () => {}, release: () => {} }),
    userPreHash: '00'.repeat(32),
    rest: new CoordinatorRest({ serverUrl: 'http://unresolved.invalid' }),
    transport: 'websocket',
    acceptRedirect: true,
    reconnectDelayMs: 100,
    reconnectUntilMs: 2000,
    locate: (hint) => l.mixUrl(POOL, hint),
    restForUrl: (serverUrl) => new CoordinatorRest({ serverUrl }),
  });
}

const subscribeResponse = {
  networkId: 'regtest',
  denomination: 1_000_000,
  mustMixBalanceMin: 1_000_102,
  mustMixBalanceCap: 1_009_500,
  mustMixBalanceMax: 1_010_000,
};

describe('STOMP redirects only to verified instances', () => {
  it('epoch 2^40 with the attacker URL for a listed instance: the record URL is used, the attacker sees nothing', async () => {
    redirector.onSubscribe = (send) =>
      send('RedirectResponse', {
        poolId: POOL,
        instanceId: 'owner',
        urlClear: attacker.url,
        urlOnion: null,
        epoch: 2 ** 40,
      });
    owner.onSubscribe = (send) => send('SubscribePoolResponse', subscribeResponse);
    const s = session(locator());
    const redirects: Array<{ to: string; instanceId: string }> = [];
    s.on('redirect', (r) => redirects.push(r));
    const outcome = await s.run();
    expect(outcome).toMatchObject({ reason: 'INPUT_REJECTED', message: 'owner got it' });
    expect(redirects).toEqual([
      expect.objectContaining({ to: owner.url, instanceId: 'owner', epoch: 2 ** 40 }),
    ]);
    expect(owner.registerInputs).toBe(1);
    expect(attacker.connections).toBe(0);
  });

  it('an instance id the directory does not list: the attempt is given up, the attacker sees nothing', async () => {
    const before = owner.connections;
    redirector.onSubscribe = (send) =>
      send('RedirectResponse', {
        poolId: POOL,
        instanceId: 'attacker',
        urlClear: attacker.url,
        urlOnion: null,
        epoch: 2 ** 40,
      });
    const outcome = await session(locator()).run();
    expect(outcome).toMatchObject({
      status: 'FAIL',
      reason: 'DISCONNECTED',
      message: expect.stringMatching(
        /Redirect refused: instance 'attacker' has no verified directory record/,
      ),
    });
    expect(attacker.connections).toBe(0);
    expect(owner.connections).toBe(before);
  });
});

describe('registerOutput 307 only to verified instances', () => {
  const req = { inputsHash: 'ab'.repeat(32), unblindedSignedBordereau64: 'x', receiveAddress: 'bcrt1qy' };

  it('a 307 to the attacker is refused; one to a listed instance is re-POSTed there with the same body', async () => {
    const l = locator();
    await l.mixUrl(POOL);
    const rest = new CoordinatorRest({
      serverUrl: redirector.url,
      followRedirect: (location, from) => l.registerOutputRedirect(location, from),
    });
    redirector.registerOutputAnswer = { status: 307, location: `${attacker.url}/rest/registerOutput` };
    const refused = await rest.registerOutput(req).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CoordinatorRestError);
    expect((refused as Error).message).toMatch(/redirect refused: .*no verified directory record publishes/);
    expect(attacker.posts).toHaveLength(0);

    redirector.registerOutputAnswer = { status: 307, location: `${owner.url}/rest/registerOutput` };
    await rest.registerOutput(req);
    expect(owner.posts).toEqual([JSON.stringify(req)]);
    expect(attacker.posts).toHaveLength(0);
  });

  it('a 307 loop ends after two hops', async () => {
    const rest = new CoordinatorRest({ serverUrl: redirector.url });
    redirector.registerOutputAnswer = { status: 307, location: `${redirector.url}/rest/registerOutput` };
    const before = redirector.posts.length;
    await expect(rest.registerOutput(req)).rejects.toThrow(/redirected more than 2 times/);
    expect(redirector.posts.length - before).toBe(3);
  });
});
