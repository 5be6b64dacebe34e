/**
 * Whirlpool reference client CLI (`npm run client -- <command>`): wallet
 * create/restore, addresses, balances, pools, Tx0, mixing N premix UTXOs
 * with progress bars, and continuous remixing. The mnemonic is read from a
 * file or `$WHIRLPOOL_MNEMONIC`, never from the command line, and is printed
 * only with `wallet create --show`.
 *
 * @module
 */
import { existsSync, writeFileSync } from 'node:fs';
import { MultiBar, Presets } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { MixHandle, MixOutcome, MixPhase, WhirlpoolClient } from '../api.ts';
import { DEFAULT_GENERATION, GENERATION_IDS, GENERATIONS } from '../generations.ts';
import { CoordinatorRestError } from '../rest/coordinator_rest.ts';
import { Wallet } from '../wallet/wallet.ts';
import {
  btc,
  CliError,
  type GlobalOptions,
  MNEMONIC_ENV,
  openClient,
  openWallet,
  readMnemonic,
  userPath,
  writeState,
} from './cli_context.ts';
import { createProgress } from './progress.ts';

const PHASES: MixPhase[] = [
  'CONNECTING',
  'CONNECTED',
  'REGISTERING_INPUT',
  'REGISTERED_INPUT',
  'CONFIRMING_INPUT',
  'CONFIRMED_INPUT',
  'REGISTERING_OUTPUT',
  'REGISTERED_OUTPUT',
  'SIGNING',
  'SIGNED',
  'SUCCESS',
];

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`'${v}' is not a non-negative integer`);
  return n;
}

