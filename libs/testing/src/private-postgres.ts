import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './private-broker';

const run = promisify(execFile);

/** PostgreSQL server binaries of the Debian packages (the newest installed major). */
function pgBin(tool: string): string {
  const out = execFileSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1'])
    .toString()
    .trim();
  return join(out, tool);
}

/** Runs as the `postgres` OS user when we are root (initdb refuses root); never blocks the test's event loop. */
async function asPostgres(cmd: string, args: string[]): Promise<void> {
  const argv = userInfo().uid === 0 ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
  await run(argv[0], argv.slice(1), { timeout: 120_000 });
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Writes ca.crt/ca.key, server.crt/server.key (CN 127.0.0.1, the given SAN, signed by the CA) and an
 * unrelated self-signed other.crt into `dir`.
 */
export function makeTlsFiles(dir: string, subjectAltName = 'IP:127.0.0.1'): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=mp test CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
    ],
    dir,
  );
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=${subjectAltName}\n`);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'san.ext',
      '-out',
      'server.crt',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=mp unrelated CA',
      '-keyout',
      'other.key',
      '-out',
      'other.crt',
    ],
    dir,
  );
}

export function readTlsMaterial(dir: string): TlsMaterial {
  return {
    caCert: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    otherCaCert: readFileSync(join(dir, 'other.crt'), 'utf8'),
  };
}

export interface TlsMaterial {
  /** The CA that signed the server certificate (PEM). */
  caCert: string;
  /** An unrelated self-signed CA (PEM): verification against it must fail. */
  otherCaCert: string;
}

/** How a private server is made: `tls` makes it accept only TLS connections, with throw-away certificates. */
export interface PrivateServerOptions {
  tls?: boolean;
}

/**
 * A PostgreSQL cluster of the test's own (`initdb` + `pg_ctl`, run as the OS user postgres when the test runs as
 * root) on a free loopback port and a data directory of its own, so a test can stop, crash and restart "the
 * database server" without touching the machine's shared server. With `tls` it accepts ONLY TLS connections
 * (`hostssl … trust`, plain TCP rejected), with a server certificate for 127.0.0.1 (IP SAN only, so `localhost`
 * does not match it) signed by a throw-away CA generated with openssl. destroy() stops it and removes everything.
 */
export class PrivatePostgres {
  readonly host = '127.0.0.1';
  private constructor(
    readonly port: number,
    private readonly dir: string,
    /** The certificates, when made with `tls`. */
    readonly tls: TlsMaterial | undefined,
  ) {}

  static async create(label: string, options: PrivateServerOptions = {}): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), `mp-private-pg-${label}-`));
    const data = join(dir, 'data');
    const port = await freePort();
    const root = userInfo().uid === 0;
    if (root) chownSync(dir, uidOf('postgres'), gidOf('postgres'));
    const conf = [
      `port = ${port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${dir}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'shared_buffers = 32MB',
      'max_connections = 60',
      'log_min_messages = warning',
    ];
    if (options.tls) {
      makeTlsFiles(dir);
      chmodSync(join(dir, 'server.key'), 0o600);
      if (root) {
        for (const f of ['server.key', 'server.crt'])
          chownSync(join(dir, f), uidOf('postgres'), gidOf('postgres'));
      }
      conf.push(
        'ssl = on',
        `ssl_cert_file = '${join(dir, 'server.crt')}'`,
        `ssl_key_file = '${join(dir, 'server.key')}'`,
      );
    }
    await asPostgres(pgBin('initdb'), [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
      '-E',
      'UTF8',
    ]);
    // written as the postgres user: the data directory is theirs
    await asPostgres('sh', [
      '-c',
      'printf "%s\\n" "$1" >> "$2"',
      'sh',
      conf.join('\n'),
      join(data, 'postgresql.conf'),
    ]);
    if (options.tls) {
      const hba = [
        'local all all trust',
        'hostssl all all 127.0.0.1/32 trust',
        'hostnossl all all 0.0.0.0/0 reject',
      ];
      await asPostgres('sh', [
        '-c',
        'printf "%s\\n" "$1" > "$2"',
        'sh',
        hba.join('\n'),
        join(data, 'pg_hba.conf'),
      ]);
    }
    const server = new PrivatePostgres(port, dir, options.tls ? readTlsMaterial(dir) : undefined);
    await server.start();
    return server;
  }

  /** The certificates of a server made with `tls`. */
  requireTls(): TlsMaterial {
    if (!this.tls) throw new Error('this private server was made without tls');
    return this.tls;
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@${this.host}:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    await asPostgres(pgBin('pg_ctl'), [
      '-D',
      join(this.dir, 'data'),
      '-l',
      join(this.dir, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  /** `immediate`: like a crash (every connection dropped, no checkpoint); `fast`: a clean restart's stop. */
  async stop(mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    await asPostgres(pgBin('pg_ctl'), ['-D', join(this.dir, 'data'), '-m', mode, '-w', '-t', '60', 'stop']);
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

  /** Stops the server (as a crash would) and removes its files. */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user]).toString().trim());
}
function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user]).toString().trim());
}
