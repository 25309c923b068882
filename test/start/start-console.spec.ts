import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';

const PREFLIGHT = join(__dirname, '..', '..', 'scripts', 'start-preflight.js');

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startMailCatcher } = require('../../scripts/mail-catcher.js') as {
  startMailCatcher(o: { dir: string; port: number }): Promise<{ port: number; close(): Promise<void> }>;
};

/** Runs preflight() in a child process (it exits the process on failure), in `root`. */
function runPreflight(root: string, ports: number[]) {
  const script = `
    require(${JSON.stringify(PREFLIGHT)})
      .preflight({ root: ${JSON.stringify(root)}, consoleUrl: 'http://127.0.0.1:3000/admin/',
        ports: ${JSON.stringify(ports)}.map((port) => ({ port, what: 'api HTTP', variable: 'API_PORT' })) })
      .then(() => { console.log('started'); if (process.env.HOLD) setTimeout(() => {}, 1e9); });`;
  return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
}

describe('npm start preflight', () => {
  let root: string;
  let busy: Server;
  let busyPort: number;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'mp-start-'));
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterEach(async () => {
    await new Promise((r) => busy.close(r));
    rmSync(root, { recursive: true, force: true });
  });

  it('names a taken port and the variable to set, and exits non-zero before doing anything', () => {
    const r = runPreflight(root, [busyPort]);
    expect(r.status).toBe(1);
    expect(r.stdout).not.toContain('started');
    expect(r.stderr).toContain(`port ${busyPort} (api HTTP) is already in use: set API_PORT`);
    // the lock was released: a run with free ports goes ahead
    expect(runPreflight(root, []).stdout).toContain('started');
  });

  it('refuses a second npm start while one runs, and takes over the lock of a dead one', async () => {
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(PREFLIGHT)})
          .preflight({ root: ${JSON.stringify(root)}, ports: [], consoleUrl: 'http://127.0.0.1:3000/admin/' })
          .then(() => { console.log('holding'); setInterval(() => {}, 1000); });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) =>
        holder.stdout.on('data', (d: Buffer) => d.toString().includes('holding') && resolve()),
      );
      const second = runPreflight(root, []);
      expect(second.status).toBe(1);
      expect(second.stderr).toContain(`npm start is already running in this folder (pid ${holder.pid}`);
      expect(second.stderr).toContain('http://127.0.0.1:3000/admin/');
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    // the holder died without cleaning up: its stale lock does not block the next start
    expect(runPreflight(root, []).stdout).toContain('started');
  });
});

describe('local mail catcher', () => {
  it('writes each caught mail with subject and text part to the folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-mail-'));
    const catcher = await startMailCatcher({ dir, port: 0 });
    try {
      await createTransport({
        host: '127.0.0.1',
        port: catcher.port,
        secure: false,
        ignoreTLS: true,
      }).sendMail({
        from: 'mp@localhost',
        to: 'admin@example.com',
        subject: 'Model “Revenue” failed — Ünïcode',
        text: 'relation "orderz" does not exist\nsecond line',
        html: '<p>relation "orderz" does not exist</p>',
      });
      const json = readdirSync(dir).filter((f) => f.endsWith('.json'));
      expect(json).toHaveLength(1);
      const mail = JSON.parse(readFileSync(join(dir, json[0]), 'utf8'));
      expect(mail).toMatchObject({
        from: 'mp@localhost',
        to: ['admin@example.com'],
        subject: 'Model “Revenue” failed — Ünïcode',
      });
      expect(mail.text).toContain('relation "orderz" does not exist\nsecond line');
      expect(readdirSync(dir).filter((f) => f.endsWith('.eml'))).toHaveLength(1);
    } finally {
      await catcher.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
