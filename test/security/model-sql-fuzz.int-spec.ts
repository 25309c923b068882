/*
 * Differential fuzz of the model-SQL check against the real servers (issue 11 §2). fast-check builds SQL from
 * comments (--, nested /* *\/, #, executable /*! *\/), quotes ('', "", ``, E'', dollar quotes with tags, U&""),
 * Unicode spaces, CR/LF mixes, backslashes, 0x7F and control characters, around CTEs with INSERT/UPDATE/DELETE,
 * SELECT … INTO, quoted side-effect functions and attempts to close the derived table. Every string the checker
 * accepts runs through the driver's real refresh (refreshTable) on PostgreSQL and on MariaDB, in a disposable
 * database holding canary tables; after each one the canaries (row counts + content checksums), a sequence and
 * the catalog outside the cache schema (tables, views, schemas, routines; large objects and advisory locks on
 * PostgreSQL) must be exactly as before. The seed corpus holds the bypasses the review found.
 *
 * Short form by default (npm test); FAULTS_MODE=full or SQL_FUZZ_RUNS=<n> for more. Counts go to
 * .cache/faults/<mode>/sql-fuzz.json (read by the RELIABILITY report).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import {
  assertSafeModelSql,
  cacheSchemaName,
  cacheTableName,
  openSourceDriver,
  SourceDriver,
  SourceError,
} from '@model-persistence/source-db';
import { createTestSourceDatabase, sourceTables, TestSourceDatabase } from '@model-persistence/testing';
import { CanaryWatch, createCanaries, Engine, watchCanaries } from './support/canaries';

const MODE = process.env.FAULTS_MODE === 'full' ? 'full' : 'short';
const RUNS = Number(process.env.SQL_FUZZ_RUNS ?? (MODE === 'full' ? 20_000 : 1_000));
const UUID = '5b2d7c10-8e4f-4a21-b6c3-9d0e1f2a3b4c';

jest.setTimeout(Math.max(120_000, RUNS * 200));

/** The bypasses found in review (issue 11), and the classic ones, written against the canaries. */
const SEEDS = [
  'with x as (select 1 as a) -- c\r, d as (delete from canary returning *)\nselect * from x',
  'with x as (select 1 as a) -- c\r, d as (delete from canary returning *) select * from x',
  'with x as (select 1 as a\u00a0$a$), d as (delete from canary returning *) select * from x -- $a$',
  'select 1 as a \u00a0$a$, (select count(*) from canary) -- $a$',
  'select "pg_advisory_lock"(1)',
  'select "setval"(\'canary_seq\', 999)',
  'select "pg_catalog"."nextval"(\'canary_seq\')',
  "select `get_lock`('mp_fuzz', 0)",
  'select `nextval`(canary_seq)',
  "select 1 as a --\x7f'\ninto @v -- '",
  "select 1 as a --\x7f'\n, (select 1 into @v) -- '",
  "select 'a\\' as x, 1 as y -- '",
  'select "a\\" as x, 1 as y -- "',
  'with d as (delete from canary returning *) select * from d',
  "with d as (update canary set v = 'pwned' returning *) select * from d",
  'select * into canary_copy from canary',
  'select 1 as a into @v',
  "select * from canary into outfile '/tmp/mp_fuzz_out'",
  'select 1) x; delete from canary; select (1',
  'select 1 as a) AS m UNION SELECT 1 FROM (select 1',
  'select 1; delete from canary',
  'select 1 /*! ; delete from canary */',
  'select id, v from canary -- trailing',
  'select id, v from canary # trailing',
];

