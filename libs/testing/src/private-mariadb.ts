import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { freePort } from './private-broker';
import { makeTlsFiles, PrivateServerOptions, readTlsMaterial, TlsMaterial } from './private-postgres';

const run = promisify(execFile);

/**
 * A MariaDB server of the test's own (`mariadb-install-db` + `mariadbd` with its own datadir, loopback port,
 * socket and pid file), so a test can kill and restart "the source server" without touching the machine's shared
 * MariaDB; root@127.0.0.1 without a password. With `tls` it requires TLS (`require_secure_transport`), with the
 * same kind of throw-away CA and certificate as PrivatePostgres. destroy() kills it and removes its files.
 */
export class PrivateMariadb {
  readonly host = '127.0.0.1';
  private child: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    private readonly dir: string,
    /** The certificates, when made with `tls`. */
    readonly tls: TlsMaterial | undefined,
  ) {}

  static async create(label: string, options: PrivateServerOptions = {}): Promise<PrivateMariadb> {
    const dir = mkdtempSync(join(tmpdir(), `mp-private-mariadb-${label}-`));
    const root = userInfo().uid === 0;
    // mysql2 checks host names only (an IP address is checked as `localhost`): the certificate names both
    if (options.tls) makeTlsFiles(dir, 'DNS:localhost,IP:127.0.0.1');
    if (root) {
      // the server runs as mysql: its directory and key files are theirs
      for (const f of ['', ...readdirSync(dir)]) chownSync(join(dir, f), uidOf('mysql'), gidOf('mysql'));
    }
    const db = new PrivateMariadb(await freePort(), dir, options.tls ? readTlsMaterial(dir) : undefined);
    await run(
      'mariadb-install-db',
      [
        '--no-defaults',
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

  /** The certificates of a server made with `tls`. */
  requireTls(): TlsMaterial {
    if (!this.tls) throw new Error('this private server was made without tls');
    return this.tls;
  }

  async start(): Promise<void> {
    const tls = this.tls
      ? [
          `--ssl-cert=${join(this.dir, 'server.crt')}`,
          `--ssl-key=${join(this.dir, 'server.key')}`,
          `--ssl-ca=${join(this.dir, 'ca.crt')}`,
          '--require-secure-transport=ON',
        ]
      : [];
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
        ...(userInfo().uid === 0 ? ['--user=mysql'] : []),
        '--skip-name-resolve',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=32M',
        '--max-connections=60',
        ...tls,
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const c = await this.connect();
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

  private connect(database?: string) {
    return createConnection({
      host: this.host,
      port: this.port,
      user: 'root',
      database,
      ...(this.tls ? { ssl: { rejectUnauthorized: false } } : {}),
    });
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
    const c = await this.connect(database);
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

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user]).toString().trim());
}
function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user]).toString().trim());
}
