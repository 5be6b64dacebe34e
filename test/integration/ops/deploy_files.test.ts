/**
 * The operator files in `deploy/` against the real tools and a real
 * coordinator: the Prometheus alert rules and every Grafana query parse
 * (`promtool check rules`, the dashboard's queries checked as recording
 * rules), every metric they name is one that a running coordinator's
 * `/metrics` exports, the example torrc passes `tor --verify-config`, and the
 * systemd units pass `systemd-analyze verify` without a warning.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BtcdNode, startBtcd } from '#devnet/btcd.ts';
import { type CoordinatorProcess, spawnCoordinator } from '#devnet/coordinator_process.ts';
import { freePort } from '#devnet/ports.ts';
import { baseCoordinatorEnv } from '#test/support/coordinator_env.ts';
import { createTestDatabase, type TestDatabase } from '#test/support/db.ts';
import { ensureDebianTool } from '#test/support/debian_tool.ts';

const ALERTS = 'deploy/prometheus/alerts.yml';
const DASHBOARD = 'deploy/grafana/whirlpool-cluster.json';

/** Metric names exported by a `/metrics` text: every `# TYPE` family, with histogram/summary series names. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>(['up']); // Prometheus' own per-target series
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (!m) continue;
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/** Metric names a PromQL expression refers to: `whirlpool_*` identifiers and `up`. */
function metricNamesIn(expr: string): string[] {
  const names: string[] = [...(expr.match(/\bwhirlpool_[a-z0-9_]+\b/g) ?? [])];
  if (/\bup\{/.test(expr)) names.push('up');
  return [...new Set(names)];
}

/** The names of `exprs` that `exported` lacks. */
function unknownMetrics(exprs: readonly string[], exported: ReadonlySet<string>): string[] {
  return [...new Set(exprs.flatMap(metricNamesIn))].filter((n) => !exported.has(n)).sort();
}

/** The `expr:` values of a Prometheus rules file (single-line and folded `>` forms). */
function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    const [, indent, rest] = m as unknown as [string, string, string];
    if (rest !== '>' && rest !== '|') {
      out.push(rest);
      continue;
    }
    const body: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.startsWith(`${indent}  `) || lines[i + 1]!.trim() === '')) {
      body.push(lines[++i]!.trim());
    }
    out.push(body.join(' ').trim());
  }
  return out;
}

interface GrafanaTarget {
  expr: string;
}
interface GrafanaPanel {
  title: string;
  targets?: GrafanaTarget[];
}

/** Every query of the dashboard (panel targets and annotations). */
function dashboardQueries(): string[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: GrafanaPanel[];
    annotations?: { list: Array<{ expr?: string }> };
  };
  const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  for (const a of dash.annotations?.list ?? []) if (a.expr) exprs.push(a.expr);
  return exprs;
}

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('deploy/ files', () => {
  let db: TestDatabase;
  let btcd: BtcdNode;
  let dir: string;
  let coordinator: CoordinatorProcess | null = null;
  let exported: Set<string>;
  let promtool: string;

  beforeAll(async () => {
    promtool = ensureDebianTool('promtool', 'prometheus');
    [db, btcd, dir] = await Promise.all([
      createTestDatabase('deploy'),
      startBtcd({ matureBlocks: 1 }),
      mkdtemp(join(tmpdir(), 'wpt-deploy-')),
    ]);
    const port = await freePort();
    coordinator = spawnCoordinator({
      instanceId: 'deploy-a',
      env: {
        ...baseCoordinatorEnv({ dbUrl: db.url, rpcUrl: btcd.rpcUrl }),
        WHIRLPOOL_PORT: String(port),
        WHIRLPOOL_URL_CLEAR: `http://127.0.0.1:${port}`,
      },
    });
    await coordinator.waitFor((l) => l.msg === 'coordinator started', 90_000);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    exported = exportedNames(await res.text());
  });

  afterAll(async () => {
    coordinator?.signal('SIGKILL');
    await coordinator?.exit;
    await Promise.all([btcd?.stop(), db?.drop(), dir ? rm(dir, { recursive: true, force: true }) : null]);
  });

  it('the metric-name check flags a name the coordinator does not export', () => {
    expect(exported.has('whirlpool_served_pools')).toBe(true);
    expect(exported.has('whirlpool_cluster_takeover_latency_seconds_bucket')).toBe(true);
    expect(
      unknownMetrics(['sum(rate(whirlpool_no_such_metric_total[5m])) > 0', 'up{job="x"}'], exported),
    ).toEqual(['whirlpool_no_such_metric_total']);
  });

  it('the alert rules parse with promtool and name only exported metrics', () => {
    const r = run(promtool, ['check', 'rules', ALERTS]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const found = Number(/SUCCESS: (\d+) rules found/.exec(r.stdout)?.[1]);
    const exprs = ruleExpressions(readFileSync(ALERTS, 'utf8'));
    expect(found).toBe(exprs.length);
    expect(exprs.length).toBeGreaterThanOrEqual(15);
    expect(unknownMetrics(exprs, exported)).toEqual([]);
  });

  it('every Grafana query parses as PromQL and names only exported metrics', () => {
    const exprs = dashboardQueries();
    expect(exprs.length).toBeGreaterThanOrEqual(15);
    // Grafana's interval variables become a fixed range so promtool can parse the query as a recording rule.
    const rules = exprs.map(
      (e, i) =>
        `      - record: grafana_query_${i}\n        expr: ${JSON.stringify(e.replaceAll('$__rate_interval', '5m'))}`,
    );
    const file = join(dir, 'grafana-queries.yml');
    writeFileSync(file, `groups:\n  - name: grafana\n    rules:\n${rules.join('\n')}\n`);
    const r = run(promtool, ['check', 'rules', file]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(unknownMetrics(exprs, exported)).toEqual([]);
  });

  it('the example torrc passes tor --verify-config', () => {
    const tor = ensureDebianTool('tor', 'tor');
    const torrc = readFileSync('deploy/tor/torrc.example', 'utf8').replaceAll(
      '/var/lib/tor',
      join(dir, 'tor'),
    );
    const file = join(dir, 'torrc');
    writeFileSync(file, torrc);
    const r = run(tor, ['--verify-config', '-f', file]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Configuration was valid');
    expect(torrc.match(/^HiddenServiceDir /gm)?.length).toBe(3);
  });

  it('the systemd units verify without a warning', () => {
    const analyze = ensureDebianTool('systemd-analyze', 'systemd');
    const units = [
      ['whirlpool-bootstrap.service', 'whirlpool-bootstrap.service'],
      // a template is verified as one of its instances
      ['whirlpool-coordinator@.service', 'whirlpool-coordinator@coord-a.service'],
    ] as const;
    for (const [src, name] of units) {
      const file = join(dir, name);
      copyFileSync(join('deploy/systemd', src), file);
      const r = run(analyze, ['verify', '--man=no', file]);
      expect(r.status, `${src}: ${r.stderr}`).toBe(0);
      expect(r.stderr.trim(), src).toBe('');
    }
  });
});
