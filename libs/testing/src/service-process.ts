import { ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..', '..');

export type ServiceName = 'api' | 'scheduler' | 'refresher' | 'notifier' | 'history';

/**
 * A compiled service (`services/<name>/dist/main.js`, from `npx tsc -b tsconfig.build.json`) running as a real
 * separate process, for tests that kill, restart or run several replicas.
 */
export class ServiceProcess {
  readonly logs: string[] = [];
  private child: ChildProcess | null = null;
  private exitPromise: Promise<number | null> | null = null;

  constructor(
    readonly name: ServiceName,
    private readonly env: Record<string, string>,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves once a log line matches `readyPattern` (default: the start-up line). */
  async start(readyPattern: RegExp = /started|listening/, timeoutMs = 60_000): Promise<this> {
    const child = spawn(process.execPath, [join(ROOT, 'services', this.name, 'dist', 'main.js')], {
      cwd: ROOT,
      env: { ...process.env, LOG_JSON: 'false', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exitPromise = new Promise((r) => child.once('exit', (code) => r(code)));
    const onData = (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) this.logs.push(line);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    await this.waitForLog(readyPattern, timeoutMs);
    return this;
  }

  async waitForLog(pattern: RegExp, timeoutMs = 30_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.slice(from).find((l) => pattern.test(l));
      if (hit) return hit;
      if (!this.running)
        throw new Error(`${this.name} exited before logging ${pattern}:\n${this.logs.slice(-30).join('\n')}`);
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name} did not log ${pattern} within ${timeoutMs} ms:\n${this.logs.slice(-30).join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL: no graceful shutdown, like a crashed pod. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exitPromise;
  }

  /** SIGTERM and wait for a graceful exit (SIGKILL after the timeout). */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    this.child?.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }
}
