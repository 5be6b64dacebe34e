/**
 * The Go programs of the local cluster (btcd v0.26.0, ps-http-sim v0.0.12),
 * built on first use through the Go module proxy into the tool cache
 * (`$WHIRLPOOL_TOOLS_DIR`, default `.cache/go-bin` in the repository) and
 * reused afterwards. `$BTCD_BIN` / `$PS_HTTP_SIM_BIN` name a binary to use
 * instead (then nothing is built).
 *
 * A build is `go install module@version`; when the proxy refuses the lookup
 * that needs (it does for ps-http-sim: 403 on `@v/list`), the module is
 * downloaded (`go mod download -json`) and built in place. The binary is
 * built into a private temporary folder and renamed into the cache, so a
 * half-built file is never used and two runs building at once do not clash.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOnPath, isExecutable, MissingPrerequisiteError } from './prerequisite.ts';

/** Repository root. */
export const REPO_ROOT: string = fileURLToPath(new URL('../', import.meta.url));

/** A Go program the cluster runs. */
export interface GoTool {
  /** Binary name (the last element of the module path). */
  name: string;
  module: string;
  version: string;
  /** Environment variable naming a binary to use instead of building one. */
  envVar: string;
}

/** btcd, the regtest node. */
export const BTCD_TOOL: GoTool = {
  name: 'btcd',
  module: 'github.com/btcsuite/btcd',
  version: 'v0.26.0',
  envVar: 'BTCD_BIN',
};

/** ps-http-sim, PlanetScale's HTTP API in front of MariaDB (bootstrap tests). */
export const PS_HTTP_SIM_TOOL: GoTool = {
  name: 'ps-http-sim',
  module: 'github.com/mattrobenolt/ps-http-sim',
  version: 'v0.0.12',
  envVar: 'PS_HTTP_SIM_BIN',
};

/** The tool cache: `$WHIRLPOOL_TOOLS_DIR`, else `.cache/go-bin` in the repository. */
export function toolsDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.WHIRLPOOL_TOOLS_DIR || join(REPO_ROOT, '.cache', 'go-bin'));
}

/** Where `tool` is or will be: `$<envVar>`, else `<tools dir>/<name>`. */
export function toolPath(tool: GoTool, env: NodeJS.ProcessEnv = process.env): string {
  return env[tool.envVar] || join(toolsDir(env), tool.name);
}

/** Options of {@link ensureGoTool}. */
export interface EnsureGoToolOptions {
  /** Environment (PATH, WHIRLPOOL_TOOLS_DIR, the tool's variable, Go's own); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Receives one progress line when a build starts. */
  log?: (line: string) => void;
}

/** The Go download a newcomer on this machine needs, as a shell command. */
export function goInstallCommand(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  return `curl -fsSL https://go.dev/dl/go1.26.8.linux-${arch}.tar.gz | sudo tar -C /usr/local -xz && export PATH=$PATH:/usr/local/go/bin`;
}

function run(
  command: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; logPath: string },
): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    void open(opts.logPath, 'a').then((log) => {
      const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        void log.write(d);
      });
      child.stderr.on('data', (d: Buffer) => void log.write(d));
      child.once('error', (err) => {
        void log.close();
        reject(err);
      });
      child.once('close', (code) => {
        void log.close().then(() => resolvePromise({ code, stdout }));
      });
    }, reject);
  });
}

async function lastLine(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .pop() ?? '(empty log)'
  );
}

/**
 * Path of a runnable `tool`: `$<envVar>` if set (it must exist), else the
 * cached binary, built first if missing (see the module doc). Throws a
 * {@link MissingPrerequisiteError} when `go` is not on PATH or the build fails.
 */
export async function ensureGoTool(tool: GoTool, opts: EnsureGoToolOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const label = `${tool.name} ${tool.version}`;
  const override = env[tool.envVar];
  if (override) {
    if (isExecutable(override)) return override;
    throw new MissingPrerequisiteError(
      `${tool.envVar} is set to '${override}', which is not an executable file: unset ${tool.envVar} to let the project build ${label}, or point it at a ${tool.name} binary.`,
    );
  }
  const dir = toolsDir(env);
  const target = join(dir, tool.name);
  if (isExecutable(target)) return target;

  const go = findOnPath('go', env.PATH ?? '');
  if (!go) {
    throw new MissingPrerequisiteError(
      `${label} must be built with Go, and 'go' is not on PATH: install Go with '${goInstallCommand()}' (or set ${tool.envVar} to a ${tool.name} binary).`,
    );
  }
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, `.${tool.name}-build-`));
  const logPath = join(dir, `${tool.name}-build.log`);
  const goEnv = { ...env, GOBIN: work };
  opts.log?.(
    `[devnet] building ${label} with ${go} into ${dir} (first run only; the Go module proxy must be reachable)`,
  );
  try {
    const installed = await run(go, ['install', `${tool.module}@${tool.version}`], {
      cwd: tmpdir(),
      env: goEnv,
      logPath,
    });
    if (installed.code !== 0) {
      // `go install mod@version` needs the proxy's version list; build the downloaded module instead.
      const downloaded = await run(go, ['mod', 'download', '-json', `${tool.module}@${tool.version}`], {
        cwd: tmpdir(),
        env: goEnv,
        logPath,
      });
      const moduleDir =
        downloaded.code === 0 ? (JSON.parse(downloaded.stdout) as { Dir?: string }).Dir : undefined;
      if (moduleDir) {
        await run(go, ['build', '-o', join(work, basename(tool.module)), '.'], {
          cwd: moduleDir,
          env: goEnv,
          logPath,
        });
      }
    }
    const built = join(work, basename(tool.module));
    if (!existsSync(built)) {
      throw new MissingPrerequisiteError(
        `Building ${label} with go failed ('${await lastLine(logPath)}', full log ${logPath}): check that https://proxy.golang.org is reachable and that 'go version' is 1.21 or newer (older Go cannot fetch the toolchain the module asks for), or install Go with '${goInstallCommand()}'.`,
      );
    }
    await rename(built, target);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
