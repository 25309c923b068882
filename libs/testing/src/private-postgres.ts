import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './private-broker';

/** PostgreSQL server binaries of the Debian packages (the newest installed major). */
function pgBin(tool: string): string {
  const out = execFileSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1'])
    .toString()
    .trim();
  return join(out, tool);
}

/** Runs as the `postgres` OS user when we are root (initdb refuses root). */
function asPostgres(cmd: string, args: string[]): string {
  const argv = userInfo().uid === 0 ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
  return execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
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

/**
 * A private PostgreSQL cluster on its own port and data directory that accepts ONLY TLS connections
 * (`hostssl … trust`, plain TCP rejected), with a server certificate for 127.0.0.1 (IP SAN only, so
 * `localhost` does not match it) signed by a throw-away CA generated with openssl. Never touches the shared
 * server. stop() removes everything.
 */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    readonly tls: TlsMaterial,
    private readonly dir: string,
  ) {}

  static async startTls(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'mp-private-pg-'));
    const data = join(dir, 'data');
    const port = await freePort();
    if (userInfo().uid === 0) chownSync(dir, uidOf('postgres'), gidOf('postgres'));
    makeTlsFiles(dir);
    chmodSync(join(dir, 'server.key'), 0o600);
    if (userInfo().uid === 0) {
      for (const f of ['server.key', 'server.crt'])
        chownSync(join(dir, f), uidOf('postgres'), gidOf('postgres'));
    }
    asPostgres(pgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    appendFileSync(
      join(data, 'postgresql.conf'),
      [
        `port = ${port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = '${dir}'`,
        'ssl = on',
        `ssl_cert_file = '${join(dir, 'server.crt')}'`,
        `ssl_key_file = '${join(dir, 'server.key')}'`,
        'fsync = off',
        'shared_buffers = 16MB',
        'max_connections = 20',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(data, 'pg_hba.conf'),
      [
        'local all all trust',
        'hostssl all all 127.0.0.1/32 trust',
        'hostnossl all all 0.0.0.0/0 reject',
        '',
      ].join('\n'),
    );
    asPostgres(pgBin('pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
    return new PrivatePostgres(port, readTlsMaterial(dir), dir);
  }

  async stop(): Promise<void> {
    try {
      asPostgres(pgBin('pg_ctl'), ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user]).toString().trim());
}
function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user]).toString().trim());
}
