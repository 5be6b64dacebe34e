/**
 * `npm run dashboard:hash-password`: reads a password from standard input
 * (first line) and prints its hash for `WHIRLPOOL_DASHBOARD_PASSWORD_HASH`.
 *
 * @module
 */
import { hashPassword } from './password_hash.ts';

async function readStdinLine(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Dashboard password: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

const password = await readStdinLine();
if (password.length < 10) {
  process.stderr.write('Refusing a dashboard password shorter than 10 characters\n');
  process.exit(1);
}
process.stdout.write(`${await hashPassword(password)}\n`);
