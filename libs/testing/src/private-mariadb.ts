import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { freePort } from './private-broker';
import { makeTlsFiles, readTlsMaterial, TlsMaterial } from './private-postgres';

/**
 * A private MariaDB server (its own data directory, port and socket) that requires TLS
 * (`require_secure_transport`), with the same throw-away CA and 127.0.0.1 certificate as PrivatePostgres.
 * Root logs in without a password over TLS. Never touches the shared server; stop() removes everything.
 */
export class PrivateMariadb {
  private constructor(
    readonly port: number,
    readonly tls: TlsMaterial,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  static async startTls(): Promise<PrivateMariadb> {
    const dir = mkdtempSync(join(tmpdir(), 'mp-private-mariadb-'));
    const port = await freePort();
    // mysql2 checks host names only (an IP address is checked as `localhost`): the certificate names both
    makeTlsFiles(dir, 'DNS:localhost,IP:127.0.0.1');
    execFileSync(
      'mariadb-install-db',
      [
        '--no-defaults',
        `--datadir=${join(dir, 'data')}`,
        '--user=root',
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${join(dir, 'data')}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'sock')}`,
        `--pid-file=${join(dir, 'pid')}`,
        '--user=root',
        '--skip-name-resolve',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=16M',
        `--ssl-cert=${join(dir, 'server.crt')}`,
        `--ssl-key=${join(dir, 'server.key')}`,
        `--ssl-ca=${join(dir, 'ca.crt')}`,
        '--require-secure-transport=ON',
      ],
      { stdio: 'ignore' },
    );
    const server = new PrivateMariadb(port, readTlsMaterial(dir), dir, child);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const c = await createConnection({
          host: '127.0.0.1',
          port,
          user: 'root',
          ssl: { rejectUnauthorized: false },
        });
        await c.end();
        return server;
      } catch (e) {
        if (Date.now() > deadline || child.exitCode !== null) {
          await server.stop();
          throw e;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
