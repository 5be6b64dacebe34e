/**
 * The coordinator's environment variables (`WHIRLPOOL_*`), validated with
 * zod. Every problem is collected and reported at once in a
 * {@link ConfigError}, naming the variable; values of secret variables
 * (database URL, RPC URL, wallet words and passphrase) never appear in an
 * error. Each secret may instead be read from a file named by `<NAME>_FILE`
 * (Docker / systemd secrets); setting both is an error. See
 * docs/configuration.md for the full list with defaults.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { z } from 'zod';
import { LOG_LEVELS, type LogLevel, redactUrl } from '#coordinator/log.ts';
import type { NetworkName } from '#shared/bitcoin/network.ts';
import { ConfigError } from './config_error.ts';

/** Variables whose value is secret: may come from `<NAME>_FILE`, never echoed. */
export const SECRET_VARIABLES = [
  'WHIRLPOOL_DB_URL',
  'WHIRLPOOL_BITCOIN_RPC_URL',
  'WHIRLPOOL_SECRET_WALLET_WORDS',
  'WHIRLPOOL_SECRET_WALLET_PASSPHRASE',
  'WHIRLPOOL_SECRET_WALLET_V1_WORDS',
  'WHIRLPOOL_SECRET_WALLET_V1_PASSPHRASE',
  'WHIRLPOOL_SIGNING_WALLET_WORDS',
  'WHIRLPOOL_SIGNING_WALLET_PASSPHRASE',
] as const;

/** The validated environment. */
export interface EnvConfig {
  /** `mysql://user:pass@host:port/db`. Secret. */
  dbUrl: string;
  /** `http://user:pass@host:port`. Secret. */
  rpcUrl: string;
  network: NetworkName;
  host: string;
  port: number;
  /** `WHIRLPOOL_INSTANCE_ID`, or null: the cluster module then picks `<hostname>-<random>` at each start. */
  instanceId: string | null;
  urlClear: string | null;
  urlOnion: string | null;
  /** Path of the pools JSON file. */
  poolsFile: string;
  /** BIP39 words of the coordinator's secret wallet. Secret. */
  secretWalletWords: string;
  /** BIP39 passphrase. Secret. */
  secretWalletPassphrase: string;
  /**
   * Secret wallet of 80-byte (V1) OP_RETURNs and `POST /rest/tx0/v1`
   * (reference `secret-wallet`; the V0 one above is `secret-wallet-v0`).
   * Null: the V0 wallet serves both versions. Secret.
   */
  secretWalletV1: { words: string; passphrase: string } | null;
  /** Wallet whose m/44'/coin'/0'/0/0 signs `feeOutputSignature`; null = no signature. Secret. */
  signingWallet: { words: string; passphrase: string } | null;
  /** Artificial delay of `POST /rest/tx0` and `/rest/tx0/v1` (reference 700), ms. */
  tx0PostDelayMs: number;
  /** `server.rpc-client.block-height-max-spread` (10): REGISTER_INPUT `blockHeight` farther from the tip is refused. */
  blockHeightMaxSpread: number;
  /** How often the cached tip height of the spread check is refreshed (reference 120 000), ms. */
  blockHeightRefreshMs: number;
  logLevel: LogLevel;
  testMode: boolean;
  mixEnabled: boolean;
  /** Artificial delay of `GET /rest/tx0` (anti brute force), ms. */
  tx0DelayMs: number;
  /** Timeout of one bitcoin RPC call, ms. */
  rpcTimeoutMs: number;
  /** Most bitcoin RPC calls sharing one HTTP request (JSON-RPC batch); 1 = no batching. */
  rpcBatchMaxCalls: number;
  dbConnectionLimit: number;
  /** secp256k1 implementation of the hot crypto: libsecp256k1 (native, default) or the portable noble one. */
  secp256k1: 'libsecp256k1' | 'noble';
  /** Longest a graceful stop (SIGTERM) may take before the process exits anyway, ms; null = cluster drain timeout + 15 s. */
  shutdownTimeoutMs: number | null;
  /** Whether `/metrics` (Prometheus) is served. */
  metricsEnabled: boolean;
  /** Abuse limits of the client-facing listener (docs/operations.md, "Abuse limits"). */
  limits: AbuseLimits;
}