function program(): Command {
  const cmd = new Command('whirlpool-client')
    .description('Whirlpool 0.23 reference client (behaves like any Java client generation, --generation)')
    .option(
      '--server <url>',
      'coordinator base URL (default http://127.0.0.1:8080)',
      process.env.WHIRLPOOL_SERVER,
    )
    .option(
      '--bootstrap <urls>',
      'comma-separated bootstrap mirror / instance URLs: discover coordinators instead of --server',
      process.env.WHIRLPOOL_BOOTSTRAP,
    )
    .option(
      '--directory-root-keys <hex,...>',
      'pinned directory root public keys (64 hex each, comma-separated: old and new while rotating), with --bootstrap',
      process.env.WHIRLPOOL_DIRECTORY_ROOT_KEYS,
    )
    .option(
      '--directory-key <hex>',
      'legacy single directory key (64 hex), with --bootstrap, instead of --directory-root-keys',
      process.env.WHIRLPOOL_DIRECTORY_PUBLIC_KEY,
    )
    .addOption(
      new Option('--network <name>', 'bitcoin network')
        .choices(['mainnet', 'testnet', 'signet', 'regtest'])
        .default(process.env.WHIRLPOOL_CLIENT_NETWORK ?? 'regtest'),
    )
    .option(
      '--rpc <url>',
      'bitcoin node JSON-RPC URL (btcd with --addrindex); or $WHIRLPOOL_CLIENT_RPC',
      process.env.WHIRLPOOL_CLIENT_RPC,
    )
    .option('--mnemonic-file <path>', `file holding the BIP39 mnemonic (else $${MNEMONIC_ENV})`)
    .option('--state-file <path>', 'wallet state file (index counters, no secrets)', 'whirlpool-wallet.json')
    .addOption(
      new Option('--transport <kind>', 'STOMP transport').choices(['sockjs', 'websocket']).default('sockjs'),
    )
    .option('--ws-path <path>', 'raw WebSocket path (default /ws/connect/websocket)')
    .option('--scode <code>', 'scode for the Tx0 data request')
    .addOption(
      new Option(
        '--generation <id>',
        `behave exactly like this Java client generation: ${GENERATION_IDS.map((id) => `${id} = ${GENERATIONS[id].javaClient}`).join(', ')}`,
      )
        .choices([...GENERATION_IDS])
        .default(process.env.WHIRLPOOL_CLIENT_GENERATION ?? DEFAULT_GENERATION),
    )
    .option('--partner-id <id>', 'partnerId of POST /rest/tx0[/v1] (default SAMOURAI)')
    .option(
      '--socks-proxy <url>',
      'SOCKS5 proxy for REST, WebSockets and registerOutput, e.g. socks5h://127.0.0.1:9050 (Tor); fresh random credentials (own circuit) per request and per mix attempt',
    )
    .option(
      '--register-output-proxy <url>',
      'SOCKS5 proxy for registerOutput only (default --socks-proxy), fresh credentials per request',
    )
    .option(
      '--prefer-onion',
      'with --bootstrap: use the onion URLs of the verified directory, never clear ones',
    )
    .option(
      '--register-output-delay <ms>',
      'upper bound of the random delay before registerOutput (default 3000, max 60000, 0 = none)',
    )
    .option('--reconnect-delay <ms>', 'delay between failed connection attempts', '5000')
    .option('--retry-delay <ms>', 'delay before retrying after a failed mix', '300000')
    .showHelpAfterError();

  const g = () => cmd.opts<GlobalOptions>();

  const wallet = cmd.command('wallet').description('create, restore or inspect the wallet');
  wallet
    .command('create')
    .description('generate a new mnemonic into --mnemonic-file (mode 0600)')
    .addOption(new Option('--words <n>', 'mnemonic length').choices(['12', '24']).default('12'))
    .option('--show', 'also print the mnemonic (careful)')
    .action((o: { words: string; show?: boolean }) => {
      if (!g().mnemonicFile) throw new CliError('wallet create needs --mnemonic-file <path>');
      const path = userPath(g().mnemonicFile!);
      if (existsSync(path)) throw new CliError(`'${path}' already exists; refusing to overwrite a mnemonic`);
      const mnemonic = Wallet.generateMnemonic(o.words === '24' ? 256 : 128);
      writeFileSync(path, `${mnemonic}\n`, { mode: 0o600 });
      const w = openWallet(g());
      writeState(g(), w);
      console.log(`Wallet created: mnemonic written to ${path}`);
      if (o.show) console.log(mnemonic);
      console.log(`First deposit address: ${w.account('deposit').key(0, 0).address}`);
    });
  wallet
    .command('restore')
    .description(`check the mnemonic of --mnemonic-file or $${MNEMONIC_ENV} and write a fresh state file`)
    .action(() => {
      readMnemonic(g());
      const w = openWallet(g());
      writeState(g(), w);
      console.log(
        `Wallet restored (${g().network}); first deposit address ${w.account('deposit').key(0, 0).address}`,
      );
    });
  wallet
    .command('address')
    .description('next unused deposit address')
    .action(() => {
      const w = openWallet(g());
      const key = w.account('deposit').nextKey(0);
      writeState(g(), w);
      console.log(key.address);
    });

  cmd
    .command('balances')
    .description('balance of each account (needs --rpc)')
    .action(async () => {
      const client = openClient(g());
      const b = await client.balances();
      for (const [name, sats] of Object.entries(b)) console.log(`${name.padEnd(8)} ${btc(sats)}`);
    });

  cmd
    .command('pools')
    .description('list the coordinator pools')
    .action(async () => {
      const client = openClient(g());
      for (const p of await client.listPools()) {
        console.log(
          `${p.poolId.padEnd(10)} denomination ${btc(p.denomination)}  fee ${btc(p.feeValue)}  anonset ${p.mixAnonymitySet}  ${p.mixStatus} ${p.nbConfirmed}/${p.mixAnonymitySet} confirmed, ${p.nbRegistered} registered`,
        );
      }
    });

  cmd
    .command('tx0')
    .description('split the deposit into premix outputs for a pool')
    .requiredOption('--pool <id>', 'pool id')
    .option('--fee-rate <sat/vB>', 'Tx0 fee rate', '1')
    .option('--mix-fee-rate <sat/vB>', 'mix fee rate for the premix value (default: --fee-rate)')
    .option('--max-outputs <n>', 'at most this many premix outputs', positiveInt)
    .option('--dry-run', 'build and print, do not broadcast')
    .option(
      '--wait-confirmations <n>',
      'after the broadcast, wait until the Tx0 has n confirmations',
      positiveInt,
    )
    .action(
      async (o: {
        pool: string;
        feeRate: string;
        mixFeeRate?: string;
        maxOutputs?: number;
        dryRun?: boolean;
        waitConfirmations?: number;
      }) => {
        const client = openClient(g());
        await client.open();
        const utxos = await client.utxos('deposit');
        if (utxos.length === 0) throw new CliError('No deposit UTXO (fund `wallet address` first)');
        const tx0 = await client.tx0({
          poolId: o.pool,
          utxos,
          feeRate: Number(o.feeRate),
          mixFeeRate: o.mixFeeRate ? Number(o.mixFeeRate) : undefined,
          maxOutputs: o.maxOutputs,
          broadcast: !o.dryRun,
        });
        writeState(g(), client.wallet);
        console.log(`${o.dryRun ? 'Built (not broadcast)' : 'Broadcast'} Tx0 ${tx0.txid}`);
        console.log(
          `  ${tx0.premixOutputs.length} × ${btc(tx0.premixOutputs[0]?.value ?? 0)} premix, miner fee ${tx0.minerFee} sats, change ${btc(tx0.change)}`,
        );
        if (o.dryRun) console.log(tx0.hex);
        else if (o.waitConfirmations) await waitTx0(client, tx0.txid, o.waitConfirmations);
      },
    );

  cmd
    .command('mix')
    .description('mix premix UTXOs (one STOMP session each) with progress bars')
    .requiredOption('--pool <id>', 'pool id')
    .option('--count <n>', 'how many premix UTXOs to mix (default all)', positiveInt)
    .option('--min-confirmations <n>', 'only UTXOs with this many confirmations', positiveInt, 1)
    .option('--mixs-target <n>', 'mixes per UTXO: 1 = once, n = remix until n, 0 = forever', positiveInt, 1)
    .action(async (o: { pool: string; count?: number; minConfirmations: number; mixsTarget: number }) => {
      await runMixes(g(), 'premix', o.pool, o.count, o.minConfirmations, o.mixsTarget);
    });

  cmd
    .command('remix')
    .description('remix postmix UTXOs continuously (liquidity)')
    .requiredOption('--pool <id>', 'pool id')
    .option('--count <n>', 'how many postmix UTXOs (default all)', positiveInt)
    .action(async (o: { pool: string; count?: number }) => {
      await runMixes(g(), 'postmix', o.pool, o.count, 1, 0);
    });
  return cmd;
}

