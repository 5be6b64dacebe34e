/**
 * Operator CLI for directory keys (`npm run directory:keys -- <command>`),
 * meant to run on an offline machine for the root key:
 *
 * - `root-key --out <file>` / `instance-key --out <file>`: a new Ed25519 key;
 *   the private seed (64 hex) goes to the file (mode 0600, never printed),
 *   the public key is printed;
 * - `certify --root-key-file <file> --instance-id <id> --public-key <hex> [--days 90]`:
 *   prints the root-signed certificate JSON of an instance key, for the
 *   instance's `WHIRLPOOL_DIRECTORY_CERTIFICATE(_FILE)`.
 *
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Command, InvalidArgumentError } from 'commander';
import {
  CERTIFICATE_VERSION,
  InstanceCertificateSchema,
  MAX_CERTIFICATE_LIFETIME_MS,
  signInstanceCertificate,
} from '#shared/directory/certificate.ts';
import { directoryPublicKey, parseDirectoryKeyHex } from '#shared/directory/signing.ts';

const DAY_MS = 86_400_000;

function userPath(p: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), p);
}

/** Writes a new key's seed to `out` (refusing to overwrite) and returns its public key hex. */
export function writeNewKey(out: string): string {
  const path = userPath(out);
  if (existsSync(path)) throw new Error(`'${path}' exists; refusing to overwrite a key`);
  const seed = ed25519.utils.randomSecretKey();
  writeFileSync(path, `${bytesToHex(seed)}\n`, { mode: 0o600 });
  return bytesToHex(directoryPublicKey(seed));
}

/** The certificate JSON text (`{certificate, signature}`) of an instance key, signed by the root seed. */
export function certify(o: {
  rootKey: Uint8Array;
  instanceId: string;
  publicKeyHex: string;
  days: number;
  nowMs: number;
}): string {
  const content = {
    version: CERTIFICATE_VERSION,
    instanceId: o.instanceId,
    publicKey: o.publicKeyHex.toLowerCase(),
    issuedAt: o.nowMs,
    expiresAt: o.nowMs + o.days * DAY_MS,
  };
  const check = InstanceCertificateSchema.safeParse(content);
  if (!check.success) {
    throw new Error(
      `Invalid certificate: ${check.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
    );
  }
  return JSON.stringify(signInstanceCertificate(check.data, o.rootKey));
}

function days(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n * DAY_MS > MAX_CERTIFICATE_LIFETIME_MS)
    throw new InvalidArgumentError(
      `days must be an integer from 1 to ${MAX_CERTIFICATE_LIFETIME_MS / DAY_MS}`,
    );
  return n;
}

function program(): Command {
  const cmd = new Command('directory-keys').description('directory root key and instance certificates');
  cmd
    .command('root-key')
    .description(
      'create the offline root key (keep the file off every server); prints the public key clients pin',
    )
    .requiredOption('--out <file>', 'file for the private seed (mode 0600)')
    .action((o: { out: string }) => console.log(`root public key (pin in clients): ${writeNewKey(o.out)}`));
  cmd
    .command('instance-key')
    .description("create an instance's directory key; prints the public key to certify")
    .requiredOption('--out <file>', 'file for the private seed (WHIRLPOOL_DIRECTORY_PRIVATE_KEY_FILE)')
    .action((o: { out: string }) => console.log(`instance public key: ${writeNewKey(o.out)}`));
  cmd
    .command('certify')
    .description('print the root-signed certificate of an instance key (WHIRLPOOL_DIRECTORY_CERTIFICATE)')
    .requiredOption('--root-key-file <file>', 'the root private seed')
    .requiredOption('--instance-id <id>', 'WHIRLPOOL_INSTANCE_ID of the instance')
    .requiredOption('--public-key <hex>', 'the instance public key')
    .option('--days <n>', 'validity in days (default 90)', days, 90)
    .action((o: { rootKeyFile: string; instanceId: string; publicKey: string; days: number }) => {
      const rootKey = parseDirectoryKeyHex(readFileSync(userPath(o.rootKeyFile), 'utf8'), 'Root key file');
      parseDirectoryKeyHex(o.publicKey, '--public-key');
      console.log(
        certify({
          rootKey,
          instanceId: o.instanceId,
          publicKeyHex: o.publicKey,
          days: o.days,
          nowMs: Date.now(),
        }),
      );
    });
  return cmd;
}

if (import.meta.main) {
  try {
    await program().parseAsync(process.argv);
  } catch (err) {
    console.error(`Error: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
