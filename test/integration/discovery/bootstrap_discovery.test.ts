import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryClient } from '#client/discovery/directory_client.ts';
import { createCoordinatorInstancesApp } from '#coordinator/directory/instances_route.ts';
import { freePort } from '#devnet/ports.ts';
import { type ListeningProcess, spawnListening } from '#devnet/spawn_listening.ts';
import { createDirectoryFixture, type DirectoryFixture } from '#test/support/directory_fixture.ts';

/**
 * Discovery end to end on real parts: records published by the real
 * publisher into MariaDB, two bootstrap node processes reading them through
 * the read-only account, a coordinator-side GET /instances, a tampering
 * mirror (proxy that alters what it relays) and a dead entry. Clients given
 * only these URLs and the pinned key find the pool owners and skip the bad
 * entries.
 */
describe('discovery through real bootstrap nodes', () => {
  let fx: DirectoryFixture;
  const nodes: ListeningProcess[] = [];
  const servers: Array<{ close(): void }> = [];
  let coordinatorUrl: string;
  let tamperUrl: string;
  let deadUrl: string;

  async function listen(app: Hono): Promise<string> {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  beforeAll(async () => {
    fx = await createDirectoryFixture('discovery');
    await fx.registerInstance({ id: 'c1', urlClear: 'http://127.0.0.1:9001' });
    await fx.registerInstance({ id: 'c2', urlClear: 'http://127.0.0.1:9002' });
    await fx.setLease('0.01btc', 'c1', 1);
    await fx.setLease('0.05btc', 'c2', 1);
    await fx.publish('c1');
    await fx.publish('c2');
    for (let i = 0; i < 2; i++) {
      nodes.push(
        await spawnListening(process.execPath, ['bootstrap/node.ts'], {
          env: { BOOTSTRAP_DB_URL: fx.account.url, BOOTSTRAP_PORT: '0', BOOTSTRAP_HOST: '127.0.0.1' },
        }),
      );
    }
    const coordinator = new Hono();
    coordinator.route('/', createCoordinatorInstancesApp(fx.pool).app);
    coordinatorUrl = await listen(coordinator);
    // a mirror relaying a real node but claiming every pool for c1 with a higher epoch
    const tamper = new Hono();
    tamper.get('/instances', async (c) => {
      const res = await fetch(`${nodes[0]!.url}/instances`);
      const text = (await res.text()).replaceAll('\\"epoch\\":1', '\\"epoch\\":7').replaceAll('9002', '6666');
      return c.body(text, 200, { 'Content-Type': 'application/json' });
    });
    tamperUrl = await listen(tamper);
    deadUrl = `http://127.0.0.1:${await freePort()}`;
  });
  afterAll(async () => {
    for (const s of servers) s.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await fx?.cleanup();
  });

  it('a client given bootstrap and instance URLs finds each pool owner', async () => {
    const client = new DirectoryClient({
      bootstrapUrls: [nodes[0]!.url, nodes[1]!.url, coordinatorUrl],
      publicKey: fx.publicKeyHex,
    });
    expect(await client.ownerOf('0.01btc')).toMatchObject({
      instanceId: 'c1',
      epoch: 1,
      url: 'http://127.0.0.1:9001',
    });
    expect(await client.ownerOf('0.05btc')).toMatchObject({ instanceId: 'c2', url: 'http://127.0.0.1:9002' });
    expect(['c1', 'c2']).toContain((await client.randomInstance()).instanceId);
  });

  it('skips a tampering mirror and a dead entry whatever the order', async () => {
    for (let seed = 0; seed < 6; seed++) {
      let r = seed / 6;
      const client = new DirectoryClient({
        bootstrapUrls: [tamperUrl, deadUrl, nodes[1]!.url],
        publicKey: fx.publicKeyHex,
        timeoutMs: 2000,
        random: () => {
          r = (r + 0.37) % 1;
          return r;
        },
      });
      const res = await client.refresh();
      expect(res.source).toBe(nodes[1]!.url);
      for (const f of res.failures) {
        expect(f.url === tamperUrl ? 'forged' : 'unreachable').toBe(f.reason);
      }
      expect(await client.ownerOf('0.05btc')).toMatchObject({
        instanceId: 'c2',
        epoch: 1,
        url: 'http://127.0.0.1:9002',
      });
    }
  });

  it('a pool move is found on refresh: the higher epoch wins while the old record still lists the pool', async () => {
    const client = new DirectoryClient({ bootstrapUrls: [nodes[0]!.url], publicKey: fx.publicKeyHex });
    expect((await client.ownerOf('0.01btc')).instanceId).toBe('c1');
    await fx.setLease('0.01btc', 'c2', 2);
    await fx.publish('c2'); // c1 has not republished: its record still claims 0.01btc at epoch 1
    // the bootstrap cache shows the change within its staleness bound (ttl 1 s, revalidated in the background)
    const deadline = Date.now() + 6000;
    let owner = await client.ownerOf('0.01btc', { refresh: true });
    while (owner.instanceId !== 'c2' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      owner = await client.ownerOf('0.01btc', { refresh: true });
    }
    expect(owner).toMatchObject({ instanceId: 'c2', epoch: 2 });
  });

  it('fails with every entry named when only bad entries are given', async () => {
    const client = new DirectoryClient({ bootstrapUrls: [tamperUrl, deadUrl], publicKey: fx.publicKeyHex });
    await expect(client.refresh()).rejects.toThrow(/No bootstrap entry gave a valid directory \(2 tried\)/);
    expect(
      client
        .lastFailures()
        .map((f) => f.reason)
        .sort(),
    ).toEqual(['forged', 'unreachable']);
  });
});
