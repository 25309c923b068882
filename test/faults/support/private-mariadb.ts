import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { freePort } from './private-pg';
import { ROOT } from './stack';

const run = promisify(execFile);

/**
 * A MariaDB server of the test's own (`mariadb-install-db` + `mariadbd` with its own datadir, loopback port,
 * socket and pid file under `.cache/faults-mariadb/`), so a test can kill and restart "the source server"
 * without touching the machine's shared MariaDB. root@127.0.0.1 without a password. `destroy()` kills it and
 * removes its files.
 */
export class PrivateMariadb {
  readonly host = '127.0.0.1';
  private child: ChildProcess | null = null;
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(label: string): Promise<PrivateMariadb> {
    const base = join(ROOT, '.cache', 'faults-mariadb');
    mkdirSync(base, { recursive: true });
    const dir = join(base, `${label}-${randomBytes(4).toString('hex')}`);
    mkdirSync(dir, { recursive: true });
    const root = process.getuid?.() === 0;
    if (root) {
      chmodSync(base, 0o777);
      await run('chown', ['mysql:mysql', dir]);
    }
    const db = new PrivateMariadb(dir, await freePort());
    await run(
      'mariadb-install-db',
      [
        `--datadir=${join(dir, 'data')}`,
        ...(root ? ['--user=mysql'] : []),
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
      ],
      { timeout: 120_000 },
    );
    await db.start();
    return db;
  }

  async start(): Promise<void> {
    const child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${join(this.dir, 'data')}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(this.dir, 'mysqld.sock')}`,
        `--pid-file=${join(this.dir, 'mysqld.pid')}`,
        `--log-error=${join(this.dir, 'error.log')}`,
        ...(process.getuid?.() === 0 ? ['--user=mysql'] : []),
        '--skip-log-bin',
        '--innodb-buffer-pool-size=32M',
        '--max-connections=60',
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const c = await createConnection({ host: this.host, port: this.port, user: 'root' });
        await c.end();
        return;
      } catch (e) {
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(
            `private mariadbd did not start: ${(e as Error).message} (see ${this.dir}/error.log)`,
          );
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** SIGKILL: like a crash (every connection dropped at once). */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }

  async query<T>(sql: string, params: unknown[] = [], database?: string): Promise<T[]> {
    const c = await createConnection({ host: this.host, port: this.port, user: 'root', database });
    c.on('error', () => undefined);
    try {
      const [rows] = await c.query(sql, params);
      return (Array.isArray(rows) ? rows : []) as T[];
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
