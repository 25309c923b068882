/*
 * The behaviour both source drivers share, written once and run per engine (not part of the build):
 * postgres-source.driver.int-spec.ts and mysql-source.driver.int-spec.ts call describeSourceDriver.
 */
import { randomBytes } from 'node:crypto';
import {
  countSourceRows,
  createTestSourceDatabase,
  openTestSourceSession,
  sourceTables,
  TestSourceDatabase,
} from '@model-persistence/testing';
import {
  cacheSchemaName,
  cacheTableName,
  openSourceDriver,
  SourceDriver,
  SourceEngine,
  SourceError,
  tempTableName,
} from '../src/index';

export const INSTANCE_UUID = '143dd8ce-e116-4c7f-8d6d-32e99eaefbbc';

/** What differs between the engines: SQL dialect, native messages and timing. The scenarios do not. */
interface Dialect {
  title: string;
  createSource: string;
  /** Base types reported for src's id, name and amount. */
  types: [string, string, string];
  lineComment: string;
  failingQuery: { sql: string; message: RegExp };
  slowQuery: { sql: string; timeoutMs: number };
  /** Unsafe model SQL, with the message expected where it is specific. */
  unsafe: [string, RegExp?][];
  abortable: { sql: (marker: string) => string; timeoutMs: number };
  /** Whether a statement whose text is LIKE `like` is running on the server (not counting our own). */
  statementRunning(db: TestSourceDatabase, like: string): Promise<boolean>;
  /** MySQL rounds lock waits up to whole seconds. */
  swapLock: { timeoutMs: number; attempts: number; message: RegExp };
  quote: string;
  product: RegExp;
  /** Rows 1..size with a hash column (withHash) or without. */
  series(size: number, withHash: boolean): string;
  /** Readers are slower against MariaDB: fewer rounds, fewer reads expected. */
  zeroDowntime: { rounds: number; minReads: number };
  /**
   * Creates a login that may not create schemas and may use `usable` but not create tables in it;
   * returns its credentials. `dropLogin` removes it.
   */
  restrictedLogin(
    db: TestSourceDatabase,
    login: string,
    usable: string,
  ): Promise<{ password: string | null }>;
  dropLogin(db: TestSourceDatabase, login: string): Promise<void>;
  deniedMessage: { schema: string; table: string };
}

const DIALECTS: Record<SourceEngine, Dialect> = {
  postgres: {
    title: 'PostgresSourceDriver (real PostgreSQL)',
    createSource: 'create table src (id int primary key, name text, amount numeric(10,2))',
    types: ['integer', 'text', 'numeric(10,2)'],
    lineComment: '--',
    failingQuery: { sql: 'select 1 / (id - id) from src', message: /division by zero/ },
    slowQuery: { sql: 'select 1 as a from pg_sleep(5)', timeoutMs: 300 },
    unsafe: [['select 1; drop table src', /second statement/]],
    abortable: { sql: (marker) => `select 1 as ${marker} from pg_sleep(30)`, timeoutMs: 60_000 },
    statementRunning: async (db, like) =>
      (
        await db.query(
          `select 1 from pg_stat_activity where query like $1 and state = 'active' and pid <> pg_backend_pid()`,
          [like],
        )
      ).length > 0,
    swapLock: { timeoutMs: 200, attempts: 2, message: /lock timeout/ },
    quote: '"',
    product: /Could not connect to PostgreSQL at 127\.0\.0\.1:1/,
    series: (size, withHash) =>
      `select g as id${withHash ? ', md5(g::text) as h' : ''} from generate_series(1, ${size}) g`,
    zeroDowntime: { rounds: 10, minReads: 60 },
    async restrictedLogin(db, login, usable) {
      await db.query(`create role ${login} login`);
      await db.query(`revoke create on database "${db.name}" from public`);
      // the schema exists (made by an admin) but the role may only use it
      await db.query(`create schema "${usable}"`);
      await db.query(`grant usage on schema "${usable}" to ${login}`);
      return { password: null };
    },
    async dropLogin(db, login) {
      await db.query(`drop owned by ${login}`).catch(() => undefined);
      await db.query(`drop role if exists ${login}`);
    },
    deniedMessage: { schema: 'permission denied', table: 'permission denied' },
  },
  mysql: {
    title: 'MysqlSourceDriver (real MariaDB)',
    createSource: 'create table src (id int primary key, name varchar(20), amount decimal(10,2))',
    types: ['int(11)', 'varchar(20)', 'decimal(10,2)'],
    lineComment: '#',
    failingQuery: { sql: 'select no_such_column from src', message: /Unknown column/ },
    // MariaDB enforces it with max_statement_time
    slowQuery: { sql: 'select id from src where sleep(0.2) = 0', timeoutMs: 500 },
    unsafe: [
      ['select 1; drop table src', /second statement/],
      ['select 1 /*! ; drop table src */'],
      ['select * from src into outfile "/tmp/x"'],
    ],
    abortable: { sql: (marker) => `select id as ${marker} from src where sleep(1) = 0`, timeoutMs: 120_000 },
    statementRunning: async (db, like) =>
      (
        await db.query(
          `select ID from information_schema.PROCESSLIST where INFO like ? and COMMAND = 'Query' and ID <> CONNECTION_ID()`,
          [like],
        )
      ).length > 0,
    swapLock: { timeoutMs: 1000, attempts: 1, message: /Lock wait timeout/ },
    quote: '`',
    product: /Could not connect to MySQL\/MariaDB at 127\.0\.0\.1:1/,
    series: (size, withHash) =>
      `with recursive g(n) as (select 1 union all select n + 1 from g where n < ${size}) select n as id${withHash ? ', md5(n) as h' : ''} from g`,
    zeroDowntime: { rounds: 5, minReads: 30 },
    async restrictedLogin(db, login, usable) {
      const password = randomBytes(8).toString('hex');
      await db.query(`create user '${login}'@'%' identified by '${password}'`);
      await db.query(`grant select on \`${db.name}\`.* to '${login}'@'%'`);
      await db.query(`create database \`${usable}\``);
      await db.query(`grant select on \`${usable}\`.* to '${login}'@'%'`);
      return { password };
    },
    async dropLogin(db, login) {
      await db.query(`drop user if exists '${login}'@'%'`);
    },
    deniedMessage: { schema: 'Access denied', table: '.*CREATE command denied' },
  },
};

