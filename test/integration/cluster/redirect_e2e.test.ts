/**
 * Redirection end to end with two real coordinator processes on btcd
 * regtest and one MariaDB database (two pools, one per instance): a raw STOMP
 * client announcing `acceptRedirect:true` that subscribes at the instance not
 * serving its pool gets a `RedirectResponse` naming the owner (URL, epoch as
 * in `pool_lease`), follows it and gets the 0.23 `SubscribePoolResponse`
 * there; `POST /rest/registerOutput` for an inputsHash held by the other
 * instance is answered with HTTP 307 to the holder's `/rest/registerOutput`.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { freePort } from '#devnet/ports.ts';
import { RedirectResponseSchema } from '#shared/protocol/redirect.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { connectTestDb, createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { ServeRecorder } from '#test/support/serve_recorder.ts';
import { RawClient } from '../transport/transport_fixture.ts';

const POOLS = ['0.01btc', '0.001btc'];
const HASH = 'ab'.repeat(64);
let db: TestDatabase;
let btcd: BtcdNode;
const recorder = new ServeRecorder();
const procs: Array<CoordinatorProcess & { url: string }> = [];

async function start(id: string): Promise<CoordinatorProcess & { url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const p = spawnCoordinator({
    instanceId: id,
    env: {
      ...baseCoordinatorEnv({ dbUrl: db.url, rpcUrl: btcd.rpcUrl }),
      WHIRLPOOL_PORT: String(port),
      WHIRLPOOL_URL_CLEAR: url,
      WHIRLPOOL_LOG_LEVEL: 'info',
    },
    onLine: (_l, raw) => recorder.recordLogLine(raw),
  });
  await p.waitFor((l) => l.msg === 'coordinator started', 60_000);
  const withUrl = Object.assign(p, { url });
  procs.push(withUrl);
  return withUrl;
}

function frame(command: string, headers: Record<string, string>): string {
  return `${command}\n${Object.entries(headers)
    .map(([k, v]) => `${k}:${v}`)
    .join('\n')}\n\n\0`;
}

/** CONNECT + SUBSCRIBE to `poolId` on `baseUrl`; resolves with the first MESSAGE frame's headers and body. */
async function subscribe(baseUrl: string, poolId: string, acceptRedirect: boolean) {
  const c = new RawClient(`${baseUrl.replace('http://', 'ws://')}/ws/connect/websocket`);
  await c.opened;
  c.send(frame('CONNECT', { 'accept-version': '1.2', 'heart-beat': '0,0', poolId }));
  await c.waitFor((m) => m.some((x) => x.startsWith('CONNECTED')));
  c.send(
    frame('SUBSCRIBE', {
      id: '0',
      destination: '/private/reply',
      poolId,
      protocolVersion: '0.23',
      ...(acceptRedirect ? { acceptRedirect: 'true' } : {}),
    }),
  );
  const msgs = await c.waitFor((m) => m.some((x) => x.startsWith('MESSAGE')), 10_000);
  const text = msgs.find((x) => x.startsWith('MESSAGE'))!;
  const [head, body] = text.split('\n\n');
  const headers = new Map(
    head!
      .split('\n')
      .slice(1)
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)] as [string, string]),
  );
  c.ws.close();
  return { headers, body: JSON.parse(body!.replace(/\0$/, '')) as unknown };
}

beforeAll(async () => {
  [db, btcd] = await Promise.all([
    createTestDatabase('cluster redirect e2e'),
    startBtcd({ matureBlocks: 1 }),
  ]);
  await start('ra');
  await start('rb');
  const until = Date.now() + 30_000;
  while (!['ra', 'rb'].every((i) => POOLS.some((p) => recorder.servingNow(p).includes(i)))) {
    if (Date.now() > until) throw new Error('pools not spread over both instances');
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  for (const p of procs) p.signal('SIGKILL');
  await Promise.all(procs.map((p) => p.exit));
  await btcd?.stop();
  await db?.drop();
});

describe('redirection between two real coordinator processes', () => {
  it('redirects a redirect-aware SUBSCRIBE to the owner, which then serves it', async () => {
    const pool = POOLS.find((p) => recorder.servingNow(p)[0] === 'rb')!;
    const a = procs.find((p) => p.instanceId === 'ra')!;
    const b = procs.find((p) => p.instanceId === 'rb')!;
    const conn = await connectTestDb(db.url);
    const [rows] = await conn.query<RowDataPacket[]>('SELECT epoch FROM pool_lease WHERE pool_id = ?', [
      pool,
    ]);
    await conn.end();

    const first = await subscribe(a.url, pool, true);
    expect(first.headers.get('messageType')).toBe(
      'com.samourai.whirlpool.protocol.websocket.messages.RedirectResponse',
    );
    expect(first.headers.get('protocolVersion')).toBe('0.23');
    expect(RedirectResponseSchema.parse(first.body)).toEqual({
      poolId: pool,
      instanceId: 'rb',
      urlClear: b.url,
      urlOnion: null,
      epoch: Number(rows[0]!.epoch),
    });

    const second = await subscribe(b.url, pool, true);
    expect(second.headers.get('messageType')).toBe(
      'com.samourai.whirlpool.protocol.websocket.messages.SubscribePoolResponse',
    );
  });

  it('answers registerOutput for an inputsHash held by the other instance with HTTP 307 to it', async () => {
    const pool = POOLS.find((p) => recorder.servingNow(p)[0] === 'rb')!;
    const a = procs.find((p) => p.instanceId === 'ra')!;
    const b = procs.find((p) => p.instanceId === 'rb')!;
    const conn = await connectTestDb(db.url);
    try {
      await conn.query(
        `INSERT INTO mix_inputs_hash (inputs_hash, pool_id, mix_id, instance_id, epoch, created_at, expires_at)
         SELECT ?, pool_id, 'e2e-mix', owner, epoch, NOW(3), NOW(3) + INTERVAL 1 MINUTE
         FROM pool_lease WHERE pool_id = ?`,
        [HASH, pool],
      );
    } finally {
      await conn.end();
    }
    const res = await fetch(`${a.url}/rest/registerOutput`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputsHash: HASH,
        unblindedSignedBordereau64: 'HelloWorld',
        receiveAddress: 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080',
      }),
      redirect: 'manual',
    });
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe(`${b.url}/rest/registerOutput`);
  });
});