/** Waits until output 0 of the Tx0 has `min` confirmations, with a spinner on a terminal and lines elsewhere. */
async function waitTx0(client: WhirlpoolClient, txid: string, min: number): Promise<void> {
  const spinner = createProgress({ stream: process.stderr }).spinner(`Waiting for Tx0 ${txid.slice(0, 12)}…`);
  for (;;) {
    const c = (await client.confirmations(txid, 0)) ?? 0;
    spinner.update(`${Math.min(c, min)}/${min} confirmations`);
    if (c >= min) break;
    await new Promise((r) => setTimeout(r, 5000));
  }
  spinner.done(`Tx0 ${txid} confirmed`);
}

async function runMixes(
  o: GlobalOptions,
  account: 'premix' | 'postmix',
  poolId: string,
  count: number | undefined,
  minConfirmations: number,
  mixsTarget: number,
): Promise<void> {
  const client = openClient(o);
  await client.open();
  const pool = await client.pool(poolId);
  const all = (await client.utxos(account)).filter(
    (u) =>
      u.confirmations >= minConfirmations &&
      (account === 'postmix' ? u.value === pool.denomination : u.value > pool.denomination),
  );
  const utxos = all.slice(0, count ?? all.length);
  if (utxos.length === 0) throw new CliError(`No ${account} UTXO to mix in ${poolId}`);
  const bars = new MultiBar(
    { format: '{utxo} [{bar}] {phase} {info}', hideCursor: true, clearOnComplete: false },
    Presets.shades_classic,
  );
  // Bars render only on a terminal; elsewhere (pipes, CI) progress goes to stdout as lines.
  const tty = process.stderr.isTTY === true;
  const say = (line: string) => (tty ? bars.log(`${line}\n`) : console.log(line));
  const plain = createProgress({ stream: process.stdout });
  const handles: MixHandle[] = utxos.map((u) => {
    const name = `${u.txid.slice(0, 8)}:${u.vout}`;
    const bar = bars.create(PHASES.length - 1, 0, { utxo: name, phase: 'START', info: '' });
    const h = client.mix(client.mixUtxo(u), { poolId, mixsTarget });
    h.on('phase', (p, d) => {
      const i = PHASES.indexOf(p);
      bar.update(i >= 0 ? i : bar.getProgress() * (PHASES.length - 1), {
        utxo: name,
        phase: p,
        info: d.mixId ?? '',
      });
      if (!tty) plain.line(`${name} ${p}${d.mixId ? ` ${d.mixId}` : ''}`);
      writeState(o, client.wallet);
    });
    h.on('reconnect', (r) => {
      bar.update({ utxo: name, phase: 'RECONNECT', info: `in ${r.delayMs} ms: ${r.reason}` });
      if (!tty) plain.line(`${name} RECONNECT in ${r.delayMs} ms: ${r.reason}`);
    });
    h.on('attempt', (a: MixOutcome) => {
      if (a.status === 'SUCCESS')
        say(`Mixed ${u.txid}:${u.vout} → ${a.receiveUtxo.txid}:${a.receiveUtxo.vout}`);
      else say(`Attempt failed for ${u.txid}:${u.vout}: ${a.reason} ${a.message}`);
    });
    return h;
  });
  const stop = () => {
    for (const h of handles) h.stop();
  };
  process.once('SIGINT', stop);
  const outcomes = await Promise.all(handles.map((h) => h.done));
  bars.stop();
  process.off('SIGINT', stop);
  writeState(o, client.wallet);
  const ok = outcomes.filter((x) => x.status === 'SUCCESS').length;
  console.log(`${ok}/${outcomes.length} mixed`);
  if (ok < outcomes.length) process.exitCode = 1;
}

/** Entry point: runs the CLI and turns errors into one clear line. */
export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (err) {
    if (err instanceof CliError || err instanceof CoordinatorRestError) {
      console.error(`Error: ${err.message}`);
    } else {
      console.error(`Error: ${(err as Error).message ?? String(err)}`);
    }
    process.exitCode = 1;
  }
}

if (import.meta.main) await main(process.argv);
