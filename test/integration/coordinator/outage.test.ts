/**
 * A running coordinator process survives database and bitcoin-node outages
 * (both cut through TCP proxies): it keeps running, `/rest/pools` still
 * answers from the configuration, `/rest/system/health` reports the failing
 * dependencies, `/rest/tx0` answers `Error` instead of hanging, and once the
 * dependencies are back everything works again and SIGTERM still exits 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { HealthResponseSchema, PoolsResponseSchema } from '#shared/protocol/messages.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { createTestDatabase, TEST_DB_URL, type TestDatabase } from '#test/support/db.ts';
import { pollFor } from '#test/support/poll.ts';
import { startTcpProxy, type TcpProxy } from '#test/support/tcp_proxy.ts';

async function until<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 40_000): Promise<T> {
  return pollFor(what, fn, { timeoutMs, intervalMs: 500, retryErrors: true });
}

describe('coordinator process under outages', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let dbProxy: TcpProxy;
  let rpcProxy: TcpProxy;
  let child: ChildProcess | null = null;
  let out = '';

  beforeAll(async () => {
    [db, btcd] = await Promise.all([
      createTestDatabase('coordinator outage'),
      startBtcd({ matureBlocks: 1 }),
    ]);
    const dbTarget = new URL(TEST_DB_URL);
    dbProxy = await startTcpProxy({ host: dbTarget.hostname, port: Number(dbTarget.port || 3306) });
    const rpc = new URL(btcd.rpcUrl);
    rpcProxy = await startTcpProxy({ host: rpc.hostname, port: Number(rpc.port) });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await dbProxy?.close();
    await rpcProxy?.close();
    await btcd?.stop();
    await db?.drop();
  });

  it('keeps serving through a database and node outage and recovers', async () => {
    const rpcUrl = new URL(btcd.rpcUrl);
    rpcUrl.port = String(rpcProxy.port);
    const proc = spawn(process.execPath, ['coordinator/main.ts'], {
      env: {
        PATH: process.env.PATH ?? '',
        ...baseCoordinatorEnv({ dbUrl: dbProxy.rewriteUrl(db.url), rpcUrl: rpcUrl.toString() }),
        WHIRLPOOL_PORT: '0',
        WHIRLPOOL_TX0_DELAY_MS: '0',
        WHIRLPOOL_RPC_TIMEOUT_MS: '2000',
        WHIRLPOOL_INSTANCE_ID: 'outage-1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));

    const port = await until('the listening log line', async () => {
      const m = /"port":(\d+)[^\n]*"msg":"HTTP server listening"/.exec(out);
      return m && out.includes('"msg":"coordinator started"') ? Number(m[1]) : null;
    });
    const base = `http://127.0.0.1:${port}`;
    const health = async () =>
      HealthResponseSchema.parse(await (await fetch(`${base}/rest/system/health`)).json());
    expect(await health()).toEqual({ status: 'OK', error: null });

    dbProxy.refuse();
    rpcProxy.refuse();
    const bad = await until('health ERROR', async () => {
      const h = await health();
      return h.status === 'ERROR' && /database/.test(h.error ?? '') && /bitcoinNode/.test(h.error ?? '')
        ? h
        : null;
    });
    expect(bad.error).not.toMatch(/password|secret/i);

    const pools = await fetch(`${base}/rest/pools`);
    expect(pools.status).toBe(200);
    expect(PoolsResponseSchema.parse(await pools.json()).pools).toHaveLength(2);
    const tx0 = await fetch(`${base}/rest/tx0?poolId=0.01btc&scode=null`);
    expect(tx0.status).toBe(500);
    expect(await tx0.json()).toEqual({ message: 'Error' });

    // a few lease polls fail during the outage; the process must stay up
    await new Promise((r) => setTimeout(r, 5000));
    expect(proc.exitCode, out).toBeNull();

    dbProxy.heal();
    rpcProxy.heal();
    await until('health OK again', async () => ((await health()).status === 'OK' ? true : null));
    const again = await until('tx0 answering again', async () => {
      const r = await fetch(`${base}/rest/tx0?poolId=0.01btc&scode=null`);
      return r.status === 200 ? ((await r.json()) as { feeIndice: number }) : null;
    });
    expect(again.feeIndice).toBeGreaterThanOrEqual(1);

    proc.kill('SIGTERM');
    expect(await exited, out).toBe(0);
    // outages are handled where they happen, not by the last-resort process handlers
    expect(out).not.toContain('unhandled promise rejection');
    expect(out).not.toContain('uncaught exception');
  });
});
