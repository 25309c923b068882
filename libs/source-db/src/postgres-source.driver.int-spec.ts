import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createTestSourceDatabase, TestSourceDatabase } from '@model-persistence/testing';
import { cacheSchemaName, cacheTableName, openSourceDriver, SourceDriver, SourceError } from './index';

jest.setTimeout(60_000);

const uuid = '143dd8ce-e116-4c7f-8d6d-32e99eaefbbc';

describe('PostgresSourceDriver (real PostgreSQL)', () => {
  let db: TestSourceDatabase;
  let driver: SourceDriver;
  let schema: string;
  const leftovers = async () =>
    db.query<{ relname: string }>(
      `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1 and (c.relname like 'mp\\_tmp\\_%' or c.relname like 'mp\\_old\\_%')`,
      [schema],
    );
  const count = async (table: string) =>
    Number((await db.query<{ n: string }>(`select count(*) as n from "${schema}"."${table}"`))[0].n);

  beforeAll(async () => {
    db = await createTestSourceDatabase('postgres', 'pgdriver');
    await db.query('create table src (id int primary key, name text, amount numeric(10,2))');
    await db.query(`insert into src select g, 'n' || g, g * 1.5 from generate_series(1, 50) g`);
    driver = openSourceDriver(db.connection);
    schema = cacheSchemaName('mp', uuid, 7);
  });

  afterAll(async () => {
    await driver?.close();
    await db?.drop();
  });

  it('builds the cache table server-side, reports rows and column types, and leaves no temporary table', async () => {
    const table = cacheTableName('postgres', 1, 'Orders by day');
    const result = await driver.refreshTable({
      schemaName: schema,
      tableName: table,
      sql: 'select id, name, amount from src where id <= 10 -- ten rows\n;',
      statementTimeoutMs: 10_000,
    });
    expect(result.rows).toBe(10);
    expect(result.definition).toEqual({
      tableName: 'model_1_orders_by_',
      fieldDefinitions: [
        { fieldName: 'id', baseType: 'integer' },
        { fieldName: 'name', baseType: 'text' },
        { fieldName: 'amount', baseType: 'numeric(10,2)' },
      ],
    });
    expect(await driver.tableExists(schema, table)).toBe(true);
    expect(await count(table)).toBe(10);
    expect(await leftovers()).toEqual([]);

    // a second refresh swaps in the new content
    const again = await driver.refreshTable({
      schemaName: schema,
      tableName: table,
      sql: 'with x as (select * from src) select id, name from x',
      statementTimeoutMs: 10_000,
    });
    expect(again.rows).toBe(50);
    expect(await count(table)).toBe(50);
    expect(again.definition.fieldDefinitions.map((f) => f.fieldName)).toEqual(['id', 'name']);
    expect(await leftovers()).toEqual([]);
  });

  it('keeps the previous table and leaves nothing behind when the model query fails', async () => {
    const table = cacheTableName('postgres', 2, 'fails');
    await driver.refreshTable({
      schemaName: schema,
      tableName: table,
      sql: 'select 1 as a',
      statementTimeoutMs: 5000,
    });
    const error = await driver
      .refreshTable({
        schemaName: schema,
        tableName: table,
        sql: 'select 1 / (id - id) from src',
        statementTimeoutMs: 5000,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).errorClass).toBe('query');
    expect((error as SourceError).message).toMatch(/division by zero/);
    expect(await count(table)).toBe(1);
    expect(await leftovers()).toEqual([]);
  });

  it('enforces the statement timeout (class timeout) and keeps the previous table', async () => {
    const table = cacheTableName('postgres', 3, 'slow');
    await driver.refreshTable({
      schemaName: schema,
      tableName: table,
      sql: 'select 1 as a',
      statementTimeoutMs: 5000,
    });
    const error = await driver
      .refreshTable({
        schemaName: schema,
        tableName: table,
        sql: 'select 1 as a from pg_sleep(5)',
        statementTimeoutMs: 300,
      })
      .catch((e: unknown) => e);
    expect((error as SourceError).errorClass).toBe('timeout');
    expect((error as SourceError).code).toBe('SOURCE_TIMEOUT');
    expect(await count(table)).toBe(1);
    expect(await leftovers()).toEqual([]);
  });

  it('rejects unsafe SQL before running anything', async () => {
    const error = await driver
      .refreshTable({
        schemaName: schema,
        tableName: 'model_4_x',
        sql: 'select 1; drop table src',
        statementTimeoutMs: 5000,
      })
      .catch((e: unknown) => e);
    expect((error as SourceError).errorClass).toBe('unsafe-sql');
    expect((error as SourceError).message).toMatch(/second statement/);
    expect(await driver.tableExists(schema, 'model_4_x')).toBe(false);
    expect((await db.query('select count(*)::int as n from src'))[0]).toEqual({ n: 50 });
  });

  it('aborting cancels the statement on the server and rolls back', async () => {
    const table = cacheTableName('postgres', 5, 'aborted');
    await driver.refreshTable({
      schemaName: schema,
      tableName: table,
      sql: 'select 1 as a',
      statementTimeoutMs: 5000,
    });
    const controller = new AbortController();
    const marker = `mp_abort_${randomBytes(4).toString('hex')}`;
    const running = driver
      .refreshTable({
        schemaName: schema,
        tableName: table,
        sql: `select 1 as ${marker} from pg_sleep(30)`,
        statementTimeoutMs: 60_000,
        signal: controller.signal,
      })
      .catch((e: unknown) => e);
    // wait until the statement really runs on the server, then abort
    let started = false;
    for (let i = 0; i < 100 && !started; i++) {
      const active = await db.query(
        `select 1 from pg_stat_activity where query like $1 and state = 'active' and pid <> pg_backend_pid()`,
        [`%as ${marker} from pg_sleep(30)%`],
      );
      started = active.length > 0;
      if (!started) await new Promise((r) => setTimeout(r, 50));
    }
    expect(started).toBe(true);
    controller.abort(new Error('shutting down'));
    const error = await running;
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).message).toMatch(/aborted: shutting down/);
    const stillRunning = await db.query(
      `select 1 from pg_stat_activity where query like $1 and state = 'active' and pid <> pg_backend_pid()`,
      [`%as ${marker} from pg_sleep(30)%`],
    );
    expect(stillRunning).toEqual([]);
    expect(await count(table)).toBe(1);
    expect(await leftovers()).toEqual([]);
  });

  it('gives up the swap with class lock while a reader holds the table in a long transaction; the old table stays', async () => {
    const impatient = openSourceDriver(db.connection, { swapLockTimeoutMs: 200, swapLockAttempts: 2 });
    const table = cacheTableName('postgres', 11, 'held');
    const holder = new Client({
      host: db.connection.host,
      port: db.connection.port,
      database: db.name,
      user: 'postgres',
    });
    await holder.connect();
    try {
      await impatient.refreshTable({
        schemaName: schema,
        tableName: table,
        sql: 'select 1 as a',
        statementTimeoutMs: 5000,
      });
      await holder.query('begin');
      await holder.query(`select * from "${schema}"."${table}"`);
      const error = await impatient
        .refreshTable({
          schemaName: schema,
          tableName: table,
          sql: 'values (1), (2)',
          statementTimeoutMs: 5000,
        })
        .catch((e: unknown) => e);
      expect((error as SourceError).errorClass).toBe('lock');
      expect((error as SourceError).message).toMatch(/lock timeout/);
      await holder.query('commit');
      expect(await count(table)).toBe(1);
      expect(await leftovers()).toEqual([]);
      const retried = await impatient.refreshTable({
        schemaName: schema,
        tableName: table,
        sql: 'values (1), (2)',
        statementTimeoutMs: 5000,
      });
      expect(retried.rows).toBe(2);
    } finally {
      await holder.end();
      await impatient.close();
    }
  });

  it('a remembered cache schema dropped behind its back is created again on the next refresh', async () => {
    const other = cacheSchemaName('mp', uuid, 8);
    const table = cacheTableName('postgres', 12, 'gone');
    const refresh = () =>
      driver.refreshTable({
        schemaName: other,
        tableName: table,
        sql: 'values (1)',
        statementTimeoutMs: 5000,
      });
    expect((await refresh()).rows).toBe(1);
    await db.query(`drop schema "${other}" cascade`);
    expect((await refresh()).rows).toBe(1);
    expect(await driver.tableExists(other, table)).toBe(true);
    await db.query(`drop schema "${other}" cascade`);
  });

  it('quotes identifiers: names with quotes and spaces work', async () => {
    const table = 'model_6_we"ird name';
    const res = await driver.refreshTable({
      schemaName: schema,
      tableName: table,
      sql: 'values (1), (2)',
      statementTimeoutMs: 5000,
    });
    expect(res.rows).toBe(2);
    expect(await driver.tableExists(schema, table)).toBe(true);
    await driver.dropTable(schema, table);
    expect(await driver.tableExists(schema, table)).toBe(false);
    await driver.dropTable(schema, table); // IF EXISTS: no error the second time
  });

  it('dropOrphanTempTables removes temporary and backup leftovers only', async () => {
    await db.query(`create table "${schema}"."mp_tmp_0123456789_model_9_x" (a int)`);
    await db.query(`create table "${schema}"."mp_old_0123456789_model_9_x" (a int)`);
    await db.query(`create table "${schema}"."mpXtmp_keep" (a int)`);
    expect(await driver.dropOrphanTempTables(schema)).toBe(2);
    expect(await leftovers()).toEqual([]);
    expect(await driver.tableExists(schema, 'mpXtmp_keep')).toBe(true);
    expect(await driver.dropOrphanTempTables(schema)).toBe(0);
  });

  it('classifies a refused connection', async () => {
    const dead = openSourceDriver({ ...db.connection, port: 1 });
    try {
      const error = await dead.tableExists(schema, 'x').catch((e: unknown) => e);
      expect((error as SourceError).errorClass).toBe('connection');
      expect((error as SourceError).message).toMatch(/Could not connect to PostgreSQL at 127\.0\.0\.1:1/);
      const check = await dead.checkCanPersist({
        schemaName: schema,
        instanceUuid: uuid,
        settingsVersion: '1',
      });
      expect(check).toMatchObject({ ok: false, step: 'create-schema', errorClass: 'connection' });
    } finally {
      await dead.close();
    }
  });

  describe('checkCanPersist', () => {
    const role = `mp_role_${randomBytes(4).toString('hex')}`;
    afterAll(async () => {
      await db.query(`drop owned by ${role}`).catch(() => undefined);
      await db.query(`drop role if exists ${role}`);
    });

    it('passes as a privileged user and writes cache_info', async () => {
      const checkSchema = cacheSchemaName('mpcheck', uuid, 8);
      const res = await driver.checkCanPersist({
        schemaName: checkSchema,
        instanceUuid: uuid,
        settingsVersion: '1',
      });
      expect(res).toEqual({ ok: true });
      const info = await db.query<{ key: string; value: string }>(
        `select key, value from "${checkSchema}".cache_info order by key`,
      );
      expect(info.map((r) => r.key)).toEqual(['created-at', 'instance-uuid', 'settings-version']);
      expect(info.find((r) => r.key === 'instance-uuid')?.value).toBe(uuid);
      const checks = await db.query(
        `select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname like 'persistence_check_%'`,
        [checkSchema],
      );
      expect(checks).toEqual([]);
      // repeatable: cache_info is recreated
      expect(
        await driver.checkCanPersist({ schemaName: checkSchema, instanceUuid: uuid, settingsVersion: '2' }),
      ).toEqual({ ok: true });
    });

    it('names the failing step for a restricted role', async () => {
      await db.query(`create role ${role} login`);
      await db.query(`revoke create on database "${db.name}" from public`);
      const restricted = openSourceDriver({ ...db.connection, username: role });
      try {
        const noSchema = await restricted.checkCanPersist({
          schemaName: 'mp_cache_denied_1',
          instanceUuid: uuid,
          settingsVersion: '1',
        });
        expect(noSchema).toMatchObject({ ok: false, step: 'create-schema', errorClass: 'permission' });
        expect((noSchema as { message: string }).message).toMatch(
          /^Lack permissions to create mp_cache_denied_1 schema: permission denied/,
        );

        // the schema exists (made by an admin) but the role may only use it
        await db.query('create schema mp_cache_usage_1');
        await db.query(`grant usage on schema mp_cache_usage_1 to ${role}`);
        const noTable = await restricted.checkCanPersist({
          schemaName: 'mp_cache_usage_1',
          instanceUuid: uuid,
          settingsVersion: '1',
        });
        expect(noTable).toMatchObject({ ok: false, step: 'create-table', errorClass: 'permission' });
        expect((noTable as { message: string }).message).toMatch(
          /^Lack permission to create table in schema mp_cache_usage_1: permission denied/,
        );

        // a refresh as that role fails with the permission class
        const error = await restricted
          .refreshTable({
            schemaName: 'mp_cache_usage_1',
            tableName: 'model_1_x',
            sql: 'select 1',
            statementTimeoutMs: 5000,
          })
          .catch((e: unknown) => e);
        expect((error as SourceError).errorClass).toBe('permission');
        expect((error as SourceError).code).toBe('SOURCE_PERMISSION');
      } finally {
        await restricted.close();
      }
    });
  });

  it('zero downtime: a reader looping over the cache table during repeated refreshes always sees a complete version', async () => {
    const table = cacheTableName('postgres', 10, 'Live table');
    const sizes = [5, 17, 3, 29, 11, 23];
    await driver.refreshTable({
      schemaName: schema,
      tableName: table,
      sql: `select g as id from generate_series(1, ${sizes[0]}) g`,
      statementTimeoutMs: 10_000,
    });
    const reader = new Client({
      host: db.connection.host,
      port: db.connection.port,
      database: db.connection.dbName,
      user: db.connection.username,
    });
    await reader.connect();
    const seen: number[] = [];
    const errors: unknown[] = [];
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        try {
          const r = await reader.query<{ n: number }>(
            `select count(*)::int as n from "${schema}"."${table}"`,
          );
          seen.push(r.rows[0].n);
        } catch (e) {
          errors.push(e);
        }
      }
    })();
    try {
      for (let round = 0; round < 10; round++) {
        for (const size of sizes) {
          await driver.refreshTable({
            schemaName: schema,
            tableName: table,
            sql: `select g as id, md5(g::text) as h from generate_series(1, ${size}) g`,
            statementTimeoutMs: 10_000,
          });
        }
      }
    } finally {
      stop = true;
      await loop;
      await reader.end();
    }
    expect(errors).toEqual([]);
    expect(seen.length).toBeGreaterThan(60);
    expect(seen.filter((n) => !sizes.includes(n))).toEqual([]);
    expect(new Set(seen).size).toBeGreaterThan(1);
    expect(await leftovers()).toEqual([]);
  });
});
