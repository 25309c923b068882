import { AddressInfo, createServer, Server, Socket } from 'node:net';
import { ApiHarness } from './api-harness';

/**
 * A PostgreSQL look-alike that asks for a cleartext password and records every byte a client sends: the
 * "new host" a database is re-pointed to. Whatever it records was disclosed to it.
 */
class PasswordTrap {
  private readonly received: Buffer[] = [];
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<PasswordTrap> {
    const server = createServer();
    const trap = new PasswordTrap(server);
    server.on('connection', (s) => trap.serve(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return trap;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Everything clients sent, as text. */
  text(): string {
    return Buffer.concat(this.received).toString('latin1');
  }

  private serve(s: Socket): void {
    this.sockets.add(s);
    let started = false;
    s.on('error', () => undefined);
    s.on('close', () => this.sockets.delete(s));
    s.on('data', (d: Buffer) => {
      this.received.push(d);
      if (!started && d.length >= 8 && d.readInt32BE(4) === 80877103) {
        s.write('N'); // SSLRequest: no TLS here
        return;
      }
      if (!started) {
        started = true;
        const auth = Buffer.alloc(9);
        auth.write('R', 0);
        auth.writeInt32BE(8, 1);
        auth.writeInt32BE(3, 5); // AuthenticationCleartextPassword
        s.write(auth);
        return;
      }
      const fields = Buffer.from('SFATAL\0C28P01\0Mpassword authentication failed\0\0', 'latin1');
      const head = Buffer.alloc(5);
      head.write('E', 0);
      head.writeInt32BE(fields.length + 4, 1);
      s.end(Buffer.concat([head, fields]));
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('PATCH /api/databases/:id never carries the stored password to a new target (real api + PostgreSQL)', () => {
  let h: ApiHarness;
  let trap: PasswordTrap;
  const OLD_PASSWORD = 'old-secret-for-the-real-server';

  beforeAll(async () => {
    h = await ApiHarness.start('apipwtarget');
    trap = await PasswordTrap.start();
    expect((await h.request('POST', '/api/model-persistence/enable')).status).toBe(204);
  }, 60_000);

  afterAll(async () => {
    await trap?.close();
    await h?.close();
  }, 30_000);

  async function register(name: string): Promise<number> {
    const created = await h.request('POST', '/api/databases', {
      body: {
        name,
        engine: 'postgres',
        host: '127.0.0.1',
        port: 5432,
        db_name: 'postgres',
        user: 'postgres',
        password: OLD_PASSWORD,
      },
    });
    expect(created.status).toBe(201);
    expect(created.json.has_password).toBe(true);
    return created.json.id as number;
  }

  it('re-pointing the port drops the password: the new listener never receives it', async () => {
    const id = await register('moved port');
    const patched = await h.request('PATCH', `/api/databases/${id}`, { body: { port: trap.port } });
    expect(patched.status).toBe(200);

    // the persist check connects to the new target
    const check = await h.request('POST', `/api/model-persistence/database/${id}/persist`);
    expect(check.status).toBe(422);
    expect(trap.text()).toContain('user\0postgres'); // it did reach the listener
    expect(trap.text()).not.toContain(OLD_PASSWORD);

    expect(patched.json).toMatchObject({ port: trap.port, has_password: false, password_cleared: true });
    expect(patched.json.message).toMatch(/password was removed/);
  });

  it('a password given in the same request is kept (and is what the new target gets)', async () => {
    const id = await register('moved with password');
    const NEW_PASSWORD = 'the-password-for-the-new-target';
    const patched = await h.request('PATCH', `/api/databases/${id}`, {
      body: { port: trap.port, user: 'reader', password: NEW_PASSWORD },
    });
    expect(patched.json).toMatchObject({ has_password: true, password_cleared: false, user: 'reader' });
    expect((await h.request('POST', `/api/model-persistence/database/${id}/persist`)).status).toBe(422);
    expect(trap.text()).toContain(NEW_PASSWORD);
    expect(trap.text()).not.toContain(OLD_PASSWORD);
  });

  it.each([
    ['host', { host: 'localhost' }],
    ['user', { user: 'someone_else' }],
    ['engine', { engine: 'mysql' }],
  ])('changing the %s clears it too; other changes keep it', async (_f, change) => {
    const id = await register(`changed ${JSON.stringify(change)}`);
    const kept = await h.request('PATCH', `/api/databases/${id}`, {
      body: { statement_timeout_ms: 5000, name: `renamed ${JSON.stringify(change)}`, port: 5432 },
    });
    expect(kept.json).toMatchObject({ has_password: true, password_cleared: false });
    const cleared = await h.request('PATCH', `/api/databases/${id}`, { body: change });
    expect(cleared.json).toMatchObject({ has_password: false, password_cleared: true });
  });

  it('the app database enforces the rule for any writer (trigger)', async () => {
    const id = await register('raw update');
    await h.query('update "database" set host = $2 where id = $1', [id, 'elsewhere.example']);
    const [row] = await h.query<{ password_encrypted: string | null }>(
      'select password_encrypted from "database" where id = $1',
      [id],
    );
    expect(row.password_encrypted).toBeNull();
  });
});