const COMMENTS = [
  '-- c\n',
  '-- c\r',
  '--\r\n',
  '-- c\r\n',
  '--\x7f',
  '--\x01',
  '--',
  '-- ',
  '/* c */',
  '/* a /* nested */ b */',
  '/* unclosed ',
  '*/',
  '# h\n',
  '#',
  '/*!',
  '/*M!100000 ',
  '/*+ hint */',
];
const QUOTES = [
  "'a'",
  "'it''s'",
  "'\\'",
  "'a\\'b'",
  "'",
  '"q"',
  '"a""b"',
  '"',
  '`b`',
  '`',
  "E'\\''",
  "e'x\\\\'",
  "E'",
  '$$ x $$',
  '$a$ $$ ; $a$',
  '$a$',
  '$$',
  '$A$',
  '$_1$',
  'U&"d\\0061t"',
  "N'x'",
  "x'41'",
];
const SPACES = [
  ' ',
  '\n',
  '\r',
  '\r\n',
  '\t',
  '\f',
  '\v',
  '\u00a0',
  '\u2000',
  '\u2003',
  '\u3000',
  '\ufeff',
  '\u0085',
  '\u200b',
  '\u2028',
  '\x7f',
  '\\',
  '\x01',
];
const PAYLOADS = [
  ', d as (delete from canary returning *)',
  ", d as (update canary set v = 'pwned' returning *)",
  ", d as (insert into canary values (999, 'x') returning *)",
  '; delete from canary',
  '; drop table canary',
  'delete from canary',
  "update canary set v = 'pwned'",
  "insert into canary_two values (99, 'x')",
  'into canary_copy',
  'into @v',
  "into outfile '/tmp/mp_fuzz_out'",
  'for update',
  'lock in share mode',
  '"pg_advisory_lock"(1)',
  '"setval"(\'canary_seq\', 999)',
  "pg_catalog.nextval('canary_seq')",
  '"nextval"(\'canary_seq\')',
  "`get_lock`('mp_fuzz', 0)",
  '"get_lock"(\'mp_fuzz\', 0)',
  'next value for canary_seq',
  'nextval(canary_seq)',
  '"lo_create"(0)',
  ') as m; delete from canary; select (1',
  ') AS m UNION SELECT 1 FROM (select 1',
  'truncate canary',
  'drop table canary',
  'create table canary_copy as select 1',
  'create schema evil',
  'drop view canary_view',
  'grant all on canary to public',
];
const FILLER = [
  '1',
  'a',
  'x',
  ',',
  '(',
  ')',
  'select',
  'from canary',
  'as',
  'with',
  'union all select 1',
  'where 1=1',
  'id',
  'E',
  '$',
  '.',
  'returning *',
  ';',
  'count(*)',
  '1 as a',
];

const piece = fc.oneof(
  fc.constantFrom(...COMMENTS),
  fc.constantFrom(...QUOTES),
  fc.constantFrom(...SPACES),
  fc.constantFrom(...PAYLOADS),
  fc.constantFrom(...FILLER),
);
const hide = fc
  .array(fc.oneof(fc.constantFrom(...COMMENTS), fc.constantFrom(...QUOTES), fc.constantFrom(...SPACES)), {
    maxLength: 4,
  })
  .map((p) => p.join(''));
const payload = fc.constantFrom(...PAYLOADS);
/** Separators each engine reads as whitespace (PostgreSQL nests block comments; MySQL has `#`, `--\x7f`). */
const SEPARATORS: Record<Engine, string[]> = {
  postgres: [' ', '\n', '\r\n', '\t', '\f', '/* c */', '-- c\n', '-- c\r', ' /* a /* b */ */ '],
  mysql: [' ', '\n', '\r\n', '\t', '\f', '/* c */', '-- c\n', '# c\n', '--\x7f\n', '/* a /* b */'],
};

/** Free-form: pieces after a SELECT. */
const freeForm = fc.array(piece, { maxLength: 14 }).map((p) => `select ${p.join('')}`);
/** A CTE with something hidden before a payload (the shape of the review's bypasses). */
const cte = fc
  .tuple(hide, payload, hide, fc.constantFrom('', ' -- $a$', " -- '", '\n'))
  .map(([h1, p, h2, tail]) => `with x as (select 1 as a)${h1}${p}${h2} select * from x${tail}`);
/** A select with something hidden before a payload. */
const selectTail = fc.tuple(hide, payload, hide).map(([h1, p, h2]) => `select 1 as a ${h1}${p}${h2}`);
/** Valid models with comments and whitespace between tokens: most of these build a table. */
const noisyValid = (engine: Engine) =>
  fc
    .tuple(
      fc.constantFrom(
        'select id , v from canary where id < 5 order by id',
        'with c as ( select id from canary ) select count ( * ) as n from c',
        'select a . id , b . v from canary a join canary_two b on a . id = b . id',
        "select 'x;y' as s , id from canary_two",
        'values ( 1 , 2 )',
      ),
      fc.array(fc.constantFrom(...SEPARATORS[engine]), { minLength: 20, maxLength: 20 }),
    )
    .map(([sql, seps]) =>
      sql
        .split(' ')
        .map((t, k) => (k === 0 ? t : `${seps[k % seps.length]}${t}`))
        .join(''),
    );
