/**
 * Environment validation: defaults, `_FILE` secrets, and errors that name
 * every bad variable at once without ever containing a secret value.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '#coordinator/config/config_error.ts';
import { describeEnv, ENV_VARIABLES, parseEnv } from '#coordinator/config/env.ts';

const WORDS = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const DB_PASSWORD = 'db-s3cret-pw';
const RPC_PASSWORD = 'rpc-s3cret-pw';
const PASSPHRASE = 'wallet-passphrase-secret';

const BASE = {
  WHIRLPOOL_DB_URL: `mysql://whirlpool:${DB_PASSWORD}@db:3306/whirlpool`,
  WHIRLPOOL_BITCOIN_RPC_URL: `http://rpc:${RPC_PASSWORD}@127.0.0.1:18443`,
  WHIRLPOOL_NETWORK: 'regtest',
  WHIRLPOOL_POOLS: 'config/pools.regtest.json',
  WHIRLPOOL_SECRET_WALLET_WORDS: WORDS,
  WHIRLPOOL_SECRET_WALLET_PASSPHRASE: PASSPHRASE,
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function expectNoSecret(text: string): void {
  for (const s of [DB_PASSWORD, RPC_PASSWORD, PASSPHRASE, 'abandon', 'zoo zoo'])
    expect(text).not.toContain(s);
}

describe('parseEnv', () => {
  it('chooses libsecp256k1 by default, noble on request, and refuses anything else', () => {
    expect(parseEnv(BASE).secp256k1).toBe('libsecp256k1');
    expect(parseEnv(BASE).rpcBatchMaxCalls).toBe(50);
    expect(parseEnv({ ...BASE, WHIRLPOOL_RPC_BATCH_MAX_CALLS: '1' }).rpcBatchMaxCalls).toBe(1);
    expect(parseEnv({ ...BASE, WHIRLPOOL_SECP256K1: 'noble' }).secp256k1).toBe('noble');
    expect(configError(() => parseEnv({ ...BASE, WHIRLPOOL_SECP256K1: 'elliptic' })).message).toContain(
      'WHIRLPOOL_SECP256K1',
    );
  });

  it('applies defaults', () => {
    const c = parseEnv(BASE);
    expect(c).toMatchObject({
      network: 'regtest',
      port: 8080,
      host: '0.0.0.0',
      urlClear: null,
      urlOnion: null,
      logLevel: 'info',
      testMode: false,
      mixEnabled: true,
      tx0DelayMs: 1000,
      secretWalletWords: WORDS,
      secretWalletPassphrase: PASSPHRASE,
      poolsFile: 'config/pools.regtest.json',
    });
    expect(c.instanceId).toBeNull();
  });

  it('reads every option', () => {
    const c = parseEnv({
      ...BASE,
      WHIRLPOOL_PORT: '9000',
      WHIRLPOOL_HOST: '127.0.0.1',
      WHIRLPOOL_INSTANCE_ID: 'coord-a',
      WHIRLPOOL_URL_CLEAR: 'https://a.example',
      WHIRLPOOL_URL_ONION: 'http://abc.onion',
      WHIRLPOOL_LOG_LEVEL: 'debug',
      WHIRLPOOL_TEST_MODE: 'true',
      WHIRLPOOL_MIX_ENABLED: 'false',
      WHIRLPOOL_TX0_DELAY_MS: '0',
      WHIRLPOOL_SECRET_WALLET_WORDS: `  ${WORDS.toUpperCase().replace(/ /g, '   ')}\n`,
    });
    expect(c).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
      instanceId: 'coord-a',
      urlClear: 'https://a.example',
      urlOnion: 'http://abc.onion',
      logLevel: 'debug',
      testMode: true,
      mixEnabled: false,
      tx0DelayMs: 0,
      secretWalletWords: WORDS,
    });
  });

  it('reads secrets from *_FILE variables', () => {
    const files: Record<string, string> = {
      '/run/secrets/db': `${BASE.WHIRLPOOL_DB_URL}\n`,
      '/run/secrets/words': WORDS,
    };
    const c = parseEnv(
      {
        ...BASE,
        WHIRLPOOL_DB_URL: undefined,
        WHIRLPOOL_DB_URL_FILE: '/run/secrets/db',
        WHIRLPOOL_SECRET_WALLET_WORDS: '',
        WHIRLPOOL_SECRET_WALLET_WORDS_FILE: '/run/secrets/words',
      },
      {
        readFile: (p) => {
          const v = files[p];
          if (v === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
          return v;
        },
      },
    );
    expect(c.dbUrl).toBe(BASE.WHIRLPOOL_DB_URL);
    expect(c.secretWalletWords).toBe(WORDS);
  });

  it('lists every bad variable in one error', () => {
    const err = configError(() =>
      parseEnv({
        WHIRLPOOL_DB_URL: `postgres://u:${DB_PASSWORD}@h/db`,
        WHIRLPOOL_NETWORK: 'testnet3',
        WHIRLPOOL_PORT: 'eighty',
        WHIRLPOOL_LOG_LEVEL: 'loud',
        WHIRLPOOL_TEST_MODE: 'maybe',
        WHIRLPOOL_SECRET_WALLET_WORDS: 'zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo',
        WHIRLPOOL_SECRET_WALLET_PASSPHRASE: PASSPHRASE,
      }),
    );
    const names = err.problems.map((p) => p.split(':')[0]);
    expect(names.sort()).toEqual(
      [
        'WHIRLPOOL_BITCOIN_RPC_URL',
        'WHIRLPOOL_DB_URL',
        'WHIRLPOOL_LOG_LEVEL',
        'WHIRLPOOL_NETWORK',
        'WHIRLPOOL_POOLS',
        'WHIRLPOOL_PORT',
        'WHIRLPOOL_SECRET_WALLET_WORDS',
        'WHIRLPOOL_TEST_MODE',
      ].sort(),
    );
    expect(err.message).toMatch(/^Invalid configuration \(8 problems\):/);
    expect(err.message).toContain("WHIRLPOOL_PORT: expected an integer between 0 and 65535 (got 'eighty')");
    expect(err.message).toContain(
      "WHIRLPOOL_NETWORK: required, one of 'regtest', 'testnet', 'signet', 'mainnet' (got 'testnet3')",
    );
    expect(err.message).toContain('WHIRLPOOL_SECRET_WALLET_WORDS: not a valid BIP39 English mnemonic');
    expect(err.message).toContain('WHIRLPOOL_DB_URL: expected a URL starting with mysql:// or mariadb://');
    expect(err.message).toContain('WHIRLPOOL_BITCOIN_RPC_URL: required (or WHIRLPOOL_BITCOIN_RPC_URL_FILE)');
    expectNoSecret(err.message);
    expectNoSecret(JSON.stringify(err.problems));
  });

  it('refuses a secret set both directly and through a file, and an unreadable file', () => {
    const err = configError(() =>
      parseEnv(
        {
          ...BASE,
          WHIRLPOOL_DB_URL_FILE: '/run/secrets/db',
          WHIRLPOOL_BITCOIN_RPC_URL: undefined,
          WHIRLPOOL_BITCOIN_RPC_URL_FILE: '/missing',
        },
        {
          readFile: () => {
            throw Object.assign(new Error(`ENOENT ${RPC_PASSWORD}`), { code: 'ENOENT' });
          },
        },
      ),
    );
    expect(err.problems).toEqual([
      'WHIRLPOOL_DB_URL: set both WHIRLPOOL_DB_URL and WHIRLPOOL_DB_URL_FILE; use only one',
      "WHIRLPOOL_BITCOIN_RPC_URL_FILE: cannot read file '/missing' (ENOENT)",
    ]);
    expectNoSecret(err.message);
  });

  it('redacts the password of a database URL that names no database', () => {
    const err = configError(() => parseEnv({ ...BASE, WHIRLPOOL_DB_URL: `mysql://u:${DB_PASSWORD}@h:3306` }));
    expect(err.problems).toEqual([
      "WHIRLPOOL_DB_URL: the URL must name a database (mysql://…/dbname) (got 'mysql://u:***@h:3306')",
    ]);
  });

  it('later-generation knobs: V1 secret wallet, signing wallet, POST delay, block-height spread', () => {
    const d = parseEnv(BASE);
    expect(d).toMatchObject({
      secretWalletV1: null,
      signingWallet: null,
      tx0PostDelayMs: 700,
      blockHeightMaxSpread: 10,
      blockHeightRefreshMs: 120_000,
    });
    const v1Words = 'test test test test test test test test test test test junk';
    const c = parseEnv({
      ...BASE,
      WHIRLPOOL_SECRET_WALLET_V1_WORDS: v1Words.toUpperCase(),
      WHIRLPOOL_SECRET_WALLET_V1_PASSPHRASE: 'v1-secret-pass',
      WHIRLPOOL_SIGNING_WALLET_WORDS: WORDS,
      WHIRLPOOL_TX0_POST_DELAY_MS: '0',
      WHIRLPOOL_BLOCK_HEIGHT_MAX_SPREAD: '3',
      WHIRLPOOL_BLOCK_HEIGHT_REFRESH_MS: '5000',
    });
    expect(c.secretWalletV1).toEqual({ words: v1Words, passphrase: 'v1-secret-pass' });
    expect(c.signingWallet).toEqual({ words: WORDS, passphrase: '' });
    expect(c).toMatchObject({ tx0PostDelayMs: 0, blockHeightMaxSpread: 3, blockHeightRefreshMs: 5000 });
    const text = JSON.stringify(describeEnv(c));
    expect(text).not.toContain('v1-secret-pass');
    expect(text).not.toContain('junk');
    let err: unknown;
    try {
      parseEnv({ ...BASE, WHIRLPOOL_SECRET_WALLET_V1_WORDS: 'not a mnemonic at all' });
    } catch (e) {
      err = e;
    }
    expect(String((err as { problems: string[] }).problems)).toContain(
      'WHIRLPOOL_SECRET_WALLET_V1_WORDS: not a valid BIP39 English mnemonic',
    );
    expect(String((err as { problems: string[] }).problems)).not.toContain('not a mnemonic at all');
  });

  it('describeEnv carries no secret', () => {
    const text = JSON.stringify(describeEnv(parseEnv(BASE)));
    expectNoSecret(text);
    expect(text).toContain('mysql://whirlpool:***@db:3306/whirlpool');
  });

  it('knows every documented variable', () => {
    expect(ENV_VARIABLES).toContain('WHIRLPOOL_INSTANCE_ID');
    expect(ENV_VARIABLES.every((v) => v.startsWith('WHIRLPOOL_'))).toBe(true);
  });

  it('refuses test mode on mainnet (it skips the Tx0 fee check)', () => {
    const err = configError(() =>
      parseEnv({ ...BASE, WHIRLPOOL_NETWORK: 'mainnet', WHIRLPOOL_TEST_MODE: 'true' }),
    );
    expect(err.problems).toEqual([
      expect.stringMatching(/^WHIRLPOOL_TEST_MODE: .*refused with WHIRLPOOL_NETWORK 'mainnet'/),
    ]);
    expect(parseEnv({ ...BASE, WHIRLPOOL_NETWORK: 'testnet', WHIRLPOOL_TEST_MODE: 'true' }).testMode).toBe(
      true,
    );
    expect(parseEnv({ ...BASE, WHIRLPOOL_NETWORK: 'mainnet' }).testMode).toBe(false);
  });

  it('reads the abuse limits with their defaults and validates them', () => {
    expect(parseEnv(BASE).limits).toMatchObject({
      httpHeadersTimeoutMs: 10_000,
      httpRequestTimeoutMs: 30_000,
      bodyOutputBytes: 4096,
      bodyDashboardBytes: 1024,
      maxSessionsPerAddress: 64,
      addressLimitsExempt: [],
      stompSendsInFlight: 4,
    });
    const c = parseEnv({
      ...BASE,
      WHIRLPOOL_LIMIT_SESSIONS_PER_ADDRESS: '5',
      WHIRLPOOL_LIMIT_ADDRESS_EXEMPT: '127.0.0.1, ::1',
    });
    expect(c.limits.maxSessionsPerAddress).toBe(5);
    expect(c.limits.addressLimitsExempt).toEqual(['127.0.0.1', '::1']);
    const err = configError(() =>
      parseEnv({ ...BASE, WHIRLPOOL_LIMIT_ADDRESS_EXEMPT: 'tor', WHIRLPOOL_LIMIT_BODY_OUTPUT_BYTES: '1' }),
    );
    expect(err.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'WHIRLPOOL_LIMIT_ADDRESS_EXEMPT',
      'WHIRLPOOL_LIMIT_BODY_OUTPUT_BYTES',
    ]);
  });
});
