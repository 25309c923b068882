/*
 * Enforce, don't trust (issue 11 §1): the bypasses a review found, data-modifying WITH, SELECT … INTO and
 * multi-statement tricks sent straight through the server path WITHOUT the lexer — the drivers' own
 * CREATE TABLE … AS SELECT * FROM (<model>) AS mp_model statement, with the drivers' protocol settings — on real
 * PostgreSQL and MariaDB. The servers must refuse every one and leave the canary tables, the sequence and the
 * catalog as they were. The lexer must refuse them too, with UNSAFE_SQL and a position (the friendly 422).
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Connection, createConnection, RowDataPacket } from 'mysql2/promise';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import {
  assertSafeModelSql,
  cacheSchemaName,
  cacheTableName,
  MYSQL_SESSION_SQL_MODE,
  MysqlSessionConnection,
  mysqlCreateTableAsModel,
  openSourceDriver,
  pinMysqlSession,
  postgresCreateTableAsModel,
  quoteIdentifier,
  SourceError,
} from '@model-persistence/source-db';
import { createTestSourceDatabase, TestSourceDatabase } from '@model-persistence/testing';
import { CanaryWatch, createCanaries, watchCanaries } from './support/canaries';

jest.setTimeout(120_000);

const UUID = '7f1c0a52-3b8e-4d55-9a0e-0c8f0e6f5a11';

interface Attack {
  name: string;
  sql: string;
  /** The server's refusal. */
  server: RegExp;
}

/** The bypasses of the review, written against the canary tables. */
const PG_ATTACKS: Attack[] = [
  {
    name: 'a -- comment ended by \\r hides a data-modifying WITH from a lexer that waits for \\n',
    sql: 'with x as (select 1 as a) -- note\r, d as (delete from canary returning *)\nselect * from x',
    server: /WITH clause containing a data-modifying statement must be at the top level/,
  },
  {
    name: 'U+00A0 before $a$: an identifier to PostgreSQL, a dollar quote hiding the rest to a naive lexer',
    sql: 'with x as (select 1 as a\u00a0$a$), d as (delete from canary returning *) select * from x -- $a$',
    server: /WITH clause containing a data-modifying statement must be at the top level/,
  },
  {
    name: 'a plain data-modifying WITH (DELETE)',
    sql: 'with d as (delete from canary returning *) select * from d',
    server: /must be at the top level/,
  },
  {
    name: 'a data-modifying WITH (UPDATE) behind a materialized CTE',
    sql: "with d as materialized (update canary set v = 'pwned' returning *) select count(*) from d",
    server: /must be at the top level/,
  },
  {
    name: 'a data-modifying WITH (INSERT)',
    sql: "with d as (insert into canary values (999, 'x') returning *) select * from d",
    server: /must be at the top level/,
  },
  {
    name: 'SELECT … INTO a new table',
    sql: 'select * into canary_copy from canary',
    server: /SELECT \.\.\. INTO is not allowed here/,
  },
  {
    name: 'a second statement',
    sql: 'select 1; delete from canary',
    // inside the derived table the `;` is a syntax error before the protocol's one-statement rule applies
    server: /syntax error at or near ";"/,
  },
  {
    name: 'closing the derived table, then a second statement',
    sql: 'select 1) x; delete from canary; select * from (select 1',
    server: /cannot insert multiple commands into a prepared statement/,
  },
  {
    name: 'closing the derived table, then a data-modifying WITH in a UNION arm',
    sql: 'select 1 as a) AS m UNION (with d as (delete from canary returning *) select 1 from d) UNION select 1 from (select 1',
    server: /must be at the top level/,
  },
  {
    name: 'closing the derived table, then INTO',
    sql: 'select 1 as a) AS m INTO canary_copy FROM (select 1',
    server: /syntax error at or near "INTO"/,
  },
  {
    name: 'a trailing -- comment cannot swallow the closing parenthesis',
    sql: 'with d as (delete from canary returning *) select * from d --',
    server: /must be at the top level/,
  },
];

const MYSQL_ATTACKS: Attack[] = [
  {
    name: '-- followed by 0x7F is a comment to MariaDB: INTO on the next line',
    sql: "select 1 as a --\x7f'\ninto @mp_v -- '",
    server: /You have an error in your SQL syntax/,
  },
  {
    name: 'SELECT … INTO a variable',
    sql: 'select 1 as a into @mp_v',
    server: /You have an error in your SQL syntax/,
  },
  {
    name: 'SELECT … INTO OUTFILE',
    sql: `select * from canary into outfile '/tmp/mp_attack_${randomBytes(4).toString('hex')}'`,
    server: /You have an error in your SQL syntax/,
  },
  {
    name: 'a second statement',
    sql: 'select 1; delete from canary',
    server: /You have an error in your SQL syntax/,
  },
  {
    name: 'closing the derived table, then a second statement',
    sql: 'select 1) x; delete from canary; select * from (select 1',
    server: /You have an error in your SQL syntax/,
  },
  {
    name: 'closing the derived table, then INTO',
    sql: 'select 1 as a) AS m union select 1 into @mp_v from (select 1',
    server: /You have an error in your SQL syntax/,
  },
  {
    name: 'a data-modifying WITH',
    sql: 'with d as (delete from canary) select 1',
    server: /You have an error in your SQL syntax/,
  },
  {
    name: 'an executable comment carrying a second statement',
    sql: 'select 1 /*! ; delete from canary */',
    server: /You have an error in your SQL syntax/,
  },
  {
    name: 'a trailing # comment cannot swallow the closing parenthesis',
    sql: 'select 1 as a into @mp_v #',
    server: /You have an error in your SQL syntax/,
  },
];