/** Every bound an outside party meets on an instance (`WHIRLPOOL_LIMIT_*`, `WHIRLPOOL_HTTP_*_TIMEOUT_MS`). */
export interface AbuseLimits {
  /** Node `server.headersTimeout`: time to receive a request's headers, ms. */
  httpHeadersTimeoutMs: number;
  /** Node `server.requestTimeout`: time to receive a whole request (headers and body), ms. */
  httpRequestTimeoutMs: number;
  /** Node `server.keepAliveTimeout`: idle time of a keep-alive connection between requests, ms. */
  httpKeepAliveTimeoutMs: number;
  /** Body limit of `POST /rest/registerOutput` and `/rest/checkOutput`, bytes. */
  bodyOutputBytes: number;
  /** Body limit of the Tx0 endpoints (`/rest/tx0*`), bytes. */
  bodyTx0Bytes: number;
  /** Body limit of the dashboard's forms (login, logout, unban), bytes. */
  bodyDashboardBytes: number;
  /** Body limit of every other route (SockJS has its own, from the frame size), bytes. */
  bodyDefaultBytes: number;
  /** STOMP sessions of all transports. */
  maxSessions: number;
  /** STOMP sessions per source address (IPv6: per /64). */
  maxSessionsPerAddress: number;
  /** Open TCP connections. */
  maxConnections: number;
  /** Open TCP connections per source address (IPv6: per /64). */
  maxConnectionsPerAddress: number;
  /** Source addresses exempt from the per-address caps (Tor's local address for an onion service). */
  addressLimitsExempt: string[];
  /** Time between connection and CONNECT, ms. */
  stompConnectTimeoutMs: number;
  /** Inbound silence after which a session is dropped when it negotiated no heart-beat, ms. */
  stompIdleTimeoutMs: number;
  /** SENDs of one session handed to the engine and not finished; beyond it the socket is paused. */
  stompSendsInFlight: number;
  /** registerInput per session: burst. */
  registerInputBurstPerSession: number;
  /** registerInput per session: one more token every this many ms. */
  registerInputRefillMsPerSession: number;
  /** registerInput per second on the instance. */
  registerInputPerSecond: number;
  /** registerInput validations (bitcoin RPC + database) running at once. */
  registerInputConcurrency: number;
  /** `/rest/tx0*` calls per minute per source address. */
  tx0PerMinutePerAddress: number;
  /** `/rest/tx0*` calls per minute on the instance. */
  tx0PerMinute: number;
}

const boolText = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: "expected 'true' or 'false'" })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

function intText(min: number, max: number) {
  return z
    .string()
    .regex(/^\d+$/, { error: `expected an integer between ${min} and ${max}` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: `expected an integer between ${min} and ${max}` });
}

