/**
 * The committed lock file is what `npm ci` (the README's first command and
 * CI's install) accepts: `npm ci --dry-run` on a copy of package.json and
 * package-lock.json succeeds. The same check on a lock file missing one
 * platform's optional package (the EUSAGE of issue 10) fails, so the first
 * check can fail.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dirs: string[] = [];

async function npmCiDryRun(lock: string): Promise<{ status: number | null; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'wpt-lock-'));
  dirs.push(dir);
  await writeFile(join(dir, 'package.json'), await readFile('package.json', 'utf8'));
  await writeFile(join(dir, 'package-lock.json'), lock);
  const r = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('package-lock.json', () => {
  it('is accepted by npm ci', async () => {
    const r = await npmCiDryRun(await readFile('package-lock.json', 'utf8'));
    expect(r.status, r.output).toBe(0);
  });

  it('missing one platform package makes npm ci fail (the check can fail)', async () => {
    const lock = JSON.parse(await readFile('package-lock.json', 'utf8')) as {
      packages: Record<string, unknown>;
    };
    const optional = Object.keys(lock.packages).find((k) => k.startsWith('node_modules/@biomejs/cli-'));
    expect(optional).toBeDefined();
    delete lock.packages[optional!];
    const r = await npmCiDryRun(JSON.stringify(lock, null, 2));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/Missing: @biomejs\/cli-\S+ from lock file/);
  });
});
