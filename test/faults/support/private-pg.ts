import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createServer, AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { ROOT } from './stack';

const run = promisify(execFile);

/** The directory holding PostgreSQL's server binaries (initdb, pg_ctl) of the machine's installation. */
function pgBinDir(): string {
  const candidates = [
    process.env.PG_BIN_DIR,
    ...(existsSync('/usr/lib/postgresql')
      ? readdirSync('/usr/lib/postgresql')
          .sort((a, b) => Number(b) - Number(a))
          .map((v) => `/usr/lib/postgresql/${v}/bin`)
      : []),
    '/usr/local/bin',
    '/usr/bin',
  ].filter((d): d is string => !!d);
  const dir = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  if (!dir) throw new Error(`initdb/pg_ctl not found (looked in ${candidates.join(', ')}; set PG_BIN_DIR)`);
  return dir;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A PostgreSQL cluster of the test's own (`initdb` + `pg_ctl start`, run as the OS user postgres when the test
 * runs as root), on a free loopback port and a data directory under `.cache/faults-pg/`, so a test can stop,
 * crash and restart "the database server" without touching the machine's shared PostgreSQL. `destroy()` stops
 * it and removes the data directory.
 */
export class PrivatePostgres {
  readonly host = '127.0.0.1';
  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  static async create(label: string): Promise<PrivatePostgres> {
    const bin = pgBinDir();
    const base = join(ROOT, '.cache', 'faults-pg');
    mkdirSync(base, { recursive: true });
    const dataDir = join(base, `${label}-${randomBytes(4).toString('hex')}`);
    const pg = new PrivatePostgres(dataDir, await freePort(), bin);
    if (process.getuid?.() === 0) {
      // initdb refuses to run as root: the cluster belongs to the postgres user
      chmodSync(base, 0o777);
      mkdirSync(dataDir, { mode: 0o700 });
      await run('chown', ['postgres:postgres', dataDir]);
    }
    await pg.as(join(bin, 'initdb'), [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '-A',
      'trust',
      '--no-sync',
      '-E',
      'UTF8',
    ]);
    // sockets in the data dir (no clash with the shared server's /var/run/postgresql); small and fast
    const conf = [
      `port = ${pg.port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${dataDir}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'shared_buffers = 32MB',
      'max_connections = 60',
      'log_min_messages = warning',
    ].join('\n');
    await pg.as('sh', ['-c', `printf '%s\\n' "$1" >> "$2"`, 'sh', conf, join(dataDir, 'postgresql.conf')]);
    await pg.start();
    return pg;
  }

  /** Runs a command as the postgres OS user when we are root. */
  private async as(cmd: string, args: string[]): Promise<void> {
    const [file, argv] =
      process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    await run(file, argv, { timeout: 120_000 });
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@${this.host}:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    await this.as(join(this.bin, 'pg_ctl'), [
      '-D',
      this.dataDir,
      '-l',
      join(this.dataDir, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  /** `immediate`: like a crash (every connection dropped, no checkpoint); `fast`: a clean restart's stop. */
  async stop(mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    await this.as(join(this.bin, 'pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  async query<T extends Record<string, unknown>>(
    database: string,
    sql: string,
    params: unknown[] = [],
  ): Promise<T[]> {
    const c = new Client({ connectionString: this.url(database) });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query<T>(sql, params)).rows;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async createDatabase(name: string): Promise<string> {
    await this.query('postgres', `create database "${name}"`);
    return this.url(name);
  }

  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