/** The database, driver and cache schema of one run of the scenarios, for engine-specific extra tests. */
export interface DriverTestBed {
  readonly engine: SourceEngine;
  db: TestSourceDatabase;
  driver: SourceDriver;
  schema: string;
  count(table: string): Promise<number>;
  /** Temporary and backup tables of interrupted or failed refreshes in the cache schema. */
  leftovers(): Promise<string[]>;
}

/** Runs the shared driver scenarios against a fresh source database of `engine`; `extra` adds its own tests. */
export function describeSourceDriver(engine: SourceEngine, extra?: (bed: DriverTestBed) => void): void {
  const d = DIALECTS[engine];
  const q = (name: string) => `${d.quote}${name}${d.quote}`;
  const uuid = INSTANCE_UUID;

  describe(d.title, () => {
    const bed: DriverTestBed = {
      engine,
      db: undefined as unknown as TestSourceDatabase,
      driver: undefined as unknown as SourceDriver,
      schema: '',
      count: (table) => countSourceRows(bed.db, engine, bed.schema, table),
      leftovers: async () => [
        ...(await sourceTables(bed.db, bed.schema, 'mp\\_tmp\\_%')),
        ...(await sourceTables(bed.db, bed.schema, 'mp\\_old\\_%')),
      ],
    };
    const { count, leftovers } = bed;
    const refreshFails = (
      driver: SourceDriver,
      schemaName: string,
      tableName: string,
      sql: string,
      ms = 5000,
    ) =>
      driver
        .refreshTable({ schemaName, tableName, sql, statementTimeoutMs: ms })
        .then(() => {
          throw new Error(`expected the refresh of ${tableName} to fail`);
        })
        .catch((e: unknown) => e as SourceError);
    const refreshOne = (table: string, driver = bed.driver) =>
      driver.refreshTable({
        schemaName: bed.schema,
        tableName: table,
        sql: 'select 1 as a',
        statementTimeoutMs: 5000,
      });

    beforeAll(async () => {
      bed.db = await createTestSourceDatabase(engine, engine === 'postgres' ? 'pgdriver' : 'mydriver');
      await bed.db.query(d.createSource);
      const values = Array.from({ length: 50 }, (_, k) => `(${k + 1}, 'n${k + 1}', ${(k + 1) * 1.5})`);
      await bed.db.query(`insert into src values ${values.join(',')}`);
      bed.driver = openSourceDriver(bed.db.connection);
      // the test database name as prefix: on MySQL db.drop() then removes the cache schema (a database) too
      bed.schema = cacheSchemaName(bed.db.name, uuid, 7);
    });

    afterAll(async () => {
      await bed.driver?.close();
      await bed.db?.drop();
    });

    it('builds the cache table server-side, reports rows and column types, and leaves no temporary table', async () => {
      const table = cacheTableName(engine, 1, 'Orders by day');
      const result = await bed.driver.refreshTable({
        schemaName: bed.schema,
        tableName: table,
        sql: `select id, name, amount from src where id <= 10 ${d.lineComment} ten rows\n;`,
        statementTimeoutMs: 10_000,
      });
      expect(result.rows).toBe(10);
      expect(result.definition).toEqual({
        tableName: 'model_1_orders_by_',
        fieldDefinitions: [
          { fieldName: 'id', baseType: d.types[0] },
          { fieldName: 'name', baseType: d.types[1] },
          { fieldName: 'amount', baseType: d.types[2] },
        ],
      });
      expect(await bed.driver.tableExists(bed.schema, table)).toBe(true);
      expect(await count(table)).toBe(10);
      expect(await leftovers()).toEqual([]);

      // a second refresh swaps in the new content
      const again = await bed.driver.refreshTable({
        schemaName: bed.schema,
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
      const table = cacheTableName(engine, 2, 'fails');
      await refreshOne(table);
      const error = await refreshFails(bed.driver, bed.schema, table, d.failingQuery.sql);
      expect(error).toBeInstanceOf(SourceError);
      expect(error.errorClass).toBe('query');
      expect(error.message).toMatch(d.failingQuery.message);
      expect(await count(table)).toBe(1);
      expect(await leftovers()).toEqual([]);
    });

    it('enforces the statement timeout (class timeout) and keeps the previous table', async () => {
      const table = cacheTableName(engine, 3, 'slow');
      await refreshOne(table);
      const error = await refreshFails(bed.driver, bed.schema, table, d.slowQuery.sql, d.slowQuery.timeoutMs);
      expect(error.errorClass).toBe('timeout');
      expect(error.code).toBe('SOURCE_TIMEOUT');
      expect(await count(table)).toBe(1);
      expect(await leftovers()).toEqual([]);
    });

    it('rejects unsafe SQL before running anything', async () => {
      for (const [sql, message] of d.unsafe) {
        const error = await refreshFails(bed.driver, bed.schema, 'model_4_x', sql);
        expect(error.errorClass).toBe('unsafe-sql');
        if (message) expect(error.message).toMatch(message);
      }
      expect(await bed.driver.tableExists(bed.schema, 'model_4_x')).toBe(false);
      expect(Number((await bed.db.query<{ n: number | string }>('select count(*) as n from src'))[0].n)).toBe(
        50,
      );
    });

    it('aborting stops the statement on the server and leaves the previous table and no temporary one', async () => {
      const table = cacheTableName(engine, 5, 'aborted');
      await refreshOne(table);
      const controller = new AbortController();
      const marker = `mp_abort_${randomBytes(4).toString('hex')}`;
      const running = bed.driver
        .refreshTable({
          schemaName: bed.schema,
          tableName: table,
          sql: d.abortable.sql(marker),
          statementTimeoutMs: d.abortable.timeoutMs,
          signal: controller.signal,
        })
        .catch((e: unknown) => e);
      const active = () => d.statementRunning(bed.db, `%as ${marker} from %`);
      // wait until the statement really runs on the server, then abort
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
      const impatient = openSourceDriver(bed.db.connection, {
        swapLockTimeoutMs: d.swapLock.timeoutMs,
        swapLockAttempts: d.swapLock.attempts,
      });
      const table = cacheTableName(engine, 11, 'held');
      const twoRows = 'select 1 as a union all select 2';
      const holder = await openTestSourceSession(bed.db.connection);
      try {
        await refreshOne(table, impatient);
        await holder.query('start transaction');
        await holder.query(`select * from ${q(bed.schema)}.${q(table)}`);
        const error = await refreshFails(impatient, bed.schema, table, twoRows);
        expect(error.errorClass).toBe('lock');
        expect(error.message).toMatch(d.swapLock.message);
        await holder.query('commit');
        expect(await count(table)).toBe(1);
        expect(await leftovers()).toEqual([]);
        const retried = await impatient.refreshTable({
          schemaName: bed.schema,
          tableName: table,
          sql: twoRows,
          statementTimeoutMs: 5000,
        });
        expect(retried.rows).toBe(2);
      } finally {
        await holder.end();
        await impatient.close();
      }
    });

    it('a cache schema dropped behind the driver is created again on the next refresh', async () => {
      // the PostgreSQL driver remembers schemas it has seen: a dropped one must be noticed, not fail every refresh
      const other = cacheSchemaName(bed.db.name, uuid, 8);
      const table = cacheTableName(engine, 12, 'gone');
      const dropOther = () =>
        bed.db.query(`drop schema ${q(other)}${engine === 'postgres' ? ' cascade' : ''}`);
      const refresh = () =>
        bed.driver.refreshTable({
          schemaName: other,
          tableName: table,
          sql: 'select 1 as a',
          statementTimeoutMs: 5000,
        });
      expect((await refresh()).rows).toBe(1);
      await dropOther();
      expect((await refresh()).rows).toBe(1);
      expect(await bed.driver.tableExists(other, table)).toBe(true);
      await dropOther();
    });

    it('quotes identifiers: names with the quote character and spaces work', async () => {
      const table = `model_6_we${d.quote}ird name`;
      const res = await bed.driver.refreshTable({
        schemaName: bed.schema,
        tableName: table,
        sql: 'select 1 as a union all select 2',
        statementTimeoutMs: 5000,
      });
      expect(res.rows).toBe(2);
      expect(await bed.driver.tableExists(bed.schema, table)).toBe(true);
      await bed.driver.dropTable(bed.schema, table);
      expect(await bed.driver.tableExists(bed.schema, table)).toBe(false);
      await bed.driver.dropTable(bed.schema, table); // IF EXISTS: no error the second time
    });

    it('dropOrphanTempTables removes temporary and backup leftovers only', async () => {
      for (const name of ['mp_tmp_0123456789_model_9_x', 'mp_old_0123456789_model_9_x', 'mpXtmp_keep'])
        await bed.db.query(`create table ${q(bed.schema)}.${q(name)} (a int)`);
      expect(await bed.driver.dropOrphanTempTables(bed.schema)).toBe(2);
      expect(await leftovers()).toEqual([]);
      expect(await bed.driver.tableExists(bed.schema, 'mpXtmp_keep')).toBe(true);
      expect(await bed.driver.dropOrphanTempTables(bed.schema)).toBe(0);
    });

    it('dropOrphanTempTables leaves a build whose generation holds a live lease running, and its table', async () => {
      const table = cacheTableName(engine, 13, 'live');
      const dead = tempTableName(engine, table, 41);
      await bed.db.query(`create table ${q(bed.schema)}.${q(dead)} (a int)`);
      const controller = new AbortController();
      const marker = `mp_live_${randomBytes(4).toString('hex')}`;
      const running = bed.driver
        .refreshTable({
          schemaName: bed.schema,
          tableName: table,
          sql: d.abortable.sql(marker),
          statementTimeoutMs: d.abortable.timeoutMs,
          signal: controller.signal,
          fence: { generation: 42 },
        })
        .catch((e: unknown) => e);
      const active = () => d.statementRunning(bed.db, `%as ${marker} from %`);
      try {
        let started = false;
        for (let i = 0; i < 100 && !started; i++) {
          started = await active();
          if (!started) await new Promise((r) => setTimeout(r, 50));
        }
        expect(started).toBe(true);
        const asked: number[][] = [];
        const dropped = await bed.driver.dropOrphanTempTables(bed.schema, (generations) => {
          asked.push([...generations].sort());
          return Promise.resolve(new Set([42]));
        });
        // the dead build's table is dropped; the live one (generation 42) keeps running on the server
        expect(dropped).toBe(1);
        expect(await bed.driver.tableExists(bed.schema, dead)).toBe(false);
        expect(await active()).toBe(true);
        expect(asked.flat()).toContain(41);
      } finally {
        controller.abort(new Error('test over'));
        await running;
      }
    });

    it('classifies a refused connection', async () => {
      const dead = openSourceDriver({ ...bed.db.connection, port: 1 });
      try {
        const error = (await dead.tableExists(bed.schema, 'x').catch((e: unknown) => e)) as SourceError;
        expect(error.errorClass).toBe('connection');
        expect(error.message).toMatch(d.product);
        const check = await dead.checkCanPersist({
          schemaName: bed.schema,
          instanceUuid: uuid,
          settingsVersion: '1',
        });
        expect(check).toMatchObject({ ok: false, step: 'create-schema', errorClass: 'connection' });
      } finally {
        await dead.close();
      }
    });

    describe('checkCanPersist', () => {
      const login = `mp_u_${randomBytes(4).toString('hex')}`;
      afterAll(async () => {
        // logins are server-wide: drop it while its database still exists to connect to
        await d.dropLogin(bed.db, login);
      });

      it('passes as a privileged user and writes cache_info', async () => {
        const checkSchema = cacheSchemaName(bed.db.name, uuid, 8);
        expect(
          await bed.driver.checkCanPersist({
            schemaName: checkSchema,
            instanceUuid: uuid,
            settingsVersion: '1',
          }),
          // a privileged user passes, with the privilege warning of the least-privilege check
        ).toMatchObject({ ok: true, privilegeWarning: { count: expect.any(Number) as number } });
        const info = await bed.db.query<{ key: string; value: string }>(
          `select ${q('key')}, ${q('value')} from ${q(checkSchema)}.cache_info order by ${q('key')}`,
        );
        expect(info.map((r) => r.key)).toEqual(['created-at', 'instance-uuid', 'settings-version']);
        expect(info.find((r) => r.key === 'instance-uuid')?.value).toBe(uuid);
        expect(await sourceTables(bed.db, checkSchema, 'persistence_check_%')).toEqual([]);
        // repeatable: cache_info is recreated
        expect(
          await bed.driver.checkCanPersist({
            schemaName: checkSchema,
            instanceUuid: uuid,
            settingsVersion: '2',
          }),
        ).toMatchObject({ ok: true });
      });

      it('names the failing step for a restricted login', async () => {
        const usable = cacheSchemaName(bed.db.name, uuid, 9);
        const denied = cacheSchemaName(bed.db.name, uuid, 10);
        const { password } = await d.restrictedLogin(bed.db, login, usable);
        const restricted = openSourceDriver({ ...bed.db.connection, username: login, password });
        try {
          const noSchema = await restricted.checkCanPersist({
            schemaName: denied,
            instanceUuid: uuid,
            settingsVersion: '1',
          });
          expect(noSchema).toMatchObject({ ok: false, step: 'create-schema', errorClass: 'permission' });
          expect((noSchema as { message: string }).message).toMatch(
            new RegExp(`^Lack permissions to create ${denied} schema: ${d.deniedMessage.schema}`),
          );

          const noTable = await restricted.checkCanPersist({
            schemaName: usable,
            instanceUuid: uuid,
            settingsVersion: '1',
          });
          expect(noTable).toMatchObject({ ok: false, step: 'create-table', errorClass: 'permission' });
          expect((noTable as { message: string }).message).toMatch(
            new RegExp(`^Lack permission to create table in schema ${usable}: ${d.deniedMessage.table}`),
          );

          // a refresh as that login fails with the permission class
          const error = await refreshFails(restricted, usable, 'model_1_x', 'select 1 as a');
          expect(error.errorClass).toBe('permission');
          expect(error.code).toBe('SOURCE_PERMISSION');
        } finally {
          await restricted.close();
        }
      });
    });

    it('zero downtime: a reader looping over the cache table during repeated refreshes always sees a complete version', async () => {
      const table = cacheTableName(engine, 10, 'Live table');
      const sizes = [5, 17, 3, 29, 11, 23];
      // the first refresh is a plain rename (no previous table); the later ones also change the columns
      await bed.driver.refreshTable({
        schemaName: bed.schema,
        tableName: table,
        sql: d.series(sizes[0], false),
        statementTimeoutMs: 10_000,
      });
      const reader = await openTestSourceSession(bed.db.connection);
      const seen: number[] = [];
      const errors: unknown[] = [];
      let stop = false;
      const loop = (async () => {
        while (!stop) {
          try {
            seen.push(await countSourceRows(reader, engine, bed.schema, table));
          } catch (e) {
            errors.push(e);
          }
        }
      })();
      try {
        for (let round = 0; round < d.zeroDowntime.rounds; round++) {
          for (const size of sizes) {
            await bed.driver.refreshTable({
              schemaName: bed.schema,
              tableName: table,
              sql: d.series(size, true),
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
      expect(seen.length).toBeGreaterThan(d.zeroDowntime.minReads);
      expect(seen.filter((n) => !sizes.includes(n))).toEqual([]);
      expect(new Set(seen).size).toBeGreaterThan(1);
      expect(await leftovers()).toEqual([]);
    });

    extra?.(bed);
  });
}
