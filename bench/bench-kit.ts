/*
 * Benchmark hygiene shared by every bench/*.ts (not a benchmark itself: no main()):
 * - `alternate`: one warm-up of each side, then ≥ 5 rounds of service vs baseline with the order swapped every
 *   round, so drift of a shared machine hits both sides alike;
 * - `spread` / `percentile`: median and min–max / IQR, never a single best run;
 * - `LoadMonitor`: the 1-min load average before, during (sampled) and after a run, and a "loaded" mark when it
 *   exceeded LOADED_PER_CORE × cores (1.5 on 2 cores) at any point;
 * - `commitId`, `mdTable`, `writeResult`: every bench/results/<name>.md names the commit, the command and the load.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..');
export const RESULTS_DIR = join(__dirname, 'results');
export const MIN_ROUNDS = 5;
/** Above this 1-min load average per core a figure is marked as measured on a loaded machine. */
export const LOADED_PER_CORE = 0.75;

/** Rounds from BENCH_ROUNDS (default 5); fewer than MIN_ROUNDS is refused: a median of 3 is not a figure. */
export function benchRounds(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.BENCH_ROUNDS ?? MIN_ROUNDS);
  if (!Number.isInteger(n) || n < MIN_ROUNDS)
    throw new Error(`BENCH_ROUNDS must be an integer ≥ ${MIN_ROUNDS}`);
  return n;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  // linear interpolation between closest ranks (as numpy's default)
  const pos = (s.length - 1) * (p / 100);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
}

export function spread(xs: readonly number[]): Spread {
  return {
    n: xs.length,
    median: percentile(xs, 50),
    min: Math.min(...xs),
    max: Math.max(...xs),
    q1: percentile(xs, 25),
    q3: percentile(xs, 75),
  };
}

/** "0.77 (0.71–0.91)": median with min–max, `scale` divides (e.g. 1000 for ms → s). */
export function fmtSpread(s: Spread, digits = 2, scale = 1): string {
  const f = (x: number) => (x / scale).toFixed(digits);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

export interface Side {
  name: string;
  /** One measurement; returns milliseconds. */
  run: () => Promise<number>;
}

export interface AlternateResult {
  /** Measured rounds of each side, in round order. */
  a: number[];
  b: number[];
  /** Which side went first in each round. */
  firstInRound: string[];
}

/**
 * One warm-up of each side, then `rounds` rounds; round 1 runs a then b, round 2 b then a, and so on.
 */
export async function alternate(
  a: Side,
  b: Side,
  rounds: number,
  onRound?: (round: number, aMs: number, bMs: number) => void,
): Promise<AlternateResult> {
  if (rounds < MIN_ROUNDS) throw new Error(`at least ${MIN_ROUNDS} rounds, got ${rounds}`);
  await a.run();
  await b.run();
  const out: AlternateResult = { a: [], b: [], firstInRound: [] };
  for (let i = 0; i < rounds; i++) {
    let aMs: number;
    let bMs: number;
    if (i % 2 === 0) {
      aMs = await a.run();
      bMs = await b.run();
    } else {
      bMs = await b.run();
      aMs = await a.run();
    }
    out.a.push(aMs);
    out.b.push(bMs);
    out.firstInRound.push(i % 2 === 0 ? a.name : b.name);
    onRound?.(i + 1, aMs, bMs);
  }
  return out;
}

export interface LoadMark {
  before: number;
  peak: number;
  after: number;
  threshold: number;
  loaded: boolean;
}

export function loadThreshold(cores = cpus().length, env: NodeJS.ProcessEnv = process.env): number {
  const override = Number(env.BENCH_LOADED_THRESHOLD);
  return Number.isFinite(override) && override > 0 ? override : LOADED_PER_CORE * cores;
}

/** Samples the 1-min load average every second between start() and stop() (the benchmark's own load counts). */
export class LoadMonitor {
  private before = 0;
  private peak = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly read: () => number = () => loadavg()[0],
    private readonly threshold = loadThreshold(),
  ) {}

  start(): this {
    this.before = this.read();
    this.peak = this.before;
    this.timer = setInterval(() => (this.peak = Math.max(this.peak, this.read())), 1000);
    this.timer.unref();
    return this;
  }

  stop(): LoadMark {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const after = this.read();
    const peak = Math.max(this.peak, after);
    return { before: this.before, peak, after, threshold: this.threshold, loaded: peak > this.threshold };
  }
}

export function loadLine(m: LoadMark): string {
  const f = (x: number) => x.toFixed(1);
  const verdict = m.loaded
    ? `**machine loaded** (peak above ${f(m.threshold)}): the figures were measured on a busy machine`
    : `not loaded (peak ≤ ${f(m.threshold)})`;
  return `Machine load (1-min load average; 2 shared cores, this benchmark's own work included): ${f(m.before)} before, peak ${f(m.peak)} during, ${f(m.after)} after — ${verdict}.`;
}

/** `git rev-parse --short HEAD`, plus "-dirty" when tracked or new files differ (result files excluded). */
export function commitId(cwd = ROOT): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const status = execFileSync(
      'git',
      ['status', '--porcelain', '--', '.', ':!bench/results', ':!bench/RESULTS.md'],
      { cwd, encoding: 'utf8' },
    ).trim();
    return status ? `${head}-dirty` : head;
  } catch {
    return 'unknown';
  }
}

export const machine = () =>
  `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}`;

/** A Markdown table with padded columns (as prettier would write it). */
export function mdTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers.map(String), ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => `| ${widths.map((w, i) => (r[i] ?? '').padEnd(w)).join(' | ')} |`;
  const rule = `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

export interface ResultHeader {
  title: string;
  command: string;
  commit: string;
  load: LoadMark;
  startedAt: Date;
}

/** The lines every result file starts with: title, command, commit, time, machine, load. */
export function resultHeader(h: ResultHeader): string {
  return [
    `## ${h.title}`,
    '',
    `Command: \`${h.command}\` · commit \`${h.commit}\` · measured ${h.startedAt.toISOString()} on ${machine()}.`,
    loadLine(h.load),
  ].join('\n');
}

/** Writes bench/results/<name>.md (the whole file: the benchmark owns it). */
export function writeResult(name: string, markdown: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.md`);
  writeFileSync(file, `${markdown.trim()}\n`);
  return file;
}

/** "met" / "NOT met", with "(loaded)" when the machine was loaded during the run. */
export function verdict(met: boolean, load: LoadMark): string {
  return `${met ? 'met' : 'NOT met'}${load.loaded ? ' (loaded)' : ''}`;
}
