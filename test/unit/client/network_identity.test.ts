/**
 * The linkability checks of client/rest/network_identity.ts and the random
 * registerOutput delay of client/mix/output_delay.ts (issue 12).
 */
import { describe, expect, it } from 'vitest';
import { WhirlpoolClient } from '#client/api.ts';
import { registerOutputDelayMs } from '#client/mix/output_delay.ts';
import { linkabilityWarnings } from '#client/rest/network_identity.ts';
import { Wallet } from '#client/wallet/wallet.ts';

describe('linkabilityWarnings', () => {
  const f = () => undefined;
  const g = () => undefined;
  it('no proxy and no transport of the caller: a warning on mainnet only', () => {
    expect(linkabilityWarnings({ network: 'mainnet' })).toEqual([expect.stringMatching(/same IP address/)]);
    expect(linkabilityWarnings({ network: 'regtest' })).toEqual([]);
    expect(linkabilityWarnings({ network: 'testnet' })).toEqual([]);
  });
  it('a SOCKS proxy for inputs, for outputs, or both: no warning (fresh credentials each)', () => {
    expect(linkabilityWarnings({ network: 'mainnet', socksProxy: 'socks5h://127.0.0.1:9050' })).toEqual([]);
    expect(
      linkabilityWarnings({ network: 'mainnet', registerOutputProxy: 'socks5h://127.0.0.1:9050' }),
    ).toEqual([]);
  });
  it('registerOutput on the same fetch as the rest (same identity): warned on every network', () => {
    expect(linkabilityWarnings({ network: 'regtest', fetch: f })).toEqual([
      expect.stringMatching(/same fetch/),
    ]);
    expect(linkabilityWarnings({ network: 'regtest', fetch: f, registerOutputFetch: f })).toEqual([
      expect.stringMatching(/same fetch/),
    ]);
    expect(linkabilityWarnings({ network: 'mainnet', fetch: f, registerOutputFetch: g })).toEqual([]);
  });
  it('the client reports them through onWarning', () => {
    const warnings: string[] = [];
    new WhirlpoolClient({
      serverUrl: 'https://x.example.org',
      wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' }),
      fetch: f as unknown as typeof fetch,
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toHaveLength(1);
  });
});

describe('registerOutputDelayMs', () => {
  it('is uniform over 0..max, both ends reachable, 0 when disabled', () => {
    expect(registerOutputDelayMs(0)).toBe(0);
    expect(registerOutputDelayMs(-5)).toBe(0);
    expect(registerOutputDelayMs(3000, () => 0)).toBe(0);
    expect(registerOutputDelayMs(3000, () => 0.999_999_999)).toBe(3000);
    expect(registerOutputDelayMs(3000, () => 0.5)).toBe(1500);
    for (let i = 0; i < 200; i++) {
      const d = registerOutputDelayMs(3000);
      expect(Number.isInteger(d) && d >= 0 && d <= 3000).toBe(true);
    }
  });
  it('the client refuses a bound outside 0..60000', () => {
    const wallet = Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' });
    expect(
      () =>
        new WhirlpoolClient({ serverUrl: 'http://127.0.0.1:1', wallet, registerOutputDelayMaxMs: 60_001 }),
    ).toThrow(/registerOutputDelayMaxMs must be an integer from 0 to 60000/);
  });
});

describe('CLI --prefer-onion', () => {
  it('reaches the directory client as the onion network, and needs --bootstrap', async () => {
    const { coordinatorOptions } = await import('#client/cli/cli_context.ts');
    const base = {
      network: 'regtest' as const,
      stateFile: 'x',
      transport: 'websocket' as const,
      reconnectDelay: '1',
      retryDelay: '1',
    };
    expect(
      coordinatorOptions({
        ...base,
        bootstrap: 'https://m1, https://m2',
        directoryKey: 'ab'.repeat(32),
        preferOnion: true,
      }),
    ).toEqual({
      bootstrap: {
        urls: ['https://m1', 'https://m2'],
        directoryPublicKey: 'ab'.repeat(32),
        preferOnion: true,
      },
    });
    expect(() => coordinatorOptions({ ...base, server: 'http://x', preferOnion: true })).toThrow(
      /--prefer-onion needs --bootstrap/,
    );
    const client = new WhirlpoolClient({
      bootstrap: { urls: ['https://m1'], directoryPublicKey: 'ab'.repeat(32), preferOnion: true },
      wallet: Wallet.fromMnemonic(Wallet.generateMnemonic(), { network: 'regtest' }),
    });
    expect(client.directory!.network).toBe('onion');
  });
});

describe('CLI pinned root keys', () => {
  it('--directory-root-keys gives the client several roots; with --directory-key it is refused', async () => {
    const { coordinatorOptions } = await import('#client/cli/cli_context.ts');
    const base = {
      network: 'regtest' as const,
      stateFile: 'x',
      transport: 'websocket' as const,
      reconnectDelay: '1',
      retryDelay: '1',
    };
    const k1 = 'ab'.repeat(32);
    const k2 = 'cd'.repeat(32);
    expect(
      coordinatorOptions({ ...base, bootstrap: 'https://m', directoryRootKeys: `${k1}, ${k2}` }),
    ).toEqual({
      bootstrap: { urls: ['https://m'], directoryRootKeys: [k1, k2], preferOnion: false },
    });
    expect(() =>
      coordinatorOptions({ ...base, bootstrap: 'https://m', directoryRootKeys: k1, directoryKey: k2 }),
    ).toThrow(/not both/);
    expect(() => coordinatorOptions({ ...base, bootstrap: 'https://m' })).toThrow(/--directory-root-keys/);
  });
});
