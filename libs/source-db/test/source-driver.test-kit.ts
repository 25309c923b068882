/*
 * The behaviour both source drivers share, written once and run per engine (not part of the build):
 * postgres-source.driver.int-spec.ts and mysql-source.driver.int-spec.ts call describeSourceDriver.
 */
import { randomBytes } from 'node:crypto';
import {
  countSourceRows,
  createTestSourceDatabase,
  eventually,
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
  FENCE_TABLE,
  managedIndexName,
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
  /** Whether a merge into `cache` (a quoted name) is waiting for a row lock in its write. */
  mergeWaiting(db: TestSourceDatabase, cache: string): Promise<boolean>;
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
  /** The indexes of a table: name, uniqueness, columns (comma-separated), by name. */
  indexesOf(
    db: TestSourceDatabase,
    schema: string,
    table: string,
  ): Promise<{ name: string; unique: boolean; cols: string }[]>;
  /** The incremental scenarios' source table: id, v, ts (an integer checkpoint). */
  createIncSource: string;
  /** A source table with long columns: id, body (TEXT), bin (BLOB/bytea), lv (varchar(2000)), ts. */
  createTextSource: string;
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
    // the merge's checks, fence and upsert are one message, longer than pg_stat_activity keeps of a query
    mergeWaiting: async (db) =>
      (
        await db.query(
          `select 1 from pg_stat_activity where query like '%mp_merge_refused%' and state = 'active'
              and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
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
    indexesOf: async (db, schema, table) =>
      (
        await db.query<{ name: string; unique: boolean; cols: string }>(
          `select i.relname as name, ix.indisunique as unique,
                  array_to_string(array(select a.attname from unnest(ix.indkey) with ordinality k(n, o)
                    join pg_attribute a on a.attrelid = ix.indrelid and a.attnum = k.n order by k.o), ',') as cols
             from pg_index ix join pg_class i on i.oid = ix.indexrelid join pg_class t on t.oid = ix.indrelid
             join pg_namespace ns on ns.oid = t.relnamespace
            where ns.nspname = $1 and t.relname = $2 order by 1`,
          [schema, table],
        )
      ).map((r) => ({ name: r.name, unique: r.unique, cols: r.cols })),
    createIncSource: 'create table inc_src (id int, v text, ts int)',
    createTextSource: 'create table txt_src (id int, body text, bin bytea, lv varchar(2000), ts int)',
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
    mergeWaiting(db, cache) {
      return this.statementRunning(db, `%INSERT INTO ${cache}%`);
    },
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
    indexesOf: async (db, schema, table) =>
      (
        await db.query<{ name: string; uniq: number | string; cols: string }>(
          `select INDEX_NAME as name, max(NON_UNIQUE = 0) as uniq,
                  group_concat(COLUMN_NAME order by SEQ_IN_INDEX separator ',') as cols
             from information_schema.STATISTICS where TABLE_SCHEMA = ? and TABLE_NAME = ?
            group by INDEX_NAME order by 1`,
          [schema, table],
        )
      ).map((r) => ({ name: r.name, unique: Number(r.uniq) === 1, cols: r.cols })),
    createIncSource: 'create table inc_src (id int, v varchar(40), ts int)',
    createTextSource: 'create table txt_src (id int, body text, bin blob, lv varchar(2000), ts int)',
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

    it('an older generation is refused at the swap (fenced): the newer table stays, nothing is left behind', async () => {
      // PostgreSQL writes the table name into the fence statement as an escaped literal: a quote in it must work
      const table = engine === 'postgres' ? "model_14_it's \\ fenced" : cacheTableName(engine, 14, 'fenced');
      const build = (generation: number, sql: string) =>
        bed.driver.refreshTable({
          schemaName: bed.schema,
          tableName: table,
          sql,
          statementTimeoutMs: 5000,
          fence: { generation },
        });
      const cache = `${q(bed.schema)}.${q(table)}`;
      expect((await build(10, 'select 10 as g')).rows).toBe(1);
      const refused = (await build(9, 'select 9 as g').catch((e: unknown) => e)) as SourceError;
      expect(refused.details).toMatchObject({ fenced: true, generation: 9, stored: 10 });
      expect((await bed.db.query(`select g from ${cache}`)).map((r) => Number(r.g))).toEqual([10]);
      expect(await leftovers()).toEqual([]);
      // the same generation again (a retried build) and a newer one swap
      expect((await build(10, 'select 10 as g')).rows).toBe(1);
      expect((await build(11, 'select 11 as g')).rows).toBe(1);
      expect((await bed.db.query(`select g from ${cache}`)).map((r) => Number(r.g))).toEqual([11]);
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
      // MySQL/MariaDB: what an older generation's build left (a dead process's CREATE … SELECT that finished)
      const older = tempTableName(engine, table, 40);
      if (engine === 'mysql') await bed.db.query(`create table ${q(bed.schema)}.${q(older)} (a int)`);
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
        // a build drops the tables of older generations of its target when it starts: the fence dooms them
        expect(await bed.driver.tableExists(bed.schema, older)).toBe(false);
        // a leftover appearing after that start is the orphan clean-up's to find
        await bed.db.query(`create table ${q(bed.schema)}.${q(dead)} (a int)`);
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

    describe('managed indexes', () => {
      const idx = (cardId: number, columns: string[], unique: boolean) => ({
        name: managedIndexName(cardId, columns, unique),
        columns,
        unique,
      });

      it('builds them before the swap under stable names, reports their build time, and keeps them across refreshes', async () => {
        const table = cacheTableName(engine, 40, 'indexed');
        const indexes = [idx(40, ['name'], false), idx(40, ['id'], true)];
        for (let round = 0; round < 2; round++) {
          const r = await bed.driver.refreshTable({
            schemaName: bed.schema,
            tableName: table,
            sql: 'select id, name, amount from src',
            statementTimeoutMs: 10_000,
            indexes,
            fence: { generation: 100 + round },
          });
          expect(r.rows).toBe(50);
          expect(r.indexMs).toBeGreaterThanOrEqual(0);
          expect(r.queryMs).toBeGreaterThanOrEqual(0);
          expect(await d.indexesOf(bed.db, bed.schema, table)).toEqual(
            [
              { name: indexes[0].name, unique: false, cols: 'name' },
              { name: indexes[1].name, unique: true, cols: 'id' },
            ].sort((a, b) => (a.name < b.name ? -1 : 1)),
          );
        }
        expect(await leftovers()).toEqual([]);
      });

      it('a column the query does not return fails the refresh with MODEL_INDEX_COLUMN; the table stays as it was', async () => {
        const table = cacheTableName(engine, 41, 'bad index');
        await refreshOne(table);
        const error = await bed.driver
          .refreshTable({
            schemaName: bed.schema,
            tableName: table,
            sql: 'select id, name from src',
            statementTimeoutMs: 10_000,
            indexes: [idx(41, ['id'], false), idx(41, ['nope'], false)],
          })
          .catch((e: unknown) => e as SourceError);
        expect(error).toBeInstanceOf(SourceError);
        expect((error as SourceError).code).toBe('MODEL_INDEX_COLUMN');
        expect((error as SourceError).errorClass).toBe('invalid');
        expect((error as SourceError).message).toMatch(/"nope"/);
        expect(await count(table)).toBe(1);
        expect(await d.indexesOf(bed.db, bed.schema, table)).toEqual([]);
        expect(await leftovers()).toEqual([]);
        expect(Number((await bed.db.query<{ n: unknown }>('select count(*) as n from src'))[0].n)).toBe(50);
      });

      it('TEXT/BLOB and long string columns: plain indexes (prefixes on MariaDB), exact unique ones, a merge by a TEXT key', async () => {
        await bed.db.query(d.createTextSource);
        // two bodies that share their first 1,500 characters: a unique index on prefixes would call them equal
        await bed.db.query(
          `insert into txt_src (id, body, bin, lv, ts) values
             (1, concat(repeat('p', 1500), '1'), 'a1', 'x', 1), (2, concat(repeat('p', 1500), '2'), 'b2', 'y', 2),
             (3, 'gamma', 'c3', concat(repeat('l', 1990), 'z'), 3)`,
        );
        const table = cacheTableName(engine, 42, 'text index');
        const sqlText = 'select id, body, bin, lv, ts from txt_src';
        const indexes = [
          idx(42, ['body'], false),
          idx(42, ['body', 'bin', 'lv', 'id'], false),
          idx(42, ['body'], true),
          idx(42, ['lv', 'body'], true),
        ];
        const build = (generation: number) =>
          bed.driver.refreshTable({
            schemaName: bed.schema,
            tableName: table,
            sql: sqlText,
            statementTimeoutMs: 10_000,
            indexes,
            fence: { generation },
          });
        expect((await build(150)).rows).toBe(3);
        expect(await d.indexesOf(bed.db, bed.schema, table)).toEqual(
          indexes
            .map((i) => ({ name: i.name, unique: i.unique, cols: i.columns.join(',') }))
            .sort((a, b) => (a.name < b.name ? -1 : 1)),
        );
        if (engine === 'mysql') {
          const kinds = await bed.db.query<{ name: string; type: string }>(
            `select distinct INDEX_NAME as name, INDEX_TYPE as type from information_schema.STATISTICS
              where TABLE_SCHEMA = ? and TABLE_NAME = ? and NON_UNIQUE = 0`,
            [bed.schema, table],
          );
          expect(kinds.map((k) => k.type)).toEqual(['HASH', 'HASH']);
        }
        // exact: the same body twice fails the unique index, the previous table stays
        await bed.db.query(`update txt_src set body = concat(repeat('p', 1500), '1') where id = 2`);
        const error = await build(151).catch((e: unknown) => e as SourceError);
        expect(error).toBeInstanceOf(SourceError);
        expect(await count(table)).toBe(3);
        expect(await leftovers()).toEqual([]);
        await bed.db.query(`update txt_src set body = concat(repeat('p', 1500), '2') where id = 2`);

        // an incremental model keyed by the TEXT column merges through the exact unique index
        const keyTable = cacheTableName(engine, 43, 'text key');
        const keyIndex = { ...idx(43, ['body'], true), unique: false, uniqueIfPossible: true };
        const full = await bed.driver.refreshTable({
          schemaName: bed.schema,
          tableName: keyTable,
          sql: sqlText,
          statementTimeoutMs: 10_000,
          indexes: [keyIndex],
          checkpointColumn: 'ts',
          fence: { generation: 160 },
        });
        expect(full.notUnique).toEqual([]);
        await bed.db.query(`update txt_src set lv = 'changed', ts = 5 where id = 1`);
        await bed.db.query(
          `insert into txt_src (id, body, bin, lv, ts) values (4, concat(repeat('p', 1500), '4'), 'd4', 'w', 6)`,
        );
        const merged = await bed.driver.mergeTable({
          schemaName: bed.schema,
          tableName: keyTable,
          sql: sqlText,
          statementTimeoutMs: 10_000,
          checkpointColumn: 'ts',
          uniqueKey: ['body'],
          lookback: { kind: 'number', value: 0 },
          fence: { generation: 161 },
        });
        expect(merged).toMatchObject({ merged: true, inserted: 1, updated: 1, checkpoint: '6' });
        const rows = await bed.db.query<{ id: number; lv: string }>(
          `select id, lv from ${q(bed.schema)}.${q(keyTable)} order by id`,
        );
        expect(rows.map((r) => [Number(r.id), r.lv.slice(0, 7)])).toEqual([
          [1, 'changed'],
          [2, 'y'],
          [3, 'lllllll'],
          [4, 'w'],
        ]);
      });
    });

    describe('incremental merge', () => {
      const key = ['id'];
      const table = cacheTableName(engine, 50, 'incremental');
      const sql = 'select id, v, ts from inc_src';
      const keyIndex = {
        name: managedIndexName(50, key, true),
        columns: key,
        unique: false,
        uniqueIfPossible: true,
      };
      const full = (generation: number) =>
        bed.driver.refreshTable({
          schemaName: bed.schema,
          tableName: table,
          sql,
          statementTimeoutMs: 10_000,
          indexes: [keyIndex],
          checkpointColumn: 'ts',
          fence: { generation },
        });
      const merge = (generation: number, lookback = 10) =>
        bed.driver.mergeTable({
          schemaName: bed.schema,
          tableName: table,
          sql,
          statementTimeoutMs: 10_000,
          checkpointColumn: 'ts',
          uniqueKey: key,
          lookback: { kind: 'number', value: lookback },
          fence: { generation },
        });
      /** Rows of the cache not in the live query plus rows of the live query not in the cache (EXCEPT ALL). */
      const difference = async () => {
        const cache = `${q(bed.schema)}.${q(table)}`;
        const n = async (a: string, b: string) =>
          Number(
            (
              await bed.db.query<{ n: number | string }>(
                `select count(*) as n from (select id, v, ts from ${a} except all select id, v, ts from ${b}) x`,
              )
            )[0].n,
          );
        return [await n(cache, '(select * from inc_src) s'), await n('inc_src', cache)];
      };
      let generation = 200;

      beforeAll(async () => {
        await bed.db.query(d.createIncSource);
        await bed.db.query(`insert into inc_src values (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)`);
      });

      it('merges new, changed and late rows by the key; fences; falls back on duplicates and a checkpoint gone backwards', async () => {
        const built = await full(++generation);
        expect(built.checkpoint).toBe('3');
        expect(built.notUnique).toEqual([]);
        await bed.db.query(`insert into inc_src values (4, 'd', 20), (5, 'late', 15)`);
        await bed.db.query(`update inc_src set v = 'a2', ts = 19 where id = 1`);
        const merged = await merge(++generation);
        expect(merged).toMatchObject({ merged: true, inserted: 2, updated: 1, checkpoint: '20' });
        expect(await difference()).toEqual([0, 0]);
        // a late row inside the lookback (checkpoint 12 >= 20 - 10) is still picked up
        await bed.db.query(`insert into inc_src values (6, 'later', 12)`);
        expect(await merge(++generation)).toMatchObject({
          merged: true,
          inserted: 1,
          updated: 0,
          checkpoint: '20',
        });
        expect(await difference()).toEqual([0, 0]);

        // an older build cannot merge after a newer one did
        const fenced = await merge(generation - 1).catch((e: unknown) => e as SourceError);
        expect((fenced as SourceError).details?.fenced).toBe(true);

        // duplicate keys in the source: nothing merged, the caller rebuilds in full
        await bed.db.query(`insert into inc_src values (4, 'dup', 21)`);
        expect(await merge(++generation)).toMatchObject({ merged: false, fallback: 'duplicate-key' });
        expect(await difference()).toEqual([0, 1]);
        const rebuilt = await full(++generation);
        expect(rebuilt.notUnique).toEqual([keyIndex.name]);
        expect(await difference()).toEqual([0, 0]);
        // the key index is plain now: merging stays off until a full build finds the key unique again
        expect(await merge(++generation)).toMatchObject({ merged: false, fallback: 'duplicate-key' });
        await bed.db.query(`delete from inc_src where v = 'dup'`);
        expect((await full(++generation)).notUnique).toEqual([]);

        // the newest rows vanished: the checkpoint went backwards
        await bed.db.query(`delete from inc_src where ts >= 15`);
        expect(await merge(++generation, 0)).toMatchObject({
          merged: false,
          fallback: 'checkpoint-backwards',
        });
        expect(await leftovers()).toEqual([]);
      });

      it('correctness: random inserts and updates (late rows within the lookback) between merges leave cache = live query', async () => {
        await bed.db.query(`delete from inc_src`);
        let clock = 100;
        let nextId = 1;
        const rand = (n: number) => Math.floor(Math.random() * n);
        const insert = async (count: number) => {
          const rows = Array.from(
            { length: count },
            () => `(${nextId++}, 'v${rand(1000)}', ${clock - rand(8)})`,
          );
          await bed.db.query(`insert into inc_src values ${rows.join(', ')}`);
        };
        await insert(200);
        await full(++generation);
        for (let round = 0; round < 4; round++) {
          clock += 10;
          await insert(5 + rand(20));
          // updates set a checkpoint up to 7 behind the clock: late, but within the lookback of 10
          const ids = Array.from({ length: 10 }, () => 1 + rand(nextId - 1));
          await bed.db.query(
            `update inc_src set v = concat('u${round}_', id), ts = ${clock} - mod(id, 8) where id in (${ids.join(', ')})`,
          );
          const r = await merge(++generation, 10);
          expect(r.merged).toBe(true);
          expect(await difference()).toEqual([0, 0]);
        }
      });

      it('the fence is part of the merge transaction: a newer generation recorded while the merge writes keeps it from applying', async () => {
        await bed.db.query(`delete from inc_src`);
        await bed.db.query(`insert into inc_src values (1, 'a', 1), (2, 'b', 2)`);
        const g = ++generation;
        await full(g);
        await bed.db.query(`update inc_src set v = 'a2', ts = 5 where id = 1`);
        await bed.db.query(`insert into inc_src values (3, 'c', 6)`);
        const cache = `${q(bed.schema)}.${q(table)}`;
        const contents = () => bed.db.query(`select id, v, ts from ${cache} order by id`);
        const before = await contents();
        // a reader's row lock holds the merge's write on row 1 while another refresher takes the table over
        const holder = await openTestSourceSession(bed.db.connection);
        const takeover = await openTestSourceSession(bed.db.connection);
        try {
          await holder.query(engine === 'postgres' ? 'begin' : 'start transaction');
          await holder.query(`select id from ${cache} where id = 1 for update`);
          const merging = merge(g + 1).catch((e: unknown) => e as SourceError);
          await eventually(() => d.mergeWaiting(bed.db, cache), 10_000, 50);
          let tookOver = false;
          const taking = takeover
            .query(
              `update ${q(bed.schema)}.${q(FENCE_TABLE)} set generation = ${g + 5} where table_name = '${table}'`,
            )
            .then(() => (tookOver = true));
          await new Promise((r) => setTimeout(r, 500));
          // MariaDB checks the fence last in the transaction: the takeover commits while the merge waits.
          // PostgreSQL checks it first and keeps the fence row locked: the takeover waits for the merge's COMMIT.
          const takenOverFirst = tookOver;
          expect(takenOverFirst).toBe(engine === 'mysql');
          await holder.query('rollback');
          const result = await merging;
          await taking;
          if (takenOverFirst) {
            expect((result as SourceError).details?.fenced).toBe(true);
            expect(await contents()).toEqual(before);
          } else {
            expect(result).toMatchObject({ merged: true, inserted: 1, updated: 1 });
            expect(await difference()).toEqual([0, 0]);
          }
        } finally {
          await holder.end().catch(() => undefined);
          await takeover.end().catch(() => undefined);
          generation = g + 5;
        }
      });

      it('does not merge, and says why, into a missing table or schema, a table without the checkpoint, or when the model columns changed', async () => {
        const mergeInto = (tableName: string, sqlText: string, schemaName = bed.schema) =>
          bed.driver.mergeTable({
            schemaName,
            tableName,
            sql: sqlText,
            statementTimeoutMs: 10_000,
            checkpointColumn: 'ts',
            uniqueKey: key,
            lookback: { kind: 'number', value: 0 },
          });
        const other = cacheTableName(engine, 51, 'inc other');
        expect(await mergeInto(other, sql)).toMatchObject({ merged: false, fallback: 'no-table' });
        expect(await mergeInto(table, sql, `${bed.schema}_nope`)).toMatchObject({
          merged: false,
          fallback: 'no-table',
        });
        await bed.driver.refreshTable({
          schemaName: bed.schema,
          tableName: other,
          sql: 'select id, v from inc_src',
          statementTimeoutMs: 10_000,
        });
        expect(await mergeInto(other, sql)).toMatchObject({ merged: false, fallback: 'columns-changed' });
        await full(++generation);
        const before = await difference();
        expect(await mergeInto(table, 'select id, ts from inc_src')).toMatchObject({
          merged: false,
          fallback: 'columns-changed',
        });
        expect(await mergeInto(table, 'select v, ts from inc_src')).toMatchObject({
          merged: false,
          fallback: 'columns-changed',
        });
        expect(await difference()).toEqual(before);
        expect(await leftovers()).toEqual([]);
      });
    });

    extra?.(bed);
  });
}
