import { dispositionOfError } from '@model-persistence/errors';
import { createTestAppDatabase, eventually, TestAppDatabase } from '@model-persistence/testing';
import { Client, Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { createAppDataSource } from '../src/index';

jest.setTimeout(60_000);

/**
 * Issue 12 defect 5 on the app database: a connection the server ends (pg_terminate_backend, a restart, a
 * failover) while a query runs on it, while it is checked out between queries, or while it idles in the pool,
 * must surface as an error the consumers retry, never as an unhandled 'error' event (which ends the process;
 * jest fails the test on it).
 */
describe('app database connections ended by the server', () => {
  let db: TestAppDatabase;
  let ds: DataSource;
  let admin: Client;

  beforeAll(async () => {
    db = await createTestAppDatabase('connloss', false);
    ds = await createAppDataSource({ url: db.url, poolSize: 3, applicationName: 'mp-connloss' }).initialize();
    admin = new Client({ connectionString: db.url });
    await admin.connect();
  });
  afterAll(async () => {
    await ds?.destroy().catch(() => undefined);
    await admin?.end();
    await db?.drop();
  });

  /** Terminates this data source's backends (all, or those running a query matching `like`). */
  async function terminate(like?: string): Promise<number> {
    const r = await admin.query<{ pid: number }>(
      `select pid from pg_stat_activity
        where datname = $1 and pid <> pg_backend_pid() and application_name = 'mp-connloss'
          and ($2::text is null or query like $2)`,
      [db.name, like ?? null],
    );
    for (const { pid } of r.rows) await admin.query('select pg_terminate_backend($1)', [pid]);
    return r.rows.length;
  }

  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('a query running on the ended connection fails with a retryable error; the next one works', async () => {
    const running = ds.query('select pg_sleep(8) as mp_connloss_running');
    const failed = running.then(
      () => null,
      (e: unknown) => e,
    );
    await eventually(async () => (await terminate('%mp_connloss_running%')) > 0, 10_000, 50);
    const error = await failed;
    expect(error).toBeInstanceOf(Error);
    expect(dispositionOfError(error)).toBe('retry');
    await pause(200);
    expect(await ds.query('select 1 as one')).toEqual([{ one: 1 }]);
  });

  it('a transaction whose connection ends between two statements fails retryably; the pool recovers', async () => {
    const outcome = ds
      .transaction(async (m) => {
        await m.query('select 1');
        await pause(1_000);
        await m.query('select 2');
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    await pause(300);
    expect(await terminate()).toBeGreaterThan(0);
    const error = await outcome;
    expect(error).toBeInstanceOf(Error);
    expect(dispositionOfError(error)).toBe('retry');
    await pause(200);
    expect(await ds.query('select 1 as one')).toEqual([{ one: 1 }]);
  });

  it('connections checked out of the pool directly or idle in it do not crash the process', async () => {
    // how TypeORM itself uses the pool at start-up: a client checked out with no listener of its own
    const pool = (ds.driver as PostgresDriver).master as Pool;
    const held: PoolClient = await pool.connect();
    await ds.query('select 1'); // and one idle in the pool
    expect(await terminate()).toBeGreaterThan(0);
    await pause(500);
    await expect(held.query('select 1')).rejects.toThrow();
    held.release(true);
    expect(await ds.query('select 1 as one')).toEqual([{ one: 1 }]);
  });
});
