/**
 * Cluster routing with fakes: SUBSCRIBE for a pool served here reaches the
 * engine; for a pool served elsewhere a redirect-aware client gets a
 * RedirectResponse (valid per its schema) and an unmodified client an
 * ErrorResponse; an unowned pool waits for an owner; inputsHashes of mixes
 * entering REGISTER_OUTPUT are recorded once with the pool's fence; REST
 * registerOutput is handled locally or redirected with 307.
 */
import { describe, expect, it } from 'vitest';
import type { PoolOwner } from '#coordinator/cluster/cluster_node.ts';
import { ClusterStompApplication, clusterRegisterOutput } from '#coordinator/cluster/cluster_routing.ts';
import { silentLogger } from '#coordinator/log.ts';
import type { LeaseFence } from '#coordinator/mix/types.ts';
import type { ClientSession } from '#coordinator/transport/stomp_application.ts';
import { RedirectResponseSchema } from '#shared/protocol/redirect.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakeSession(id: string, connect: Record<string, string> = {}) {
  const sent: Array<[string, unknown]> = [];
  const s = {
    id,
    ip: '127.0.0.1',
    connectHeaders: new Map(Object.entries(connect)),
    transport: 'websocket' as const,
    closed: false,
    closeReason: undefined as string | undefined,
    sendPrivate(name: string, payload: unknown) {
      sent.push([name, payload]);
    },
    close(reason?: string) {
      s.closed = true;
      s.closeReason = reason;
    },
  };
  return { session: s as unknown as ClientSession & { closeReason?: string }, sent };
}

/** Pools of the fake engine's configuration. */
const CONFIGURED = ['p1', 'p2'];

function setup(
  served: string[],
  owners: Record<string, PoolOwner>,
  opts: { relayUnmodified?: boolean; clustered?: () => boolean | undefined } = {},
) {
  const calls: string[] = [];
  const sessionsSeen: ClientSession[] = [];
  const engine = {
    servedPools: () => served,
    isConfiguredPool: (poolId: string) => CONFIGURED.includes(poolId),
    onSubscribe(s: ClientSession, _d: string, h: ReadonlyMap<string, string>) {
      sessionsSeen.push(s);
      calls.push(`subscribe ${s.id} ${h.get('poolId')}`);
    },
    onSend(s: ClientSession, d: string) {
      sessionsSeen.push(s);
      calls.push(`send ${s.id} ${d}`);
    },
    onDisconnect(s: ClientSession) {
      calls.push(`disconnect ${s.id}`);
    },
  };
  const fences: Record<string, LeaseFence> = { p1: { poolId: 'p1', instanceId: 'me', epoch: 7 } };
  const records: Array<[string, string, LeaseFence]> = [];
  const app = new ClusterStompApplication({
    engine,
    routing: {
      instanceId: 'me',
      get clustered() {
        return opts.clustered ? opts.clustered() : true;
      },
      fenceOf: (p) => fences[p] ?? null,
      ownerOf: (p) => owners[p] ?? null,
    },
    inputsHashes: {
      record: async (h, m, f) => {
        records.push([h, m, f]);
        return true;
      },
    },
    logger: silentLogger(),
    unownedWaitMs: 300,
    redirectCloseMs: 50,
    relayUnmodified: opts.relayUnmodified,
  });
  return { app, calls, records, sessionsSeen, owners };
}

const sub = (poolId: string, extra: Record<string, string> = {}) =>
  new Map(Object.entries({ poolId, ...extra }));
const OTHER: PoolOwner = {
  poolId: 'p2',
  instanceId: 'them',
  urlClear: 'http://them:8080',
  urlOnion: null,
  epoch: 3,
};