const sqlText = (engine: Engine) =>
  fc.oneof(
    { weight: 3, arbitrary: freeForm },
    { weight: 3, arbitrary: cte },
    { weight: 2, arbitrary: selectTail },
    { weight: 2, arbitrary: noisyValid(engine) },
  );

interface Counts {
  tried: number;
  accepted: number;
  refused: number;
  built: number;
  serverRefused: number;
  passed: boolean;
}
const counts: Record<Engine, Counts> = {
  postgres: { tried: 0, accepted: 0, refused: 0, built: 0, serverRefused: 0, passed: false },
  mysql: { tried: 0, accepted: 0, refused: 0, built: 0, serverRefused: 0, passed: false },
};

describe.each(['postgres', 'mysql'] as const)('model-SQL differential fuzz on real %s', (engine) => {
  let db: TestSourceDatabase;
  let driver: SourceDriver;
  let watch: CanaryWatch;
  let schema: string;
  const table = cacheTableName(engine, 1, 'fuzz');

  beforeAll(async () => {
    db = await createTestSourceDatabase(engine, engine === 'postgres' ? 'pgfuzz' : 'myfuzz');
    await createCanaries(db);
    schema = cacheSchemaName(db.name, UUID, 1);
    driver = openSourceDriver(db.connection);
    // the cache schema exists from the first refresh on: the catalog snapshot ignores it
    await driver.refreshTable({
      schemaName: schema,
      tableName: table,
      sql: 'select 1 as a',
      statementTimeoutMs: 5000,
    });
    watch = await watchCanaries(db, schema);
  });

  afterAll(async () => {
    await driver?.close();
    await watch?.end().catch(() => undefined);
    await db?.drop();
  });

  it('every string the checker accepts leaves the canaries and the catalog unchanged', async () => {
    const baseline = await watch.take();
    const c = counts[engine];
    await fc.assert(
      fc.asyncProperty(sqlText(engine), async (sql) => {
        c.tried++;
        try {
          assertSafeModelSql(sql, engine);
        } catch (error) {
          if (!DomainError.is(error, ErrorCode.UnsafeSql)) throw error;
          c.refused++;
          return;
        }
        c.accepted++;
        try {
          await driver.refreshTable({
            schemaName: schema,
            tableName: table,
            sql,
            statementTimeoutMs: 10_000,
          });
          c.built++;
        } catch (error) {
          // a syntax error, an unknown column…: a classified failure, never a crash
          expect(error).toBeInstanceOf(SourceError);
          c.serverRefused++;
        }
        expect(await watch.take()).toBe(baseline);
      }),
      { numRuns: RUNS, examples: SEEDS.map((s) => [s] as [string]), endOnFailure: true },
    );
    // a failed build never leaves its temporary table behind
    expect(await sourceTables(db, schema, 'mp\\_tmp\\_%')).toEqual([]);
    expect(await sourceTables(db, schema, 'mp\\_old\\_%')).toEqual([]);
    // the run exercised both sides: strings refused early and strings run on the server
    expect(c.refused).toBeGreaterThan(0);
    expect(c.built).toBeGreaterThan(0);
    c.passed = true;
  });
});

afterAll(() => {
  const figures = {
    load: `${RUNS} SQL strings per engine (${SEEDS.length} seeds: the review's bypasses; the rest generated); every accepted one refreshed through the driver`,
    postgresTried: counts.postgres.tried,
    postgresAccepted: counts.postgres.accepted,
    postgresRefused: counts.postgres.refused,
    postgresBuilt: counts.postgres.built,
    postgresServerRefused: counts.postgres.serverRefused,
    mariadbTried: counts.mysql.tried,
    mariadbAccepted: counts.mysql.accepted,
    mariadbRefused: counts.mysql.refused,
    mariadbBuilt: counts.mysql.built,
    mariadbServerRefused: counts.mysql.serverRefused,
    sourceChanged:
      counts.postgres.passed && counts.mysql.passed
        ? 'never (canary rows, checksums, sequence, catalog)'
        : 'FAILED: see the test output',
  };
  const dir = join(__dirname, '..', '..', '.cache', 'faults', MODE);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'sql-fuzz.json'),
    JSON.stringify({ scenario: 'sql-fuzz', mode: MODE, at: new Date().toISOString(), ...figures }, null, 2) +
      '\n',
  );
  console.log(`[security] sql-fuzz (${MODE}): ${JSON.stringify(figures)}`);
});
