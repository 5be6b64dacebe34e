/**
 * The client CLI as a real process against btcd regtest and the real
 * coordinator: wallet create (mnemonic written 0600, not printed), restore
 * from the environment, deposit address, balances, pools, a broadcast Tx0,
 * and clear one-line errors.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet } from '#client/wallet/wallet.ts';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { type Coordinator, startCoordinator } from './coordinator_process.ts';

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['client/cli/main.ts', ...args], {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('client CLI (real process)', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let coordinator: Coordinator;
  let dir: string;
  let base: string[];

  beforeAll(async () => {
    [db, btcd, dir] = await Promise.all([
      createTestDatabase('client cli'),
      startBtcd(),
      mkdtemp(join(tmpdir(), 'wp-cli-')),
    ]);
    coordinator = await startCoordinator({
      WHIRLPOOL_DB_URL: db.url,
      WHIRLPOOL_BITCOIN_RPC_URL: btcd.rpcUrl,
      WHIRLPOOL_NETWORK: 'regtest',
      WHIRLPOOL_POOLS: 'config/pools.regtest.json',
      WHIRLPOOL_SECRET_WALLET_WORDS: Wallet.generateMnemonic(),
      WHIRLPOOL_PORT: '0',
      WHIRLPOOL_HOST: '127.0.0.1',
      WHIRLPOOL_TX0_DELAY_MS: '0',
      WHIRLPOOL_CLUSTER_ENABLED: 'false',
    });
    base = ['--server', coordinator.url, '--rpc', btcd.rpcUrl, '--state-file', join(dir, 'state.json')];
  });
  afterAll(async () => {
    await coordinator?.stop();
    await btcd?.stop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates a wallet, funds it, lists pools and balances, and broadcasts a Tx0', async () => {
    const mnemonicFile = join(dir, 'words.txt');
    const created = await cli([...base, '--mnemonic-file', mnemonicFile, 'wallet', 'create']);
    expect(created.code, created.stderr).toBe(0);
    const words = (await readFile(mnemonicFile, 'utf8')).trim();
    expect(Wallet.isValidMnemonic(words)).toBe(true);
    expect((await stat(mnemonicFile)).mode & 0o777).toBe(0o600);
    expect(created.stdout).not.toContain(words);
    expect((await cli([...base, '--mnemonic-file', mnemonicFile, 'wallet', 'create'])).stderr).toMatch(
      /already exists; refusing to overwrite/,
    );

    const env = { WHIRLPOOL_MNEMONIC: words };
    const addr = await cli([...base, 'wallet', 'address'], env);
    expect(addr.code, addr.stderr).toBe(0);
    const address = addr.stdout.trim();
    expect(Wallet.fromMnemonic(words, { network: 'regtest' }).keyForAddress(address)?.path).toBe(
      "m/84'/1'/0'/0/0",
    );
    await btcd.wallet.fund(address, 5_000_000n);
    await btcd.mine(1);

    const pools = await cli([...base, 'pools'], env);
    expect(pools.stdout).toMatch(/0\.01btc\s+denomination 0\.01000000 BTC/);
    const balances = await cli([...base, 'balances'], env);
    expect(balances.stdout).toMatch(/deposit\s+0\.05000000 BTC/);

    const tx0 = await cli(
      [...base, 'tx0', '--pool', '0.01btc', '--fee-rate', '2', '--max-outputs', '3'],
      env,
    );
    expect(tx0.code, tx0.stderr).toBe(0);
    const txid = /Broadcast Tx0 ([0-9a-f]{64})/.exec(tx0.stdout)?.[1];
    expect(txid).toBeDefined();
    expect(await btcd.rpc.getRawTransaction(txid!)).not.toBeNull();
    await btcd.mine(1);
    const after = await cli([...base, 'balances'], env);
    expect(after.stdout).toMatch(/premix\s+0\.03\d+ BTC/);
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as {
      counters: Record<string, unknown>;
    };
    expect(state.counters['premix/0']).toEqual({ next: 3 });
    expect(JSON.stringify(state)).not.toContain(words.split(' ')[0]! + ' ');
  });

  it('mix registers a premix UTXO and stops cleanly on SIGINT', async () => {
    const words = (await readFile(join(dir, 'words.txt'), 'utf8')).trim();
    const child = spawn(
      process.execPath,
      ['client/cli/main.ts', ...base, 'mix', '--pool', '0.01btc', '--count', '1'],
      {
        cwd: process.cwd(),
        env: { PATH: process.env.PATH ?? '', WHIRLPOOL_MNEMONIC: words },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // The regtest pool (anonymity set 2, one liquidity needed) keeps the input queued: wait until the
    // coordinator has it, then interrupt.
    const deadline = Date.now() + 30_000;
    const busy = async () => {
      const { pools } = (await (await fetch(`${coordinator.url}/rest/pools`)).json()) as {
        pools: Array<{ poolId: string; nbRegistered: number; nbConfirmed: number }>;
      };
      const p = pools.find((x) => x.poolId === '0.01btc');
      return (p?.nbRegistered ?? 0) + (p?.nbConfirmed ?? 0) > 0;
    };
    while (!(await busy())) {
      if (Date.now() > deadline) throw new Error(`input never registered:\n${out}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(out).toContain('0/1 mixed');
    expect(out).toMatch(/Attempt failed for [0-9a-f]{64}:\d+: STOPPED/);
  });

  it('--generation makes the Tx0 the way that Java generation does; an unknown one is refused', async () => {
    const unknown = await cli([...base, '--generation', 'G9', 'pools'], {
      WHIRLPOOL_MNEMONIC: Wallet.generateMnemonic(),
    });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Allowed choices are G0, G1-G2, G3, G4, G5, G6/);
    for (const [generation, script] of [
      ['G3', '00000000000000426a40'],
      ['G5', '00000000000000536a4c50'],
    ] as const) {
      const words = Wallet.generateMnemonic();
      const env = { WHIRLPOOL_MNEMONIC: words };
      const state = ['--state-file', join(dir, `state-${generation}.json`)];
      const address = Wallet.fromMnemonic(words, { network: 'regtest' }).account('deposit').key(0, 0).address;
      await btcd.wallet.fund(address, 3_000_000n);
      await btcd.mine(1);
      const tx0 = await cli(
        [...base, ...state, '--generation', generation, 'tx0', '--pool', '0.01btc', '--max-outputs', '1'],
        env,
      );
      expect(tx0.code, tx0.stderr).toBe(0);
      const txid = /Broadcast Tx0 ([0-9a-f]{64})/.exec(tx0.stdout)?.[1];
      const raw = await btcd.rpc.getRawTransaction(txid!);
      // The fee OP_RETURN output (value 0, script length, script): V0 (64 bytes, G3) or V1 (80 bytes, G5).
      expect(raw?.hex.includes(script), generation).toBe(true);
    }
  });

  it('prints one clear line on errors', async () => {
    const bad = await cli([...base, '--mnemonic-file', join(dir, 'missing.txt'), 'balances']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^Error: Mnemonic file '.*missing\.txt' does not exist$/);
    await writeFile(join(dir, 'junk.txt'), 'not a mnemonic at all');
    const junk = await cli([...base, '--mnemonic-file', join(dir, 'junk.txt'), 'pools']);
    expect(junk.stderr.trim()).toBe('Error: The mnemonic is not a valid BIP39 English mnemonic');
    const down = await cli(
      ['--server', 'http://127.0.0.1:1', '--state-file', join(dir, 's2.json'), 'pools'],
      {
        WHIRLPOOL_MNEMONIC: Wallet.generateMnemonic(),
      },
    );
    expect(down.stderr.trim()).toMatch(
      /^Error: Coordinator request GET http:\/\/127\.0\.0\.1:1\/rest\/pools failed/,
    );
    const unknownPool = await cli([...base, 'tx0', '--pool', 'nope'], {
      WHIRLPOOL_MNEMONIC: Wallet.generateMnemonic(),
    });
    expect(unknownPool.stderr.trim()).toMatch(/^Error: (Coordinator .* has no pool 'nope'|No deposit UTXO)/);
  });
});
