/**
 * End-to-end smoke test of `node coordinator/main.ts` as a real process
 * against btcd regtest and MariaDB: it migrates, connects, serves
 * `/rest/pools`, `/rest/tx0`, `/rest/system/health` and `/metrics`, takes the
 * pool leases, and on SIGTERM drains, releases its leases and exits 0. Also:
 * an invalid configuration exits 2 listing the problems without secrets, and
 * a node on another chain is refused at start.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { DirectoryResponseSchema } from '#shared/directory/response.ts';
import {
  HealthResponseSchema,
  PoolsResponseSchema,
  Tx0DataResponseSchema,
} from '#shared/protocol/messages.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { connectTestDb, createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { pollFor } from '#test/support/poll.ts';

const WORDS = 'all all all all all all all all all all all all';
const PASSPHRASE = 'whirlpool-smoke-secret';
const DIRECTORY_KEY = '5a'.repeat(32);

async function until<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  return pollFor(what, fn, { timeoutMs, intervalMs: 300 });
}

interface Running {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  output(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

function runCoordinator(env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['coordinator/main.ts'], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let buf = '';
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    buf += d.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
      i = buf.indexOf('\n');
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    lines,
    output: () => out,
    exit,
    async waitFor(pred, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(pred);
        if (found) return found;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`coordinator log line not found (exit ${child.exitCode}):\n${out}`);
        }
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 500);
        });
      }
    },
  };
}

describe('npm run coordinator (real process)', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let baseEnv: Record<string, string>;

  beforeAll(async () => {
    [db, btcd] = await Promise.all([createTestDatabase('coordinator smoke'), startBtcd({ matureBlocks: 1 })]);
    baseEnv = {
      ...baseCoordinatorEnv({ dbUrl: db.url, rpcUrl: btcd.rpcUrl, secretWalletWords: WORDS }),
      WHIRLPOOL_SECRET_WALLET_PASSPHRASE: PASSPHRASE,
      WHIRLPOOL_PORT: '0',
      WHIRLPOOL_TX0_DELAY_MS: '0',
      WHIRLPOOL_INSTANCE_ID: 'smoke-1',
      WHIRLPOOL_LOG_LEVEL: 'info',
      WHIRLPOOL_URL_CLEAR: 'http://smoke-1.example:8080',
      WHIRLPOOL_DIRECTORY_PRIVATE_KEY: DIRECTORY_KEY,
    };
  });
  afterAll(async () => {
    await btcd?.stop();
    await db?.drop();
  });

  it('starts, answers REST and metrics, holds the leases, and stops cleanly on SIGTERM', async () => {
    const c = runCoordinator(baseEnv);
    try {
      const listening = await c.waitFor((l) => l.msg === 'HTTP server listening');
      await c.waitFor((l) => l.msg === 'coordinator started');
      const base = `http://127.0.0.1:${listening.port as number}`;

      const poolsRes = await fetch(`${base}/rest/pools`);
      expect(poolsRes.status).toBe(200);
      expect(poolsRes.headers.get('protocolVersion')).toBe('0.23');
      const pools = PoolsResponseSchema.parse(await poolsRes.json());
      expect(pools.pools.map((p) => p.poolId)).toEqual(['0.01btc', '0.001btc']);

      const health = HealthResponseSchema.parse(await (await fetch(`${base}/rest/system/health`)).json());
      expect(health).toEqual({ status: 'OK', error: null });

      const tx0 = Tx0DataResponseSchema.parse(
        await (await fetch(`${base}/rest/tx0?poolId=0.01btc&scode=null`)).json(),
      );
      expect(tx0).toMatchObject({ feeValue: 50000, feeIndice: 1 });
      expect(tx0.feeAddress).toMatch(/^bcrt1q/);

      const directory = await until('this instance in GET /instances', async () => {
        const body = DirectoryResponseSchema.parse(await (await fetch(`${base}/instances`)).json());
        return body.records.length === 1 ? body : null;
      });
      expect(directory.pools).toEqual({
        '0.001btc': { instanceId: 'smoke-1', epoch: expect.any(Number) },
        '0.01btc': { instanceId: 'smoke-1', epoch: expect.any(Number) },
      });

      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('whirlpool_http_requests_total');

      const conn = await connectTestDb(db.url);
      try {
        const [leases] = await conn.query<RowDataPacket[]>(
          'SELECT pool_id, owner FROM pool_lease ORDER BY pool_id',
        );
        expect(leases.map((r) => [r.pool_id, r.owner])).toEqual([
          ['0.001btc', 'smoke-1'],
          ['0.01btc', 'smoke-1'],
        ]);
        c.child.kill('SIGTERM');
        const exit = await c.exit;
        expect(exit, c.output()).toEqual({ code: 0, signal: null });
        expect(c.lines.some((l) => l.msg === 'coordinator stopped')).toBe(true);
        const [after] = await conn.query<RowDataPacket[]>('SELECT owner FROM pool_lease');
        expect(after.map((r) => r.owner)).toEqual([null, null]);
        const [records] = await conn.query<RowDataPacket[]>('SELECT instance_id FROM directory_record');
        expect(records).toEqual([]);
      } finally {
        await conn.end();
      }
      for (const secret of [PASSPHRASE, 'all all all', DIRECTORY_KEY])
        expect(c.output()).not.toContain(secret);
    } finally {
      c.child.kill('SIGKILL');
    }
  });

  it('exits 2 listing every configuration problem, without secrets', async () => {
    const c = runCoordinator({
      ...baseEnv,
      WHIRLPOOL_DB_URL: 'mysql://root:db-very-secret@127.0.0.1:3306',
      WHIRLPOOL_PORT: 'eighty',
      WHIRLPOOL_SECRET_WALLET_WORDS: 'not a mnemonic',
    });
    const exit = await c.exit;
    expect(exit.code).toBe(2);
    const out = c.output();
    expect(out).toContain('Invalid configuration (3 problems)');
    expect(out).toContain('WHIRLPOOL_PORT');
    expect(out).toContain('WHIRLPOOL_SECRET_WALLET_WORDS');
    expect(out).toContain('WHIRLPOOL_DB_URL');
    expect(out).not.toContain('db-very-secret');
    expect(out).not.toContain(PASSPHRASE);
  });

  it('exits 2 on an invalid cluster setting, before touching the database', async () => {
    const c = runCoordinator({ ...baseEnv, WHIRLPOOL_LEASE_TTL_MS: 'soon' });
    const exit = await c.exit;
    expect(exit.code, c.output()).toBe(2);
    expect(c.output()).toContain('WHIRLPOOL_LEASE_TTL_MS');
    expect(c.lines.some((l) => l.msg === 'database schema up to date')).toBe(false);
  });

  it('refuses a node on another chain', async () => {
    const c = runCoordinator({ ...baseEnv, WHIRLPOOL_NETWORK: 'testnet', WHIRLPOOL_INSTANCE_ID: 'smoke-2' });
    const exit = await c.exit;
    expect(exit.code, c.output()).toBe(1);
    expect(c.output()).toContain("Bitcoin node is on chain 'regtest' but WHIRLPOOL_NETWORK is 'testnet'");
  });
});
