import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createTestSourceDatabase, eventually, TestSourceDatabase } from '@model-persistence/testing';
import { cacheSchemaName, cacheTableName, openSourceDriver, SourceDriver } from '../src/index';

jest.setTimeout(90_000);

const root = path.resolve(__dirname, '../../..');
const uuid = '143dd8ce-e116-4c7f-8d6d-32e99eaefbbc';

/**
 * kill -9 of the process running a refresh: readers keep the previous table the whole time, the build on the
 * server stops (PostgreSQL notices the dead client; MySQL/MariaDB: the next refresh of that target kills the
 * orphan build), the next refresh succeeds and no temporary table is left behind.
 */
describe.each(['postgres', 'mysql'] as const)('crash safety on %s', (engine) => {
  let db: TestSourceDatabase;
  let driver: SourceDriver;
  let schema: string;
  let child: ChildProcess | undefined;
  const table = cacheTableName(engine, 1, 'crashy');
  const marker = `mp_crash_${randomBytes(4).toString('hex')}`;
  const qi = (n: string) => (engine === 'postgres' ? `"${n}"` : `\`${n}\``);
  const count = async () =>
    Number((await db.query<{ n: number }>(`select count(*) as n from ${qi(schema)}.${qi(table)}`))[0].n);
  const buildRunning = async () =>
    engine === 'postgres'
      ? (
          await db.query(`select 1 from pg_stat_activity where query like $1 and pid <> pg_backend_pid()`, [
            `%as ${marker}%`,
          ])
        ).length > 0
      : (
          await db.query(
            `select 1 from information_schema.PROCESSLIST where INFO like ? and ID <> CONNECTION_ID()`,
            [`%as ${marker}%`],
          )
        ).length > 0;

  beforeAll(async () => {
    db = await createTestSourceDatabase(engine, `crash${engine}`);
    await db.query('create table src (id int primary key)');
    await db.query(
      `insert into src (id) values ${Array.from({ length: 60 }, (_, k) => `(${k + 1})`).join(',')}`,
    );
    driver = openSourceDriver(db.connection);
    schema = cacheSchemaName(db.name, uuid, 1);
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await driver?.close();
    await db?.drop();
  });

  it.each(['the next refresh', 'crash recovery (dropOrphanTempTables)'])(
    'survives kill -9 mid-build, cleaned by %s',
    async (recovery) => {
      await driver.refreshTable({
        schemaName: schema,
        tableName: table,
        sql: 'select id from src where id <= 3',
        statementTimeoutMs: 10_000,
      });
      // ~60 s of work if nobody stops it
      const slowSql =
        engine === 'postgres'
          ? `select id as ${marker} from src, pg_sleep(60)`
          : `select id as ${marker} from src where sleep(1) = 0`;
      child = spawn(
        process.execPath,
        [path.join(root, 'scripts/run-ts.js'), 'libs/source-db/test/refresh-child.fixture.ts'],
        {
          cwd: root,
          env: {
            ...process.env,
            MP_CHILD_REFRESH: JSON.stringify({
              conn: db.connection,
              schemaName: schema,
              tableName: table,
              sql: slowSql,
            }),
          },
          stdio: 'ignore',
        },
      );
      const orphanStartedAt = Date.now();
      await eventually(buildRunning, 30_000, 100);
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      expect(await count()).toBe(3); // readers still see the previous version

      if (recovery !== 'the next refresh') {
        expect(await driver.dropOrphanTempTables(schema)).toBeLessThanOrEqual(1);
        await eventually(async () => !(await buildRunning()), 15_000, 200);
      } else if (engine === 'postgres') {
        // the server cancels the orphaned build by itself (client_connection_check_interval)
        await eventually(async () => !(await buildRunning()), 15_000, 200);
      }
      const next = await driver.refreshTable({
        schemaName: schema,
        tableName: table,
        sql: 'select id from src where id <= 5',
        statementTimeoutMs: 10_000,
      });
      // well before the orphan's 60 s of work would have ended: it was stopped, not waited for
      expect(Date.now() - orphanStartedAt).toBeLessThan(40_000);
      expect(next.rows).toBe(5);
      expect(await count()).toBe(5);
      expect(await buildRunning()).toBe(false);
      expect(await driver.dropOrphanTempTables(schema)).toBe(0);
    },
  );
});
