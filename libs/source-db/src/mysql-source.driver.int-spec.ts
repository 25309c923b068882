import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { createTestSourceDatabase, MYSQL_ADMIN, TestSourceDatabase } from '@model-persistence/testing';
import { cacheSchemaName, cacheTableName, openSourceDriver, SourceDriver, SourceError } from './index';

jest.setTimeout(60_000);

const uuid = '143dd8ce-e116-4c7f-8d6d-32e99eaefbbc';

describe('MysqlSourceDriver (real MariaDB)', () => {
  let db: TestSourceDatabase;
  let driver: SourceDriver;
  let schema: string;
  const leftovers = async () =>
    db.query<{ name: string }>(
      `select TABLE_NAME as name from information_schema.TABLES
        where TABLE_SCHEMA = ? and (TABLE_NAME like 'mp\\_tmp\\_%' or TABLE_NAME like 'mp\\_old\\_%')`,
      [schema],
    );
  const count = async (table: string) =>
    Number((await db.query<{ n: number }>(`select count(*) as n from \`${schema}\`.\`${table}\``))[0].n);

  beforeAll(async () => {
    db = await createTestSourceDatabase('mysql', 'mydriver');
    await db.query('create table src (id int primary key, name varchar(20), amount decimal(10,2))');
    const values = Array.from({ length: 50 }, (_, k) => `(${k + 1}, 'n${k + 1}', ${(k + 1) * 1.5})`).join(
      ',',
    );
    await db.query(`insert into src values ${values}`);
    driver = openSourceDriver(db.connection);
    // the test database name as prefix: db.drop() removes the cache schema (a MySQL database) too
    schema = cacheSchemaName(db.name, uuid, 7);
  });

  afterAll(async () => {
    await driver?.close();
    await db?.drop();
  });

  it('builds the cache table server-side, reports rows and column types, and leaves no temporary table', async () => {
    const table = cacheTableName('mysql', 1, 'Orders by day');
    const result = await driver.refreshTable({
      schemaName: schema,
      tableName: table,
      sql: 'select id, name, amount from src where id <= 10 # ten rows\n;',
      statementTimeoutMs: 10_000,
    });
    expect(result.rows).toBe(10);
    expect(result.definition).toEqual({
      tableName: 'model_1_orders_by_',
      fieldDefinitions: [
        { fieldName: 'id', baseType: 'int(11)' },
        { fieldName: 'name', baseType: 'varchar(20)' },
        { fieldName: 'amount', baseType: 'decimal(10,2)' },
      ],
    });
    expect(await driver.tableExists(schema, table)).toBe(true);
    expect(await count(table)).toBe(10);

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
    const table = cacheTableName('mysql', 2, 'fails');
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
        sql: 'select no_such_column from src',
        statementTimeoutMs: 5000,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).errorClass).toBe('query');
    expect((error as SourceError).message).toMatch(/Unknown column/);
    expect(await count(table)).toBe(1);
    expect(await leftovers()).toEqual([]);
  });

  it('enforces the statement timeout with max_statement_time (class timeout) and keeps the previous table', async () => {
    const table = cacheTableName('mysql', 3, 'slow');
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
        sql: 'select id from src where sleep(0.2) = 0',
        statementTimeoutMs: 500,
      })
      .catch((e: unknown) => e);
    expect((error as SourceError).errorClass).toBe('timeout');
    expect((error as SourceError).code).toBe('SOURCE_TIMEOUT');
    expect(await count(table)).toBe(1);
    expect(await leftovers()).toEqual([]);
  });

  it('MySQL 8 path (no server-side timeout for CREATE … SELECT): the client-side deadline kills the build', async () => {
    const asMysql8 = openSourceDriver(db.connection);
    // pretend the server is MySQL: the driver then relies on its own deadline + KILL QUERY
    (asMysql8 as unknown as { flavor: Promise<string> }).flavor = Promise.resolve('mysql');
    const table = cacheTableName('mysql', 12, 'deadline');
    try {
      await asMysql8.refreshTable({
        schemaName: schema,
        tableName: table,
        sql: 'select 1 as a',
        statementTimeoutMs: 5000,
      });
      const error = await asMysql8
        .refreshTable({
          schemaName: schema,
          tableName: table,
          sql: 'select id from src where sleep(0.2) = 0',
          statementTimeoutMs: 500,
        })
        .catch((e: unknown) => e);
      expect((error as SourceError).errorClass).toBe('timeout');
      expect((error as SourceError).message).toMatch(/Statement timeout of 500 ms exceeded/);
      expect(await count(table)).toBe(1);
      expect(await leftovers()).toEqual([]);
      const active = await db.query(
        `select 1 from information_schema.PROCESSLIST where INFO like '%sleep(0.2)%' and ID <> CONNECTION_ID()`,
      );
      expect(active).toEqual([]);
    } finally {
      await asMysql8.close();
    }
  });

  it('rejects unsafe SQL before running anything', async () => {
    for (const sql of [
      'select 1; drop table src',
      'select 1 /*! ; drop table src */',
      'select * from src into outfile "/tmp/x"',
    ]) {
      const error = await driver
        .refreshTable({ schemaName: schema, tableName: 'model_4_x', sql, statementTimeoutMs: 5000 })
        .catch((e: unknown) => e);
      expect((error as SourceError).errorClass).toBe('unsafe-sql');
    }
    expect(await driver.tableExists(schema, 'model_4_x')).toBe(false);
    expect(await db.query('select count(*) as n from src')).toEqual([{ n: 50 }]);
  });

  it('aborting kills the statement on the server and drops the temporary table', async () => {
    const table = cacheTableName('mysql', 5, 'aborted');
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
        sql: `select id as ${marker} from src where sleep(1) = 0`,
        statementTimeoutMs: 120_000,
        signal: controller.signal,
      })
      .catch((e: unknown) => e);
    const active = async () =>
      (
        await db.query(
          `select ID from information_schema.PROCESSLIST where INFO like ? and COMMAND = 'Query' and ID <> CONNECTION_ID()`,
          [`%id as ${marker} from src%`],
        )
      ).length > 0;
    let started = false;
    for (let i = 0; i < 100 && !started; i++) {
      started = await active();
      if (!started) await new Promise((r) => setTimeout(r, 50));
    }
    expect(started).toBe(true);
    controller.abort(new Error('shutting down'));
    const error = await running;
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).message).toMatch(/aborted: shutting down/);
    expect(await active()).toBe(false);
    expect(await count(table)).toBe(1);
    expect(await leftovers()).toEqual([]);
  });

  it('gives up the swap with class lock while a reader holds the table in a long transaction; the old table stays', async () => {
    const impatient = openSourceDriver(db.connection, { swapLockTimeoutMs: 1000, swapLockAttempts: 1 });
    const table = cacheTableName('mysql', 11, 'held');
    const holder = await createConnection({ ...MYSQL_ADMIN, database: db.name });
    try {
      await impatient.refreshTable({
        schemaName: schema,
        tableName: table,
        sql: 'select 1 as a',
        statementTimeoutMs: 5000,
      });
      await holder.query('start transaction');
      await holder.query(`select * from \`${schema}\`.\`${table}\``);
      const error = await impatient
        .refreshTable({
          schemaName: schema,
          tableName: table,
          sql: 'select 1 as a union all select 2',
          statementTimeoutMs: 5000,
        })
        .catch((e: unknown) => e);
      expect((error as SourceError).errorClass).toBe('lock');
      expect((error as SourceError).message).toMatch(/Lock wait timeout/);
      await holder.query('commit');
      expect(await count(table)).toBe(1);
      expect(await leftovers()).toEqual([]);
      const retried = await impatient.refreshTable({
        schemaName: schema,
        tableName: table,
        sql: 'select 1 as a union all select 2',
        statementTimeoutMs: 5000,
      });
      expect(retried.rows).toBe(2);
    } finally {
      await holder.end();
      await impatient.close();
    }
  });

  it('quotes identifiers: names with backticks and spaces work', async () => {
    const table = 'model_6_we`ird name';
    const res = await driver.refreshTable({
      schemaName: schema,
      tableName: table,
      sql: 'select 1 as a union all select 2',
      statementTimeoutMs: 5000,
    });
    expect(res.rows).toBe(2);
    expect(await driver.tableExists(schema, table)).toBe(true);
    await driver.dropTable(schema, table);
    expect(await driver.tableExists(schema, table)).toBe(false);
    await driver.dropTable(schema, table);
  });

  it('dropOrphanTempTables removes temporary and backup leftovers only', async () => {
    await db.query(`create table \`${schema}\`.mp_tmp_0123456789_model_9_x (a int)`);
    await db.query(`create table \`${schema}\`.mp_old_0123456789_model_9_x (a int)`);
    await db.query(`create table \`${schema}\`.mpXtmp_keep (a int)`);
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
      expect((error as SourceError).message).toMatch(/Could not connect to MySQL\/MariaDB at 127\.0\.0\.1:1/);
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
    const user = `mp_u_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(8).toString('hex');
    afterAll(async () => {
      const admin = await createConnection(MYSQL_ADMIN);
      await admin.query(`drop user if exists '${user}'@'%'`).finally(() => admin.end());
    });

    it('passes as a privileged user and writes cache_info', async () => {
      const checkSchema = cacheSchemaName(db.name, uuid, 8);
      expect(
        await driver.checkCanPersist({ schemaName: checkSchema, instanceUuid: uuid, settingsVersion: '1' }),
      ).toEqual({
        ok: true,
      });
      const info = await db.query<{ key: string; value: string }>(
        `select \`key\`, \`value\` from \`${checkSchema}\`.cache_info order by \`key\``,
      );
      expect(info.map((r) => r.key)).toEqual(['created-at', 'instance-uuid', 'settings-version']);
      expect(info.find((r) => r.key === 'instance-uuid')?.value).toBe(uuid);
      const checks = await db.query(
        `select 1 from information_schema.TABLES where TABLE_SCHEMA = ? and TABLE_NAME like 'persistence\\_check\\_%'`,
        [checkSchema],
      );
      expect(checks).toEqual([]);
      expect(
        await driver.checkCanPersist({ schemaName: checkSchema, instanceUuid: uuid, settingsVersion: '2' }),
      ).toEqual({
        ok: true,
      });
    });

    it('names the failing step for a restricted user', async () => {
      const usable = cacheSchemaName(db.name, uuid, 9);
      const denied = cacheSchemaName(db.name, uuid, 10);
      const admin = await createConnection(MYSQL_ADMIN);
      try {
        await admin.query(`create user '${user}'@'%' identified by '${password}'`);
        await admin.query(`grant select on \`${db.name}\`.* to '${user}'@'%'`);
        await admin.query(`create database \`${usable}\``);
        await admin.query(`grant select on \`${usable}\`.* to '${user}'@'%'`);
      } finally {
        await admin.end();
      }
      const restricted = openSourceDriver({ ...db.connection, username: user, password });
      try {
        const noSchema = await restricted.checkCanPersist({
          schemaName: denied,
          instanceUuid: uuid,
          settingsVersion: '1',
        });
        expect(noSchema).toMatchObject({ ok: false, step: 'create-schema', errorClass: 'permission' });
        expect((noSchema as { message: string }).message).toMatch(
          new RegExp(`^Lack permissions to create ${denied} schema: Access denied`),
        );

        const noTable = await restricted.checkCanPersist({
          schemaName: usable,
          instanceUuid: uuid,
          settingsVersion: '1',
        });
        expect(noTable).toMatchObject({ ok: false, step: 'create-table', errorClass: 'permission' });
        expect((noTable as { message: string }).message).toMatch(
          new RegExp(`^Lack permission to create table in schema ${usable}: .*CREATE command denied`),
        );

        const error = await restricted
          .refreshTable({
            schemaName: usable,
            tableName: 'model_1_x',
            sql: 'select 1 as a',
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
    const table = cacheTableName('mysql', 10, 'Live table');
    const sizes = [5, 17, 3, 29, 11, 23];
    const build = (size: number) =>
      `with recursive g(n) as (select 1 union all select n + 1 from g where n < ${size}) select n as id, md5(n) as h from g`;
    // the first refresh is a plain rename (no previous table)
    await driver.refreshTable({
      schemaName: schema,
      tableName: table,
      sql: build(sizes[0]),
      statementTimeoutMs: 10_000,
    });
    const reader = await createConnection({ ...MYSQL_ADMIN, database: db.name });
    const seen: number[] = [];
    const errors: unknown[] = [];
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        try {
          const [rows] = await reader.query(`select count(*) as n from \`${schema}\`.\`${table}\``);
          seen.push(Number((rows as { n: number }[])[0].n));
        } catch (e) {
          errors.push(e);
        }
      }
    })();
    try {
      for (let round = 0; round < 5; round++) {
        for (const size of sizes) {
          await driver.refreshTable({
            schemaName: schema,
            tableName: table,
            sql: build(size),
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
    expect(seen.length).toBeGreaterThan(30);
    expect(seen.filter((n) => !sizes.includes(n))).toEqual([]);
    expect(new Set(seen).size).toBeGreaterThan(1);
    expect(await leftovers()).toEqual([]);
  });
});
