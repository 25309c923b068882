import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createTestSourceDatabase, eventually, TestSourceDatabase } from '@model-persistence/testing';
import { cacheSchemaName, cacheTableName } from '../src/index';

jest.setTimeout(90_000);

const root = path.resolve(__dirname, '../../..');
const uuid = '5b0e4a7e-52a4-4c52-9d38-0c3f4b1fcb11';

/**
 * Issue 12 defect 5: a source connection that the server ends (pg_terminate_backend, KILL CONNECTION, a
 * restart, a failover) while a refresh runs on it, or while it idles in the pool, must come out of the driver
 * as a classified `connection` error, never as an unhandled 'error' event that ends the process. Run in a
 * child process so "the process lives on" is what is asserted (its exit code), and the retry succeeds.
 */
describe.each(['postgres', 'mysql'] as const)('connection lost on %s', (engine) => {
  let db: TestSourceDatabase;
  let child: ChildProcess | undefined;
  const marker = `mp_loss_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    db = await createTestSourceDatabase(engine, `loss${engine}`);
    await db.query('create table src (id int primary key)');
    await db.query(
      `insert into src (id) values ${Array.from({ length: 20 }, (_, k) => `(${k + 1})`).join(',')}`,
    );
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await db?.drop();
  });

  /** Ends the server side of the child's connections: the build's (marker) or every one it holds. */
  async function terminate(onlyTheBuild: boolean): Promise<number> {
    if (engine === 'postgres') {
      const r = await db.query<{ pid: number }>(
        `select pid from pg_stat_activity
          where datname = $1 and pid <> pg_backend_pid() and application_name = 'model-persistence'
            and ($2::boolean is false or query like $3)`,
        [db.name, onlyTheBuild, `%as ${marker}%`],
      );
      for (const { pid } of r) await db.query('select pg_terminate_backend($1)', [pid]);
      return r.length;
    }
    const r = await db.query<{ id: number }>(
      `select ID as id from information_schema.PROCESSLIST
        where DB = ? and ID <> CONNECTION_ID() and (? = 0 or INFO like ?)`,
      [db.name, onlyTheBuild ? 1 : 0, `%as ${marker}%`],
    );
    for (const { id } of r) await db.query(`KILL CONNECTION ${Number(id)}`);
    return r.length;
  }

  it('a connection ended mid-refresh or idle in the pool is a classified error; the process lives on', async () => {
    const slowSql =
      engine === 'postgres'
        ? `select id as ${marker} from src, pg_sleep(8)`
        : `select id as ${marker} from src where sleep(0.4) = 0`;
    const out: Record<string, unknown>[] = [];
    const stderr: string[] = [];
    child = spawn(
      process.execPath,
      [path.join(root, 'scripts/run-ts.js'), 'libs/source-db/test/connection-loss-child.fixture.ts'],
      {
        cwd: root,
        env: {
          ...process.env,
          MP_CHILD_LOSS: JSON.stringify({
            conn: db.connection,
            schemaName: cacheSchemaName(db.name, uuid, 1),
            tableName: cacheTableName(engine, 1, 'lossy'),
            slowSql,
            quickSql: 'select id from src where id <= 3',
          }),
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    let buffer = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const p of parts) if (p.trim()) out.push(JSON.parse(p) as Record<string, unknown>);
    });
    child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    const diagnose = () => `child output: ${JSON.stringify(out)}\n${stderr.join('')}`;
    /** The child's line for a step; fails at once (with its output) if the child died before printing it. */
    const step = async (name: string) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const line = out.find((l) => l.step === name);
        if (line) return line;
        if (child!.exitCode !== null || child!.signalCode !== null || Date.now() > deadline)
          throw new Error(`no step ${name} (exit code ${child!.exitCode})\n${diagnose()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    await step('warm');
    // the build is running on the server: end its connection from the server side
    await eventually(async () => (await terminate(true)) > 0, 30_000, 100).catch((e: Error) => {
      throw new Error(`${e.message}\n${diagnose()}`);
    });
    const slow = await step('slow');
    expect(slow).toMatchObject({ errorClass: 'connection', code: 'SOURCE_CONNECTION' });
    expect(await step('retried')).toMatchObject({ rows: 3 });

    // now the pool holds idle connections: end them all while nobody uses them
    await step('idle');
    expect(await terminate(false)).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    child.stdin!.write('go\n');
    expect(await step('after-idle')).toMatchObject({ rows: 3 });
    expect({ code: await exited, stderr: stderr.join('') }).toEqual({ code: 0, stderr: '' });
  });
});