function urlText(protocols: readonly string[]) {
  return z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { error: `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );
}

/** BIP39 English words, whitespace-normalised and lower-cased. */
const mnemonicText = z
  .string()
  .transform((v) => v.trim().split(/\s+/).join(' ').toLowerCase())
  .refine((v) => validateMnemonic(v, wordlist), { error: 'not a valid BIP39 English mnemonic' });

const ENV_SCHEMA = z.object({
  WHIRLPOOL_DB_URL: z
    .string({ error: 'required (or WHIRLPOOL_DB_URL_FILE)' })
    .pipe(urlText(['mysql:', 'mariadb:']))
    .refine((v) => new URL(v).pathname.length > 1, {
      error: 'the URL must name a database (mysql://…/dbname)',
    }),
  WHIRLPOOL_BITCOIN_RPC_URL: z
    .string({ error: 'required (or WHIRLPOOL_BITCOIN_RPC_URL_FILE)' })
    .pipe(urlText(['http:', 'https:'])),
  WHIRLPOOL_NETWORK: z.enum(['regtest', 'testnet', 'signet', 'mainnet'], {
    error: "required, one of 'regtest', 'testnet', 'signet', 'mainnet'",
  }),
  WHIRLPOOL_PORT: intText(0, 65535).default(8080),
  WHIRLPOOL_HOST: z.string().min(1).default('0.0.0.0'),
  WHIRLPOOL_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'expected 1 to 64 characters among A-Z a-z 0-9 . _ -' })
    .optional(),
  WHIRLPOOL_URL_CLEAR: urlText(['http:', 'https:']).optional(),
  WHIRLPOOL_URL_ONION: urlText(['http:', 'https:']).optional(),
  WHIRLPOOL_POOLS: z.string({ error: 'required: path of the pools JSON file' }).min(1),
  WHIRLPOOL_SECRET_WALLET_WORDS: z
    .string({ error: 'required (or WHIRLPOOL_SECRET_WALLET_WORDS_FILE)' })
    .pipe(mnemonicText),
  WHIRLPOOL_SECRET_WALLET_PASSPHRASE: z.string().default(''),
  WHIRLPOOL_SECRET_WALLET_V1_WORDS: mnemonicText.optional(),
  WHIRLPOOL_SECRET_WALLET_V1_PASSPHRASE: z.string().optional(),
  WHIRLPOOL_SIGNING_WALLET_WORDS: mnemonicText.optional(),
  WHIRLPOOL_SIGNING_WALLET_PASSPHRASE: z.string().optional(),
  WHIRLPOOL_TX0_POST_DELAY_MS: intText(0, 60_000).default(700),
  WHIRLPOOL_BLOCK_HEIGHT_MAX_SPREAD: intText(0, 1_000_000).default(10),
  WHIRLPOOL_BLOCK_HEIGHT_REFRESH_MS: intText(1000, 3_600_000).default(120_000),
  WHIRLPOOL_LOG_LEVEL: z
    .enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.map((l) => `'${l}'`).join(', ')}` })
    .default('info'),
  WHIRLPOOL_TEST_MODE: boolText.default(false),
  WHIRLPOOL_MIX_ENABLED: boolText.default(true),
  WHIRLPOOL_TX0_DELAY_MS: intText(0, 60_000).default(1000),
  WHIRLPOOL_RPC_TIMEOUT_MS: intText(100, 600_000).default(20_000),
  WHIRLPOOL_RPC_BATCH_MAX_CALLS: intText(1, 1000).default(50),
  WHIRLPOOL_DB_CONNECTION_LIMIT: intText(1, 1000).default(16),
  WHIRLPOOL_SECP256K1: z.enum(['libsecp256k1', 'noble']).default('libsecp256k1'),
  WHIRLPOOL_SHUTDOWN_TIMEOUT_MS: intText(0, 3_600_000).optional(),
  WHIRLPOOL_METRICS: boolText.default(true),
  WHIRLPOOL_HTTP_HEADERS_TIMEOUT_MS: intText(1000, 600_000).default(10_000),
  WHIRLPOOL_HTTP_REQUEST_TIMEOUT_MS: intText(1000, 600_000).default(30_000),
  WHIRLPOOL_HTTP_KEEP_ALIVE_TIMEOUT_MS: intText(100, 600_000).default(5000),
  WHIRLPOOL_LIMIT_BODY_OUTPUT_BYTES: intText(512, 1 << 20).default(4096),
  WHIRLPOOL_LIMIT_BODY_TX0_BYTES: intText(1024, 16 << 20).default(131_072),
  WHIRLPOOL_LIMIT_BODY_DASHBOARD_BYTES: intText(256, 1 << 20).default(1024),
  WHIRLPOOL_LIMIT_BODY_DEFAULT_BYTES: intText(256, 16 << 20).default(16_384),
  WHIRLPOOL_LIMIT_SESSIONS: intText(1, 1_000_000).default(20_000),
  WHIRLPOOL_LIMIT_SESSIONS_PER_ADDRESS: intText(1, 1_000_000).default(64),
  WHIRLPOOL_LIMIT_CONNECTIONS: intText(1, 1_000_000).default(30_000),
  WHIRLPOOL_LIMIT_CONNECTIONS_PER_ADDRESS: intText(1, 1_000_000).default(128),
  WHIRLPOOL_LIMIT_ADDRESS_EXEMPT: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== ''),
    )
    .refine((list) => list.every((a) => isIP(a) !== 0), {
      error: 'expected a comma-separated list of IP addresses (e.g. 127.0.0.1,::1)',
    })
    .optional(),
  WHIRLPOOL_LIMIT_STOMP_CONNECT_TIMEOUT_MS: intText(100, 600_000).default(20_000),
  WHIRLPOOL_LIMIT_STOMP_IDLE_TIMEOUT_MS: intText(1000, 86_400_000).default(300_000),
  WHIRLPOOL_LIMIT_STOMP_SENDS_IN_FLIGHT: intText(1, 1000).default(4),
  WHIRLPOOL_LIMIT_REGISTER_INPUT_BURST: intText(1, 1000).default(3),
  WHIRLPOOL_LIMIT_REGISTER_INPUT_REFILL_MS: intText(0, 3_600_000).default(10_000),
  WHIRLPOOL_LIMIT_REGISTER_INPUT_PER_SECOND: intText(1, 100_000).default(100),
  WHIRLPOOL_LIMIT_REGISTER_INPUT_CONCURRENCY: intText(1, 1000).default(8),
  WHIRLPOOL_LIMIT_TX0_PER_MINUTE_PER_ADDRESS: intText(1, 1_000_000).default(30),
  WHIRLPOOL_LIMIT_TX0_PER_MINUTE: intText(1, 10_000_000).default(1200),
});