/** The early check refuses it too: UNSAFE_SQL with a 1-based position. */
function expectLexerRefuses(sql: string, engine: 'postgres' | 'mysql'): void {
  let error: unknown;
  try {
    assertSafeModelSql(sql, engine);
  } catch (e) {
    error = e;
  }
  expect(DomainError.is(error, ErrorCode.UnsafeSql)).toBe(true);
  expect((error as DomainError).details?.position ?? (error as Error).message).toBeTruthy();
}

describe('PostgreSQL refuses what the lexer refuses, without the lexer (derived table + extended protocol)', () => {
  let db: TestSourceDatabase;
  let watch: CanaryWatch;
  let client: Client;
  let schema: string;

  beforeAll(async () => {
    db = await createTestSourceDatabase('postgres', 'pgattack');
    await createCanaries(db);
    schema = cacheSchemaName(db.name, UUID, 1);
    await db.query(`create schema ${quoteIdentifier('postgres', schema)}`);
    watch = await watchCanaries(db, schema);
    client = new Client({
      host: db.connection.host,
      port: db.connection.port,
      database: db.name,
      user: db.connection.username,
      password: db.connection.password ?? undefined,
    });
    client.on('error', () => undefined);
    await client.connect();
  });

  afterAll(async () => {
    await client?.end().catch(() => undefined);
    await watch?.end().catch(() => undefined);
    await db?.drop();
  });

  /** The driver's build statement, as the driver sends it (BEGIN; standard strings; extended protocol). */
  async function serverPath(sql: string, table = 'mp_tmp_attack'): Promise<Error | undefined> {
    const tmp = `${quoteIdentifier('postgres', schema)}.${quoteIdentifier('postgres', table)}`;
    await client.query('BEGIN; SET LOCAL standard_conforming_strings = on');
    try {
      await client.query({ text: postgresCreateTableAsModel(tmp, sql), queryMode: 'extended' } as {
        text: string;
      });
      await client.query('COMMIT');
      return undefined;
    } catch (error) {
      await client.query('ROLLBACK');
      return error as Error;
    }
  }

  it('the same path builds an ordinary model (the control: refusals below are not a broken path)', async () => {
    expect(
      await serverPath('select id, v from canary where id <= 3 -- trailing comment', 'mp_tmp_ok'),
    ).toBeUndefined();
    const rows = await db.query<{ n: string }>(`select count(*) as n from "${schema}".mp_tmp_ok`);
    expect(Number(rows[0].n)).toBe(3);
    await db.query(`drop table "${schema}".mp_tmp_ok`);
  });

  it('before the fix the statement had no derived table: the same bypass deleted rows (the test can fail)', async () => {
    await db.query('create table victim as select * from canary');
    try {
      const tmp = `"${schema}".mp_tmp_old`;
      await client.query({
        text: `CREATE TABLE ${tmp} AS ${PG_ATTACKS[0].sql.replace('delete from canary', 'delete from victim')}`,
        queryMode: 'extended',
      } as { text: string });
      const left = await db.query<{ n: string }>('select count(*) as n from victim');
      expect(Number(left[0].n)).toBe(0);
      await client.query(`DROP TABLE ${tmp}`);
    } finally {
      await db.query('drop table victim');
    }
  });

  it.each(PG_ATTACKS.map((a) => [a.name, a] as const))('%s', async (_, attack) => {
    const before = await watch.take();
    const error = await serverPath(attack.sql);
    expect(error?.message).toMatch(attack.server);
    expect(await watch.take()).toBe(before);
    expectLexerRefuses(attack.sql, 'postgres');
  });

  it('the driver refuses the corpus early with UNSAFE_SQL, and nothing changes', async () => {
    const before = await watch.take();
    const driver = openSourceDriver(db.connection);
    try {
      for (const attack of PG_ATTACKS) {
        const error = await driver
          .refreshTable({
            schemaName: schema,
            tableName: cacheTableName('postgres', 1, 'attack'),
            sql: attack.sql,
            statementTimeoutMs: 5000,
          })
          .then(() => undefined)
          .catch((e: unknown) => e);
        expect((error as SourceError | undefined)?.errorClass).toBe('unsafe-sql');
      }
    } finally {
      await driver.close();
    }
    expect(await watch.take()).toBe(before);
  });
});

