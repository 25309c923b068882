import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export const ROOT = resolve(__dirname, '..', '..');
export const DASHBOARD_FILE = join(ROOT, 'deploy/grafana/dashboards/model-persistence.json');
export const ALERTS_FILE = join(ROOT, 'deploy/prometheus/alerts.yml');

export interface DashboardQuery {
  panel: string;
  expr: string;
}

interface Dashboard {
  panels: { title: string; targets?: { expr: string }[] }[];
}

export function dashboardQueries(): DashboardQuery[] {
  const d = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(ALERTS_FILE, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

/** Grafana's range variables, replaced for a plain Prometheus query. */
export function withoutGrafanaVariables(expr: string, rate = '1m', range = '10m'): string {
  return expr
    .replace(/\$__rate_interval/g, rate)
    .replace(/\$__range/g, range)
    .replace(/\$__interval/g, rate);
}

/**
 * The left side of an alert's last top-level comparison (`a / b < 0.95` → `a / b`): the series the alert
 * watches, which must exist even when the alert does not fire.
 */
export function comparisonLhs(expr: string): string {
  let depth = 0;
  let quote: string | null = null;
  let cut = -1;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (depth === 0 && (c === '<' || c === '>' || ((c === '=' || c === '!') && expr[i + 1] === '=')))
      cut = i;
  }
  if (cut < 0) throw new Error(`no top-level comparison in ${expr}`);
  return expr.slice(0, cut).trim();
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export interface PromResult {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/** A real Prometheus (Debian's package) on a free loopback port, with its own data directory. */
export class PrometheusProcess {
  private proc?: ChildProcess;
  private dir = '';
  private output = '';
  url = '';

  constructor(private readonly binary: string) {}

  async start(targets: { job: string; address: string }[], ruleFiles: string[]): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'mp-prometheus-'));
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
      rule_files: ruleFiles,
      scrape_configs: targets.map((t) => ({ job_name: t.job, static_configs: [{ targets: [t.address] }] })),
    };
    writeFileSync(join(this.dir, 'prometheus.yml'), JSON.stringify(config));
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    this.proc = spawn(
      this.binary,
      [
        `--config.file=${join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (b: Buffer) => (this.output = (this.output + b.toString()).slice(-20_000));
    this.proc.stdout?.on('data', keep);
    this.proc.stderr?.on('data', keep);
  }

  get log(): string {
    return this.output;
  }

  async query(expr: string): Promise<PromResult> {
    const r = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await r.json()) as PromResult;
  }

  async get<T>(path: string): Promise<T> {
    const r = await fetch(`${this.url}${path}`);
    return (await r.json()) as T;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null) {
      await new Promise<void>((res) => {
        p.once('exit', () => res());
        p.kill('SIGTERM');
        setTimeout(() => p.kill('SIGKILL'), 5000).unref();
      });
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
