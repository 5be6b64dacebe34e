/**
 * Pools file validation: the shipped regtest example, defaults of spec §7.1,
 * unit conversions (seconds → ms), scode rules (§4.6.6, §7.1 startup
 * validation), and errors listing every problem with its JSON path; plus
 * loadConfig combining environment and pools-file problems.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '#coordinator/config/config_error.ts';
import { engineParams, loadConfig } from '#coordinator/config/load_config.ts';
import { loadPoolsFile, parsePoolsFile } from '#coordinator/config/pools_file.ts';

function problems(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parsePoolsFile', () => {
  it('loads the shipped regtest example', () => {
    const f = loadPoolsFile('config/pools.regtest.json');
    expect(f.pools.map((p) => p.id)).toEqual(['0.01btc', '0.001btc']);
    expect(f.pools[0]).toEqual({
      id: '0.01btc',
      denomination: 1000000,
      feeValue: 50000,
      feeAccept: [{ feeValue: 42500, maxTx0TimeMs: 1893456000000 }],
      minerFeeMin: 102,
      minerFeeCap: 9500,
      minerFeeMax: 10000,
      minerFeeMix: 510,
      mustMixMin: 1,
      liquidityMin: 1,
      anonymitySet: 2,
      minConfirmations: { mustMix: 0, liquidity: 0 },
      tx0MaxOutputs: 70,
    });
    expect(f.partners).toEqual([
      { id: 'SAMOURAI', payload: 0 },
      { id: 'SPARROW', payload: 1 },
    ]);
    expect(f.scodes).toEqual([
      { code: 'WELCOME', payload: 12345, feeValuePercent: 0, expiration: null, message: 'welcome' },
      { code: 'HALF', payload: 4321, feeValuePercent: 50, expiration: 1893456000000, message: 'half price' },
    ]);
    expect(f.engine).toEqual({
      liquidityIntervalMs: 2000,
      registerOutputTimeoutMs: 120000,
      revealOutputTimeoutMs: 40000,
      signingTimeoutMs: 40000,
      maxInputsSameHash: 1,
      maxInputsSameUserHash: 1,
      subscribeDelayMs: 1000,
      ban: { blames: 2, periodSeconds: 100, expirationSeconds: 1000, recidivismFactor: 2 },
    });
  });

  it('applies the reference defaults', () => {
    const f = parsePoolsFile({ pools: [{ id: 'p', denomination: 100000, feeValue: 5000, anonymitySet: 5 }] });
    expect(f.pools[0]).toMatchObject({
      feeAccept: [],
      minerFeeMin: 102,
      minerFeeCap: 9500,
      minerFeeMax: 10000,
      minerFeeMix: 510,
      mustMixMin: 1,
      liquidityMin: 1,
      minConfirmations: { mustMix: 0, liquidity: 0 },
    });
    expect(f.scodes).toEqual([]);
    expect(f.engine).toEqual({
      liquidityIntervalMs: 10000,
      registerOutputTimeoutMs: 120000,
      revealOutputTimeoutMs: 40000,
      signingTimeoutMs: 40000,
      maxInputsSameHash: 1,
      maxInputsSameUserHash: 1,
      subscribeDelayMs: 1000,
      ban: { blames: 8, periodSeconds: 7200, expirationSeconds: 43200, recidivismFactor: 2 },
    });
  });

  it('lets a pool override the minimum confirmations', () => {
    const f = parsePoolsFile({
      pools: [{ id: 'p', denomination: 100000, feeValue: 5000, anonymitySet: 5, minConfirmationsMustMix: 1 }],
      engine: { minConfirmationsLiquidity: 2 },
    });
    expect(f.pools[0]!.minConfirmations).toEqual({ mustMix: 1, liquidity: 2 });
  });

  it('partners, tx0MaxOutputs and the reserved cascading scode payload (addendum §4.2, §4.9, §3.2)', () => {
    const base = { id: 'p', denomination: 100000, feeValue: 5000, anonymitySet: 5 };
    const f = parsePoolsFile({
      pools: [{ ...base, tx0MaxOutputs: 25 }],
      partners: [
        { id: 'SAMOURAI', payload: 0 },
        { id: 'FREESIDE', payload: 7 },
      ],
    });
    expect(f.pools[0]!.tx0MaxOutputs).toBe(25);
    expect(f.partners).toEqual([
      { id: 'SAMOURAI', payload: 0 },
      { id: 'FREESIDE', payload: 7 },
    ]);
    expect(problems(() => parsePoolsFile({ pools: [{ ...base, tx0MaxOutputs: 0 }] })).join('\n')).toContain(
      'pools[0].tx0MaxOutputs',
    );
    expect(
      problems(() =>
        parsePoolsFile({ pools: [base], scodes: { X: { payload: 22222, feeValuePercent: 0 } } }),
      ).join('\n'),
    ).toContain('payload 22222 is reserved for CASCADING');
    const bad = problems(() =>
      parsePoolsFile({
        pools: [base],
        partners: [
          { id: 'A', payload: 1 },
          { id: 'A', payload: 1 },
        ],
      }),
    ).join('\n');
    expect(bad).toContain("duplicate partner id 'A'");
    expect(bad).toContain('duplicate partner payload 1');
    expect(bad).toContain('a partner with payload 0 is required');
  });

  it('lists every problem with its path', () => {
    const p = problems(() =>
      parsePoolsFile(
        {
          pools: [
            { id: 'bad id!', denomination: 0, feeValue: -1, anonymitySet: 5, minerFeeCapp: 1 },
            { id: 'ok', denomination: 1.5, feeValue: 1, anonymitySet: 0 },
          ],
          scodes: {
            X: { payload: 0, feeValuePercent: 100 },
            Y: { payload: 40000, feeValuePercent: 5, expiration: 0 },
          },
          engine: { ban: { blames: 0 } },
        },
        'pools.json',
      ),
    );
    const paths = p.map((l) => l.split(': ')[1]);
    expect(paths).toEqual(
      expect.arrayContaining([
        'pools[0].id',
        'pools[0].denomination',
        'pools[0].feeValue',
        'pools[0]',
        'pools[1].denomination',
        'pools[1].anonymitySet',
        'scodes.X.payload',
        'scodes.X.feeValuePercent',
        'scodes.Y.payload',
        'scodes.Y.expiration',
        'engine.ban.blames',
      ]),
    );
    expect(p.every((l) => l.startsWith('pools.json: '))).toBe(true);
    expect(p.find((l) => l.includes('pools[0]: '))).toMatch(/minerFeeCapp/);
  });

  it('refuses duplicate pool ids, duplicate scodes (case-insensitive) and impossible pools', () => {
    const p = problems(() =>
      parsePoolsFile({
        pools: [
          { id: 'a', denomination: 100000, feeValue: 1, anonymitySet: 5 },
          { id: 'a', denomination: 100000, feeValue: 1, anonymitySet: 1 },
        ],
        scodes: { abc: { payload: 1, feeValuePercent: 0 }, ABC: { payload: 2, feeValuePercent: 0 } },
      }),
    );
    expect(p).toEqual([
      "pools file: pools[1].id: duplicate pool id 'a'",
      'pools file: pools[1]: mustMixMin + liquidityMin exceeds anonymitySet (no mix could ever start)',
      'pools file: scodes.ABC: duplicate scode (codes are case-insensitive)',
    ]);
  });

  it('requires at least one pool', () => {
    expect(problems(() => parsePoolsFile({ pools: [] }))).toEqual([
      'pools file: pools: at least one pool is required',
    ]);
  });

  it('reports unreadable files and bad JSON', () => {
    expect(problems(() => loadPoolsFile('/nonexistent/pools.json'))).toEqual([
      "WHIRLPOOL_POOLS: cannot read '/nonexistent/pools.json' (ENOENT)",
    ]);
    expect(problems(() => loadPoolsFile('x.json', () => '{ nope'))[0]).toMatch(
      /^WHIRLPOOL_POOLS: 'x.json' is not valid JSON/,
    );
  });
});

describe('loadConfig', () => {
  const env = {
    WHIRLPOOL_DB_URL: 'mysql://root:pw@127.0.0.1:3306/whirlpool',
    WHIRLPOOL_BITCOIN_RPC_URL: 'http://u:p@127.0.0.1:18443',
    WHIRLPOOL_NETWORK: 'regtest',
    WHIRLPOOL_POOLS: 'config/pools.regtest.json',
    WHIRLPOOL_SECRET_WALLET_WORDS:
      'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about',
  };

  it('combines environment and pools file and maps to engine params', () => {
    const c = loadConfig({ ...env, WHIRLPOOL_TEST_MODE: 'true' });
    expect(c.pools).toHaveLength(2);
    const seed = new Uint8Array(64);
    const key = new Uint8Array(32).fill(1);
    const params = engineParams(c, { feeAddressSeed: seed, notificationPrivKey: key });
    expect(params).toMatchObject({
      network: 'regtest',
      testMode: true,
      mixEnabled: true,
      liquidityIntervalMs: 2000,
      ban: { blames: 2, periodSeconds: 100, expirationSeconds: 1000 },
    });
    expect(params.scodes).toHaveLength(2);
    expect(params.feeAddressSeed).toBe(seed);
    expect(params.secretWalletNotificationPrivKey).toBe(key);
  });

  it('reports environment and pools file problems together', () => {
    const p = problems(() =>
      loadConfig(
        { ...env, WHIRLPOOL_PORT: '-1' },
        { readFile: () => JSON.stringify({ pools: [{ id: 'x' }] }) },
      ),
    );
    expect(p.some((l) => l.startsWith('WHIRLPOOL_PORT:'))).toBe(true);
    expect(p.some((l) => l.startsWith('config/pools.regtest.json: pools[0].denomination'))).toBe(true);
  });
});