describe('ClusterStompApplication', () => {
  it('passes a subscription to a pool served here to the engine', () => {
    const t = setup(['p1'], {});
    const { session } = fakeSession('s1');
    t.app.onSubscribe(session, '/private/reply', sub('p1'));
    expect(t.calls).toEqual(['subscribe s1 p1']);
  });

  it('redirects a redirect-aware client to the owner, then closes the session', async () => {
    const t = setup(['p1'], { p2: OTHER });
    const { session, sent } = fakeSession('s2');
    t.app.onSubscribe(session, '/private/reply', sub('p2', { acceptRedirect: 'true' }));
    expect(t.calls).toEqual([]);
    expect(sent.length).toBe(1);
    expect(sent[0]![0]).toBe('RedirectResponse');
    expect(RedirectResponseSchema.parse(sent[0]![1])).toEqual({
      poolId: 'p2',
      instanceId: 'them',
      urlClear: 'http://them:8080',
      urlOnion: null,
      epoch: 3,
    });
    await sleep(80);
    expect(session.closed).toBe(true);
  });

  it('also honours acceptRedirect on CONNECT', () => {
    const t = setup([], { p2: OTHER });
    const { session, sent } = fakeSession('s3', { acceptRedirect: '1' });
    t.app.onSubscribe(session, '/private/reply', sub('p2'));
    expect(sent[0]![0]).toBe('RedirectResponse');
  });

  it('answers an unmodified 0.23 client with an ErrorResponse naming the owner when relaying is off', () => {
    const t = setup([], { p2: OTHER }, { relayUnmodified: false });
    const { session, sent } = fakeSession('s4');
    t.app.onSubscribe(session, '/private/reply', sub('p2'));
    expect(sent).toEqual([
      [
        'ErrorResponse',
        { mixId: null, message: 'Pool p2 is served by another coordinator instance: http://them:8080' },
      ],
    ]);
  });

  it('falls back to the ErrorResponse when the owner URL cannot be relayed to', () => {
    const t = setup([], { p2: { ...OTHER, urlClear: 'ftp://them' } });
    const { session, sent } = fakeSession('s4b');
    t.app.onSubscribe(session, '/private/reply', sub('p2'));
    expect(sent).toEqual([
      [
        'ErrorResponse',
        { mixId: null, message: 'Pool p2 is served by another coordinator instance: ftp://them' },
      ],
    ]);
  });

  it('answers an unmodified client with an ErrorResponse when the owner has no clear URL', () => {
    const t = setup([], { p2: { ...OTHER, urlClear: null, urlOnion: 'http://x.onion' } });
    const { session, sent } = fakeSession('s4c');
    t.app.onSubscribe(session, '/private/reply', sub('p2'));
    expect(sent).toEqual([
      [
        'ErrorResponse',
        { mixId: null, message: 'Pool p2 is served by another coordinator instance: http://x.onion' },
      ],
    ]);
  });

  it('waits for an owner when the pool is unowned, then decides (here: it became ours)', async () => {
    const served: string[] = [];
    const t = setup(served, {});
    const { session } = fakeSession('s5');
    t.app.onSubscribe(session, '/private/reply', sub('p1'));
    await sleep(120);
    expect(t.calls).toEqual([]);
    served.push('p1');
    await sleep(150);
    expect(t.calls).toEqual(['subscribe s5 p1']);
  });

  it('hands the engine the unowned subscription after the wait (it answers Pool not found)', async () => {
    const t = setup([], {});
    const { session } = fakeSession('s6');
    t.app.onSubscribe(session, '/private/reply', sub('nope'));
    await sleep(450);
    expect(t.calls).toEqual(['subscribe s6 nope']);
  });

  it('closes the session of a configured pool still unowned after the wait, so the client reconnects', async () => {
    const t = setup([], {});
    const { session, sent } = fakeSession('s7');
    t.app.onSubscribe(session, '/private/reply', sub('p1'));
    await sleep(450);
    expect(t.calls).toEqual([]);
    expect(sent).toEqual([]);
    expect(session.closed).toBe(true);
    expect(session.closeReason).toBe('pool p1 has no owner yet');
  });

  it('waits while the cluster node is still starting instead of letting the engine answer alone', async () => {
    let clustered: boolean | undefined;
    const served: string[] = [];
    const t = setup(served, {}, { clustered: () => clustered });
    const { session, sent } = fakeSession('s8');
    t.app.onSubscribe(session, '/private/reply', sub('p1'));
    await sleep(120);
    expect(t.calls).toEqual([]);
    expect(sent).toEqual([]);
    // the node attached and took the pool
    clustered = true;
    served.push('p1');
    await sleep(150);
    expect(t.calls).toEqual(['subscribe s8 p1']);
  });

  it('lets the engine decide alone when clustering is disabled', () => {
    const t = setup([], {}, { clustered: () => false });
    const { session } = fakeSession('s9');
    t.app.onSubscribe(session, '/private/reply', sub('p1'));
    expect(t.calls).toEqual(['subscribe s9 p1']);
  });

  it('records the inputsHash once per mix with the pool fence, and keeps the session identity for the engine', async () => {
    const t = setup(['p1'], {});
    const a = fakeSession('s7');
    const b = fakeSession('s8');
    t.app.onSubscribe(a.session, '/private/reply', sub('p1'));
    t.app.onSubscribe(b.session, '/private/reply', sub('p1'));
    t.app.onSend(a.session, '/ws/registerInput', new Map(), '{}');
    expect(t.sessionsSeen[0]).toBe(t.sessionsSeen[2]);
    const payload = { status: 'REGISTER_OUTPUT', mixId: 'm1', inputsHash: 'h1' };
    t.sessionsSeen[0]!.sendPrivate('RegisterOutputMixStatusNotification', payload);
    t.sessionsSeen[1]!.sendPrivate('RegisterOutputMixStatusNotification', payload);
    await sleep(5);
    expect(t.records).toEqual([['h1', 'm1', { poolId: 'p1', instanceId: 'me', epoch: 7 }]]);
    expect(a.sent).toEqual([['RegisterOutputMixStatusNotification', payload]]);
    t.app.onDisconnect(a.session);
    expect(t.calls.at(-1)).toBe('disconnect s7');
  });
});

