/**
 * Shared plumbing of the client CLI: reading the mnemonic (file or
 * environment, never from argv so it stays out of shell history and `ps`),
 * the wallet state file (index counters only, no secrets), and building a
 * {@link WhirlpoolClient} from the global options.
 *
 * @module
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { NetworkName } from '#shared/bitcoin/network.ts';
import { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
import { WhirlpoolClient } from '../api.ts';
import type { GenerationId } from '../generations.ts';
import type { MixTransport } from '../mix/mix_types.ts';
import { Wallet, type WalletState } from '../wallet/wallet.ts';

/** Global CLI options (commander camel-cases them). */
export interface GlobalOptions {
  server?: string;
  /** Comma-separated bootstrap URLs (directory discovery, exclusive with `server`). */
  bootstrap?: string;
  directoryKey?: string;
  /** Comma-separated pinned root public keys (certified directory). */
  directoryRootKeys?: string;
  network: NetworkName;
  rpc?: string;
  mnemonicFile?: string;
  stateFile: string;
  transport: MixTransport;
  wsPath?: string;
  scode?: string;
  reconnectDelay: string;
  retryDelay: string;
  socksProxy?: string;
  registerOutputProxy?: string;
  /** Use the directory's onion URLs (with --bootstrap). */
  preferOnion?: boolean;
  /** Upper bound of the random delay before registerOutput, ms. */
  registerOutputDelay?: string;
  /** Client generation to behave as (`client/generations.ts`). */
  generation?: GenerationId;
  partnerId?: string;
}

/** An error the CLI prints without a stack trace (exit code 1). */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** Env variable holding the mnemonic when no file is given. */
export const MNEMONIC_ENV = 'WHIRLPOOL_MNEMONIC';
/** Env variable holding the BIP39 passphrase. */
export const PASSPHRASE_ENV = 'WHIRLPOOL_PASSPHRASE';

/** Resolves a user path against the directory `npm run` was started from (`$INIT_CWD`). */
export function userPath(p: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), p);
}

/** Reads the mnemonic from `--mnemonic-file` or `$WHIRLPOOL_MNEMONIC`. */
export function readMnemonic(o: GlobalOptions): string {
  if (o.mnemonicFile) {
    const path = userPath(o.mnemonicFile);
    if (!existsSync(path)) throw new CliError(`Mnemonic file '${path}' does not exist`);
    return readFileSync(path, 'utf8').trim();
  }
  const env = process.env[MNEMONIC_ENV];
  if (env) return env.trim();
  throw new CliError(`No mnemonic: pass --mnemonic-file <path> or set ${MNEMONIC_ENV}`);
}

/** Persisted, non-secret wallet state. */
export interface StateFile {
  network: NetworkName;
  counters: WalletState;
}

/** Loads the state file (null when absent). Throws on a network mismatch. */
export function readState(o: GlobalOptions): StateFile | null {
  const path = userPath(o.stateFile);
  if (!existsSync(path)) return null;
  const s = JSON.parse(readFileSync(path, 'utf8')) as StateFile;
  if (s.network !== o.network) {
    throw new CliError(`State file '${o.stateFile}' is for ${s.network}, not ${o.network}`);
  }
  return s;
}

/** Writes the state file atomically. */
export function writeState(o: GlobalOptions, wallet: Wallet): void {
  const s: StateFile = { network: o.network, counters: wallet.exportState() };
  const path = userPath(o.stateFile);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Opens the wallet from the mnemonic and the state file. */
export function openWallet(o: GlobalOptions): Wallet {
  const mnemonic = readMnemonic(o);
  if (!Wallet.isValidMnemonic(mnemonic))
    throw new CliError('The mnemonic is not a valid BIP39 English mnemonic');
  return Wallet.fromMnemonic(mnemonic, {
    network: o.network,
    passphrase: process.env[PASSPHRASE_ENV] ?? '',
    state: readState(o)?.counters,
  });
}

/** Default coordinator when neither --server nor --bootstrap is given. */
export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** `serverUrl` or `bootstrap` of the client, from --server / --bootstrap + --directory-root-keys (or the legacy --directory-key). */
export function coordinatorOptions(o: GlobalOptions):
  | { serverUrl: string }
  | {
      bootstrap: {
        urls: string[];
        directoryPublicKey?: string;
        directoryRootKeys?: string[];
        preferOnion: boolean;
      };
    } {
  const list = (v: string) =>
    v
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u);
  if (o.bootstrap) {
    if (o.server) throw new CliError('--server and --bootstrap are mutually exclusive');
    if (o.directoryKey && o.directoryRootKeys)
      throw new CliError(
        'Give --directory-root-keys (certified directory) or --directory-key (legacy), not both',
      );
    if (!o.directoryKey && !o.directoryRootKeys)
      throw new CliError(
        '--bootstrap needs --directory-root-keys (or WHIRLPOOL_DIRECTORY_ROOT_KEYS), or the legacy --directory-key',
      );
    const urls = list(o.bootstrap);
    const preferOnion = o.preferOnion === true;
    if (o.directoryRootKeys)
      return { bootstrap: { urls, directoryRootKeys: list(o.directoryRootKeys), preferOnion } };
    return { bootstrap: { urls, directoryPublicKey: o.directoryKey, preferOnion } };
  }
  if (o.directoryKey || o.directoryRootKeys)
    throw new CliError('--directory-key / --directory-root-keys are only used with --bootstrap');
  if (o.preferOnion)
    throw new CliError('--prefer-onion needs --bootstrap (with --server, give the onion URL itself)');
  return { serverUrl: o.server ?? DEFAULT_SERVER };
}

/** Builds the client of the global options. */
export function openClient(o: GlobalOptions, wallet = openWallet(o)): WhirlpoolClient {
  const coordinator = coordinatorOptions(o);
  const delay = o.registerOutputDelay === undefined ? undefined : Number(o.registerOutputDelay);
  return new WhirlpoolClient({
    // fresh random SOCKS credentials per request and per mix attempt (own Tor circuits)
    socksProxy: o.socksProxy,
    registerOutputProxy: o.registerOutputProxy,
    registerOutputDelayMaxMs: delay,
    onWarning: (m) => console.error(`\n*** WARNING: ${m}\n`),
    ...coordinator,
    wallet,
    rpc: o.rpc ? new BitcoinRpc({ url: o.rpc }) : undefined,
    transport: o.transport,
    wsPath: o.wsPath,
    scode: o.scode ?? null,
    reconnectDelayMs: Number(o.reconnectDelay),
    mixRetryDelayMs: Number(o.retryDelay),
    generation: o.generation,
    partnerId: o.partnerId,
  });
}

/** Formats sats as BTC with 8 decimals. */
export function btc(sats: number): string {
  return `${(sats / 1e8).toFixed(8)} BTC`;
}