/** Every variable read by {@link parseEnv} (the `_FILE` variants aside). */
export const ENV_VARIABLES: readonly string[] = Object.keys(ENV_SCHEMA.shape);

function isSecret(name: string): boolean {
  return (SECRET_VARIABLES as readonly string[]).includes(name);
}

/** How a bad value is shown in an error: secrets never, URLs with secrets redacted, others quoted and cut. */
function shownValue(name: string, value: string | undefined): string {
  if (value === undefined) return '';
  if (isSecret(name)) {
    if (name.endsWith('_URL')) return ` (got '${redactUrl(value)}')`;
    return '';
  }
  const v = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return ` (got '${v}')`;
}

/**
 * Reads, resolves `_FILE` variants and validates the environment. Throws
 * {@link ConfigError} listing every problem. `readFile` is injectable for tests.
 */
export function parseEnv(
  env: Readonly<Record<string, string | undefined>>,
  opts: { readFile?: (path: string) => string } = {},
): EnvConfig {
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const problems: string[] = [];
  const raw: Record<string, string | undefined> = {};
  for (const name of ENV_VARIABLES) {
    const direct = env[name];
    const fileVar = `${name}_FILE`;
    const file = isSecret(name) ? env[fileVar] : undefined;
    if (direct !== undefined && direct !== '' && file) {
      problems.push(`${name}: set both ${name} and ${fileVar}; use only one`);
      continue;
    }
    if (file) {
      try {
        raw[name] = readFile(file).replace(/\r?\n$/, '');
      } catch (err) {
        problems.push(
          `${fileVar}: cannot read file '${file}' (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
      continue;
    }
    // An empty variable counts as unset (docker-compose `VAR=` lines).
    raw[name] = direct === '' ? undefined : direct;
  }
  const parsed = ENV_SCHEMA.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? '?');
      if (problems.some((p) => p.startsWith(`${name}:`) || p.startsWith(`${name}_FILE:`))) continue;
      problems.push(`${name}: ${issue.message}${shownValue(name, raw[name])}`);
    }
  }
  if (parsed.success && parsed.data.WHIRLPOOL_TEST_MODE && parsed.data.WHIRLPOOL_NETWORK === 'mainnet') {
    problems.push(
      "WHIRLPOOL_TEST_MODE: test mode skips the Tx0 fee check and is refused with WHIRLPOOL_NETWORK 'mainnet'",
    );
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    dbUrl: e.WHIRLPOOL_DB_URL,
    rpcUrl: e.WHIRLPOOL_BITCOIN_RPC_URL,
    network: e.WHIRLPOOL_NETWORK,
    host: e.WHIRLPOOL_HOST,
    port: e.WHIRLPOOL_PORT,
    instanceId: e.WHIRLPOOL_INSTANCE_ID ?? null,
    urlClear: e.WHIRLPOOL_URL_CLEAR ?? null,
    urlOnion: e.WHIRLPOOL_URL_ONION ?? null,
    poolsFile: e.WHIRLPOOL_POOLS,
    secretWalletWords: e.WHIRLPOOL_SECRET_WALLET_WORDS,
    secretWalletPassphrase: e.WHIRLPOOL_SECRET_WALLET_PASSPHRASE,
    secretWalletV1:
      e.WHIRLPOOL_SECRET_WALLET_V1_WORDS === undefined
        ? null
        : {
            words: e.WHIRLPOOL_SECRET_WALLET_V1_WORDS,
            passphrase: e.WHIRLPOOL_SECRET_WALLET_V1_PASSPHRASE ?? '',
          },
    signingWallet:
      e.WHIRLPOOL_SIGNING_WALLET_WORDS === undefined
        ? null
        : {
            words: e.WHIRLPOOL_SIGNING_WALLET_WORDS,
            passphrase: e.WHIRLPOOL_SIGNING_WALLET_PASSPHRASE ?? '',
          },
    tx0PostDelayMs: e.WHIRLPOOL_TX0_POST_DELAY_MS,
    blockHeightMaxSpread: e.WHIRLPOOL_BLOCK_HEIGHT_MAX_SPREAD,
    blockHeightRefreshMs: e.WHIRLPOOL_BLOCK_HEIGHT_REFRESH_MS,
    logLevel: e.WHIRLPOOL_LOG_LEVEL,
    testMode: e.WHIRLPOOL_TEST_MODE,
    mixEnabled: e.WHIRLPOOL_MIX_ENABLED,
    tx0DelayMs: e.WHIRLPOOL_TX0_DELAY_MS,
    rpcTimeoutMs: e.WHIRLPOOL_RPC_TIMEOUT_MS,
    rpcBatchMaxCalls: e.WHIRLPOOL_RPC_BATCH_MAX_CALLS,
    dbConnectionLimit: e.WHIRLPOOL_DB_CONNECTION_LIMIT,
    secp256k1: e.WHIRLPOOL_SECP256K1,
    shutdownTimeoutMs: e.WHIRLPOOL_SHUTDOWN_TIMEOUT_MS ?? null,
    metricsEnabled: e.WHIRLPOOL_METRICS,
    limits: {
      httpHeadersTimeoutMs: e.WHIRLPOOL_HTTP_HEADERS_TIMEOUT_MS,
      httpRequestTimeoutMs: e.WHIRLPOOL_HTTP_REQUEST_TIMEOUT_MS,
      httpKeepAliveTimeoutMs: e.WHIRLPOOL_HTTP_KEEP_ALIVE_TIMEOUT_MS,
      bodyOutputBytes: e.WHIRLPOOL_LIMIT_BODY_OUTPUT_BYTES,
      bodyTx0Bytes: e.WHIRLPOOL_LIMIT_BODY_TX0_BYTES,
      bodyDashboardBytes: e.WHIRLPOOL_LIMIT_BODY_DASHBOARD_BYTES,
      bodyDefaultBytes: e.WHIRLPOOL_LIMIT_BODY_DEFAULT_BYTES,
      maxSessions: e.WHIRLPOOL_LIMIT_SESSIONS,
      maxSessionsPerAddress: e.WHIRLPOOL_LIMIT_SESSIONS_PER_ADDRESS,
      maxConnections: e.WHIRLPOOL_LIMIT_CONNECTIONS,
      maxConnectionsPerAddress: e.WHIRLPOOL_LIMIT_CONNECTIONS_PER_ADDRESS,
      addressLimitsExempt: e.WHIRLPOOL_LIMIT_ADDRESS_EXEMPT ?? [],
      stompConnectTimeoutMs: e.WHIRLPOOL_LIMIT_STOMP_CONNECT_TIMEOUT_MS,
      stompIdleTimeoutMs: e.WHIRLPOOL_LIMIT_STOMP_IDLE_TIMEOUT_MS,
      stompSendsInFlight: e.WHIRLPOOL_LIMIT_STOMP_SENDS_IN_FLIGHT,
      registerInputBurstPerSession: e.WHIRLPOOL_LIMIT_REGISTER_INPUT_BURST,
      registerInputRefillMsPerSession: e.WHIRLPOOL_LIMIT_REGISTER_INPUT_REFILL_MS,
      registerInputPerSecond: e.WHIRLPOOL_LIMIT_REGISTER_INPUT_PER_SECOND,
      registerInputConcurrency: e.WHIRLPOOL_LIMIT_REGISTER_INPUT_CONCURRENCY,
      tx0PerMinutePerAddress: e.WHIRLPOOL_LIMIT_TX0_PER_MINUTE_PER_ADDRESS,
      tx0PerMinute: e.WHIRLPOOL_LIMIT_TX0_PER_MINUTE,
    },
  };
}

/** The environment config without its secrets, for the startup log line. */
export function describeEnv(c: EnvConfig): Record<string, unknown> {
  return {
    db: redactUrl(c.dbUrl),
    bitcoinRpc: redactUrl(c.rpcUrl),
    network: c.network,
    host: c.host,
    port: c.port,
    instanceId: c.instanceId,
    urlClear: c.urlClear,
    urlOnion: c.urlOnion,
    poolsFile: c.poolsFile,
    logLevel: c.logLevel,
    testMode: c.testMode,
    mixEnabled: c.mixEnabled,
    tx0DelayMs: c.tx0DelayMs,
    tx0PostDelayMs: c.tx0PostDelayMs,
    secretWalletV1: c.secretWalletV1 !== null,
    signingWallet: c.signingWallet !== null,
    blockHeightMaxSpread: c.blockHeightMaxSpread,
    blockHeightRefreshMs: c.blockHeightRefreshMs,
    rpcTimeoutMs: c.rpcTimeoutMs,
    rpcBatchMaxCalls: c.rpcBatchMaxCalls,
    dbConnectionLimit: c.dbConnectionLimit,
    secp256k1: c.secp256k1,
    shutdownTimeoutMs: c.shutdownTimeoutMs,
    metricsEnabled: c.metricsEnabled,
    limits: c.limits,
  };
}