describe('clusterRegisterOutput', () => {
  const req = { inputsHash: 'h9', unblindedSignedBordereau: 'x', receiveAddress: 'bcrt1q', bordereau: null };
  it('lets the engine handle a mix it holds', async () => {
    const handled: string[] = [];
    const fn = clusterRegisterOutput({
      engine: {
        findMixByInputsHash: () => ({ poolId: 'p1' }),
        registerOutput: async (r) => {
          handled.push(r.inputsHash);
        },
      },
      instanceId: 'me',
      inputsHashes: { find: async () => null },
      logger: silentLogger(),
    });
    expect(await fn(req as never)).toBeUndefined();
    expect(handled).toEqual(['h9']);
  });

  it('redirects to the holder of the inputsHash with 307 semantics', async () => {
    const fn = clusterRegisterOutput({
      engine: {
        findMixByInputsHash: () => null,
        registerOutput: async () => {
          throw new Error('must not be called');
        },
      },
      instanceId: 'me',
      inputsHashes: {
        find: async () => ({
          inputsHash: 'h9',
          poolId: 'p2',
          mixId: 'm',
          instanceId: 'them',
          epoch: 1,
          urlClear: 'http://them:8080/',
          urlOnion: null,
        }),
      },
      logger: silentLogger(),
    });
    expect(await fn(req as never)).toEqual({ redirectTo: 'http://them:8080/rest/registerOutput' });
  });

  it('falls back to the engine (its own error) when nobody holds the inputsHash', async () => {
    const fn = clusterRegisterOutput({
      engine: {
        findMixByInputsHash: () => null,
        registerOutput: async () => {
          throw new Error('Mix not found');
        },
      },
      instanceId: 'me',
      inputsHashes: { find: async () => null },
      logger: silentLogger(),
      lookupWaitMs: 150,
    });
    await expect(fn(req as never)).rejects.toThrow('Mix not found');
  });

  it('bounds the lookups of unknown inputsHashes: at most 4 per request, one each beyond the waiting cap', async () => {
    let queries = 0;
    const fn = clusterRegisterOutput({
      engine: {
        findMixByInputsHash: () => null,
        registerOutput: async () => {
          throw new Error('Mix not found');
        },
      },
      instanceId: 'me',
      inputsHashes: {
        find: async () => {
          queries++;
          return null;
        },
      },
      logger: silentLogger(),
      lookupWaitMs: 60,
      maxWaitingLookups: 5,
    });
    await expect(fn(req as never)).rejects.toThrow('Mix not found');
    expect(queries).toBe(2); // at 0 and at the 60 ms end of the wait
    queries = 0;
    const all = await Promise.allSettled(Array.from({ length: 100 }, () => fn(req as never)));
    expect(all.every((r) => r.status === 'rejected')).toBe(true);
    expect(queries).toBe(5 * 2 + 95);
  });
});