describe('MariaDB refuses what the lexer refuses, without the lexer (derived table, one statement, pinned sql_mode)', () => {
  let db: TestSourceDatabase;
  let watch: CanaryWatch;
  let conn: Connection;
  let schema: string;

  beforeAll(async () => {
    db = await createTestSourceDatabase('mysql', 'myattack');
    await createCanaries(db);
    schema = cacheSchemaName(db.name, UUID, 1);
    await db.query(`create database ${quoteIdentifier('mysql', schema)}`);
    watch = await watchCanaries(db, schema);
    // as the driver connects: no multipleStatements, the pinned sql_mode
    conn = await createConnection({
      host: db.connection.host,
      port: db.connection.port,
      user: db.connection.username,
      password: db.connection.password ?? undefined,
      database: db.name,
      multipleStatements: false,
    });
    conn.on('error', () => undefined);
    await conn.query(`SET SESSION sql_mode = '${MYSQL_SESSION_SQL_MODE}'`);
  });

  afterAll(async () => {
    await conn?.end().catch(() => undefined);
    await watch?.end().catch(() => undefined);
    await db?.drop();
  });

  async function serverPath(sql: string, table = 'mp_tmp_attack'): Promise<Error | undefined> {
    const tmp = `${quoteIdentifier('mysql', schema)}.${quoteIdentifier('mysql', table)}`;
    try {
      await conn.query(mysqlCreateTableAsModel(tmp, sql));
      return undefined;
    } catch (error) {
      return error as Error;
    }
  }

  it('the same path builds an ordinary model (the control)', async () => {
    expect(
      await serverPath('select id, v from canary where id <= 3 # trailing comment', 'mp_tmp_ok'),
    ).toBeUndefined();
    const [rows] = await conn.query<RowDataPacket[]>(`select count(*) as n from \`${schema}\`.mp_tmp_ok`);
    expect(Number(rows[0].n)).toBe(3);
    await conn.query(`drop table \`${schema}\`.mp_tmp_ok`);
  });

  it.each(MYSQL_ATTACKS.map((a) => [a.name, a] as const))('%s', async (_, attack) => {
    const before = await watch.take();
    const error = await serverPath(attack.sql);
    expect(error?.message).toMatch(attack.server);
    expect(await watch.take()).toBe(before);
    const [vars] = await conn.query<RowDataPacket[]>('select @mp_v as v');
    expect(vars[0].v).toBeNull();
    const [tables] = await conn.query<RowDataPacket[]>(
      'select TABLE_NAME from information_schema.TABLES where TABLE_SCHEMA = ?',
      [schema],
    );
    expect(tables).toEqual([]);
    expectLexerRefuses(attack.sql, 'mysql');
  });

  it('the pinned sql_mode replaces whatever mode a connection starts with (ANSI_QUOTES, NO_BACKSLASH_ESCAPES)', async () => {
    const raw = await createConnection({
      host: db.connection.host,
      port: db.connection.port,
      user: db.connection.username,
      password: db.connection.password ?? undefined,
    });
    try {
      await raw.query("SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT'");
      pinMysqlSession((raw as unknown as { connection: MysqlSessionConnection }).connection);
      const [rows] = await raw.query<RowDataPacket[]>("select @@session.sql_mode as m, 'a\\'b' as s");
      expect(rows[0]).toEqual({ m: MYSQL_SESSION_SQL_MODE, s: "a'b" });
    } finally {
      await raw.end();
    }
  });

  it('the driver runs every refresh under the pinned sql_mode, and refuses the corpus early with UNSAFE_SQL', async () => {
    const before = await watch.take();
    const driver = openSourceDriver(db.connection);
    const table = cacheTableName('mysql', 2, 'mode');
    try {
      await driver.refreshTable({
        schemaName: schema,
        tableName: table,
        sql: 'select @@session.sql_mode as m',
        statementTimeoutMs: 5000,
      });
      const [rows] = await conn.query<RowDataPacket[]>(`select m from \`${schema}\`.\`${table}\``);
      expect(rows[0].m).toBe(MYSQL_SESSION_SQL_MODE);
      await conn.query(`drop table \`${schema}\`.\`${table}\``);
      for (const attack of MYSQL_ATTACKS) {
        const error = await driver
          .refreshTable({ schemaName: schema, tableName: table, sql: attack.sql, statementTimeoutMs: 5000 })
          .then(() => undefined)
          .catch((e: unknown) => e);
        expect((error as SourceError | undefined)?.errorClass).toBe('unsafe-sql');
      }
    } finally {
      await driver.close();
    }
    expect(await watch.take()).toBe(before);
  });
});
