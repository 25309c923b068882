import fc from 'fast-check';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { assertSafeModelSql, queryHash } from './model-sql';
import { tokenizeSql } from './sql-lexer';

const reject = (sql: string, engine?: 'postgres' | 'mysql'): string => {
  try {
    assertSafeModelSql(sql, engine);
  } catch (e) {
    expect(DomainError.is(e, ErrorCode.UnsafeSql)).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`accepted: ${sql}`);
};

describe('assertSafeModelSql', () => {
  describe('accepts single read queries and normalizes them', () => {
    it.each([
      ['select 1', 'select 1'],
      ['  SELECT * FROM t;  ', 'SELECT * FROM t'],
      ['select 1;;', 'select 1'],
      ['select 1 -- trailing comment', 'select 1'],
      ['/* lead */ select 1 /* tail */ ;', 'select 1'],
      ['with x as (select 1 as a) select a from x', 'with x as (select 1 as a) select a from x'],
      ['with recursive g(n) as (select 1 union all select n + 1 from g where n < 5) select n from g', null],
      ['values (1, 2), (3, 4)', null],
      ['table orders', null],
      ['(select 1) union (select 2)', null],
      ['((select 1))', null],
      ["select ';' as semi, 'drop table t' as s", null],
      ["select 'it''s; fine'", null],
      ['select "delete" from t', null],
      ['select `update`, `drop` from t', null], // not valid pg, but lexically safe: lexer does not see keywords
      ['select t.update from t', null],
      ["select replace(name, 'a', 'b') from t", null],
      ['select updated_at, created_by, deleted from t', null],
      ['select * from t order by 1 for read only', null],
      ['select substring(s from 1 for 2) from t', null],
      ['select 1 -- ; drop table t\n', 'select 1'],
      ['select 1 /* ; drop table t */', 'select 1'],
      ['select \'nextval(x)\', "setval" from t', null],
    ])('%s', (sql, normalized) => {
      expect(assertSafeModelSql(sql, sql.includes('`') ? 'mysql' : undefined)).toBe(normalized ?? sql);
    });

    it('understands PostgreSQL dollar quotes, E-strings and nested comments', () => {
      expect(assertSafeModelSql('select $$ ; drop table t $$ as a', 'postgres')).toBe(
        'select $$ ; drop table t $$ as a',
      );
      expect(assertSafeModelSql("select $tag$ it's ; $$ $tag$", 'postgres')).toBe(
        "select $tag$ it's ; $$ $tag$",
      );
      expect(assertSafeModelSql("select E'it\\'s ; x'", 'postgres')).toBe("select E'it\\'s ; x'");
      expect(assertSafeModelSql('select 1 /* a /* nested ; */ still comment ; */', 'postgres')).toBe(
        'select 1',
      );
      expect(assertSafeModelSql('select $1::int, a$b from t', 'postgres')).toBe('select $1::int, a$b from t');
    });

    it('understands MySQL backslash escapes, # comments and backtick identifiers', () => {
      expect(assertSafeModelSql("select 'it\\'s ; x'", 'mysql')).toBe("select 'it\\'s ; x'");
      expect(assertSafeModelSql('select 1 # comment ; drop table t', 'mysql')).toBe('select 1');
      expect(assertSafeModelSql('select `a``;b` from t', 'mysql')).toBe('select `a``;b` from t');
      expect(assertSafeModelSql('select 1--1', 'mysql')).toBe('select 1--1');
      expect(assertSafeModelSql('select "x;y" from t', 'mysql')).toBe('select "x;y" from t');
      expect(
        assertSafeModelSql('select truncate(1.234, 1), insert(s, 1, 2, "x") from t', 'mysql'),
      ).toBeTruthy();
    });
  });

  describe('rejects', () => {
    it('a second statement, with a clear message', () => {
      expect(reject('select 1; drop table t')).toBe(
        'Model SQL must be a single read-only query: found a second statement after \';\' at position 11 ("drop table t")',
      );
      expect(reject('select 1;select 2')).toMatch(/second statement/);
      expect(reject("select 'a'; delete from t")).toMatch(/second statement/);
      expect(reject('select 1; -- c\n drop table t')).toMatch(/second statement/);
    });

    it('hidden second statements that depend on the dialect', () => {
      // MySQL: a backslash escapes the quote, the string goes on; PostgreSQL: the string ends at \'
      expect(reject("select 'a\\'; drop table t; --'", 'postgres')).toMatch(/second statement/);
      expect(assertSafeModelSql("select 'a\\'; drop table t; --'", 'mysql')).toBeTruthy();
      expect(reject("select 'a\\'; drop table t; --'")).toMatch(/second statement/); // both dialects must agree
      // PostgreSQL: # is an operator, the rest is code
      expect(reject('select 1 # 2; drop table t', 'postgres')).toMatch(/second statement/);
      // MySQL: `--1` is not a comment
      expect(reject('select 1--1; drop table t', 'mysql')).toMatch(/second statement/);
      // MySQL comments do not nest
      expect(reject('select 1 /* /* */ ; drop table t */', 'mysql')).toMatch(/second statement|unterminated/);
      // MySQL executable comments run their content
      expect(reject('select 1 /*! ; drop table t */', 'mysql')).toMatch(/executable comments/);
      expect(reject('select 1 /*M!100000 , sleep(1) */', 'mysql')).toMatch(/executable comments/);
    });

    it.each([
      ['delete from t', /must start with SELECT, WITH, VALUES or TABLE, found "delete from t"/],
      ['DROP TABLE t', /found "DROP TABLE t"/],
      ['insert into t values (1)', /must start with/],
      ['update t set a = 1', /must start with/],
      ['create table x as select 1', /must start with/],
      ['alter table t add c int', /must start with/],
      ['truncate t', /must start with/],
      ['grant all on t to u', /must start with/],
      ['copy t to stdout', /must start with/],
      ['do $$ begin perform 1; end $$', /must start with/],
      ['call p()', /must start with/],
      ['set role admin', /must start with/],
      ['explain select 1', /must start with/],
      ['show tables', /must start with/],
      ['lock table t', /must start with/],
      ['vacuum t', /must start with/],
      ['(delete from t)', /must start with/],
      ['((', /must start with/],
    ])('a query starting with something else: %s', (sql, message) => {
      expect(reject(sql)).toMatch(message);
    });

    it.each([
      'with x as (delete from t returning *) select * from x',
      'WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x',
      'with x as materialized (update t set a = 1 returning *) select * from x',
      'with x as not materialized (merge into t using s on true when matched then delete) select 1',
      'with x as (select 1) delete from t',
      'with x as (select 1) update t set a = 1',
      'select * from t where exists (delete from u)',
    ])('data-modifying statements inside a query: %s', (sql) => {
      expect(reject(sql, 'postgres')).toMatch(/data-modifying/);
    });

    it.each([
      ['select * into new_table from t', /SELECT … INTO is not allowed/],
      ["select * from t into outfile '/tmp/x'", /INTO/],
      ['select a into @v from t', /INTO/],
      ['select 1into @v', /INTO/],
      ['select * from t for update', /FOR UPDATE/],
      ['select * from t for share', /FOR UPDATE/],
      ['select * from t for no key update', /FOR UPDATE/],
      ['select * from t for key share', /FOR UPDATE/],
      ['select * from (select * from t for update) x', /row locks/],
      ['select * from t lock in share mode', /LOCK IN SHARE MODE/],
    ])('writes and locks: %s', (sql, message) => {
      expect(reject(sql)).toMatch(message);
    });

    it.each([
      ['', /empty/],
      ['   -- only a comment', /empty/],
      [';', /empty/],
      ["select 'unterminated", /unterminated string literal starting at position 8/],
      ['select "unterminated', /unterminated/],
      ['select 1 /* unterminated', /unterminated comment/],
      ['select $x$ unterminated', /unterminated dollar-quoted/],
    ])('malformed input: %j', (sql, message) => {
      expect(reject(sql)).toMatch(message);
    });

    it.each([
      'select pg_terminate_backend(pid) from pg_stat_activity',
      "select pg_catalog.set_config('role', 'admin', false)",
      "select nextval('s')",
      "select get_lock('x', 10)",
      "select load_file('/etc/passwd')",
      "select dblink_exec('drop table t')",
    ])('side-effecting functions: %s', (sql) => {
      expect(reject(sql)).toMatch(/is not allowed: it has side effects/);
    });

    it('ambiguous backslashes in MySQL double-quoted tokens', () => {
      expect(reject('select "a\\"; drop table t; --"', 'mysql')).toMatch(/ANSI_QUOTES/);
    });

    it('keywords used as bare column names, with advice to quote them', () => {
      expect(reject('select update from t', 'postgres')).toMatch(/if it is a column name, quote it/);
    });
  });
});

describe("bypasses found in review (issue 11): the lexer agrees with the servers' scanners", () => {
  it('a PostgreSQL -- comment ends at a carriage return, so the data-modifying WITH after it is seen', () => {
    const sql = 'with x as (select 1 as a) -- note\r, d as (delete from t returning *) select * from x';
    expect(reject(sql, 'postgres')).toMatch(/data-modifying statement inside WITH .* DELETE at position 43/);
    expect(reject(sql)).toMatch(/DELETE/);
    // the shape that got through: the old lexer read `with x as (select 1 as a) select * from x`
    expect(
      reject(
        'with x as (select 1 as a) -- c\r, d as (delete from t returning *)\nselect * from x',
        'postgres',
      ),
    ).toMatch(/DELETE/);
  });

  it.each([
    ['U+00A0', '\u00a0'],
    ['U+2000', '\u2000'],
    ['U+3000', '\u3000'],
    ['U+FEFF', '\ufeff'],
  ])(
    'a %s before $a$ is part of an identifier on PostgreSQL, not whitespace: no dollar quote opens',
    (_, space) => {
      const sql = `with x as (select 1 as a${space}$a$), d as (delete from t returning *) select * from x -- $a$`;
      expect(reject(sql, 'postgres')).toMatch(/DELETE/);
      expect(tokenizeSql(`select 1 ${space}$a$ x`, 'postgres').map((t) => t.text)).toEqual([
        'select',
        '1',
        `${space}$a$`,
        'x',
      ]);
    },
  );

  it('only ASCII whitespace separates tokens (\\v and \\f do; Unicode spaces are identifier characters)', () => {
    expect(tokenizeSql('select\v1\f,\u00a0x', 'postgres').map((t) => t.text)).toEqual([
      'select',
      '1',
      ',',
      '\u00a0x',
    ]);
  });

  it.each([
    ['"pg_terminate_backend"(pid)', 'postgres'],
    ['"PG_TERMINATE_BACKEND" (pid)', 'postgres'],
    ['pg_catalog.pg_terminate_backend(pid)', 'postgres'],
    ['"pg_catalog"."pg_terminate_backend"(pid)', 'postgres'],
    ['U&"pg_terminate\\005fbackend"(pid)', 'postgres'],
    ["`get_lock`('x', 10)", 'mysql'],
    ["`GET_LOCK` /* c */ ('x', 10)", 'mysql'],
    ['"get_lock"(\'x\', 10)', 'mysql'],
    ["`release_lock`('x')", 'mysql'],
  ] as const)('a quoted or qualified side-effect function: %s', (call, engine) => {
    expect(reject(`select ${call} from t`, engine)).toMatch(/is not allowed: it has side effects/);
  });

  it.each([
    "select * from dblink('dbname=x', 'delete from t returning 1') as r(a int)",
    "select dblink_connect('c', 'dbname=x')",
    "select dblink_send_query('c', 'drop table t')",
    'select pg_try_advisory_lock(1)',
    'select pg_try_advisory_xact_lock_shared(1)',
    'select pg_advisory_unlock(1)',
    'select pg_advisory_unlock_all()',
    "select pg_notify('ch', 'x')",
    "select pg_logical_emit_message(true, 'p', 'x')",
    "select lo_from_bytea(0, 'x')",
    "select lo_import('/etc/passwd')",
    "select pg_catalog.pg_file_write('f', 'x', false)",
    'select pg_stat_reset()',
    "select pg_create_logical_replication_slot('s', 'test_decoding')",
  ])('PostgreSQL side-effect functions: %s', (sql) => {
    expect(reject(sql, 'postgres')).toMatch(/is not allowed: it has side effects/);
  });

  it.each(['select release_all_locks()', "select master_pos_wait('f', 1)", "select sys_eval('id')"])(
    'MySQL side-effect functions: %s',
    (sql) => {
      expect(reject(sql, 'mysql')).toMatch(/is not allowed: it has side effects/);
    },
  );

  it('PostgreSQL dollar-quote tags: a letter, _ or non-ASCII first, then also digits; `$1` is a parameter', () => {
    const kinds = (sql: string) => tokenizeSql(sql, 'postgres').map((t) => [t.kind, t.text]);
    expect(kinds('select $é1$ ; $é1$')).toEqual([
      ['word', 'select'],
      ['string', '$é1$ ; $é1$'],
    ]);
    expect(kinds('select $_$x$_$')).toEqual([
      ['word', 'select'],
      ['string', '$_$x$_$'],
    ]);
    // `$1a$` opens no quote: `$1` then the word `a$`, so the `;` is code
    expect(reject('select $1a$ ; drop table t; $1a$', 'postgres')).toMatch(/second statement/);
    // a `$` inside a word belongs to the word: `x$a$` opens no quote either
    expect(reject('select x$a$ ; drop table t; x$a$', 'postgres')).toMatch(/second statement/);
  });

  it('a U&"…" name with a custom UESCAPE is refused rather than decoded', () => {
    expect(reject(`select U&"pg!005fterminate!005fbackend" UESCAPE '!'(pid)`, 'postgres')).toMatch(
      /UESCAPE is not supported/,
    );
  });

  it('MariaDB NEXT VALUE FOR advances a sequence', () => {
    expect(reject('select next value for s', 'mysql')).toMatch(/NEXT VALUE FOR/);
  });

  it('read-only lock probes stay allowed', () => {
    expect(assertSafeModelSql("select is_free_lock('x'), is_used_lock('x')", 'mysql')).toBeTruthy();
    expect(assertSafeModelSql("select lastval(), currval('s')", 'postgres')).toBeTruthy();
  });

  it.each([
    ['0x7F', '\x7f'],
    ['0x01', '\x01'],
    ['0x1F', '\x1f'],
    ['a tab', '\t'],
  ])('a MySQL -- followed by %s is a comment, so what follows on the line is not code', (_, ctl) => {
    // the server reads `select 1 as a into @v`; a lexer that saw no comment saw a string hiding INTO
    const sql = `select 1 as a --${ctl}'\ninto @v -- '`;
    expect(reject(sql, 'mysql')).toMatch(/INTO/);
  });

  it('a MySQL -- at the very end is a comment too', () => {
    expect(assertSafeModelSql('select 1 --', 'mysql')).toBe('select 1');
  });

  it('a NUL character is refused (MySQL ends a comment there)', () => {
    expect(reject('select 1 -- \0\n', 'mysql')).toMatch(/NUL character at position 13/);
  });

  it.each([
    'select 1) x; delete from t; select (1',
    'select 1 as a) AS m UNION SELECT * FROM (select 2',
    'select 1 as a) AS m, t',
    'select (1',
  ])('a model that would close or leave open the derived table it runs in: %s', (sql) => {
    expect(reject(sql, 'postgres')).toMatch(/without a matching|never closed|second statement/);
    expect(reject(sql, 'mysql')).toMatch(/without a matching|never closed|second statement/);
  });

  it('ASCII-only keyword folding: a dotless ı does not make INTO (the servers see an identifier)', () => {
    expect(assertSafeModelSql('select 1 as \u0131nto', 'postgres')).toBe('select 1 as \u0131nto');
  });
});

describe('tokenizeSql', () => {
  it('yields positions and kinds, skipping comments', () => {
    const tokens = tokenizeSql('select "a" , \'b\' /* c */ from $q$x$q$ -- d', 'postgres');
    expect(tokens.map((t) => [t.kind, t.text])).toEqual([
      ['word', 'select'],
      ['quoted-identifier', '"a"'],
      ['punct', ','],
      ['string', "'b'"],
      ['word', 'from'],
      ['string', '$q$x$q$'],
    ]);
    expect(tokens[1]).toMatchObject({ start: 7, end: 10 });
  });
});

describe('queryHash', () => {
  it('is stable and ignores surrounding whitespace and trailing semicolons', () => {
    expect(queryHash('select 1')).toMatch(/^[0-9a-f]{64}$/);
    expect(queryHash('  select 1 ;\n')).toBe(queryHash('select 1'));
    expect(queryHash('select 2')).not.toBe(queryHash('select 1'));
  });
});

describe('assertSafeModelSql on arbitrary input (property)', () => {
  const pieces = fc.constantFrom(
    'select',
    ' ',
    '1',
    ';',
    "'",
    '"',
    '`',
    '--',
    '\n',
    '/*',
    '*/',
    '#',
    '$$',
    '$a$',
    'E',
    '\\',
    '(',
    ')',
    'drop',
    'table',
    't',
    'into',
    'for',
    'update',
    'with',
    'x',
    'as',
    'delete',
    ',',
    '/*!',
    '\r',
    '\u00a0',
    '\ufeff',
    '\x7f',
    '\x01',
    'U&"x"',
  );
  it('either rejects with UNSAFE_SQL or returns one statement with no `;` outside literals', () => {
    fc.assert(
      fc.property(
        fc.array(pieces, { maxLength: 25 }),
        fc.constantFrom('postgres', 'mysql'),
        (parts, engine) => {
          const sql = `select ${parts.join('')}`;
          let normalized: string;
          try {
            normalized = assertSafeModelSql(sql, engine);
          } catch (e) {
            expect(DomainError.is(e, ErrorCode.UnsafeSql)).toBe(true);
            return;
          }
          const tokens = tokenizeSql(normalized, engine);
          expect(tokens.some((t) => t.kind === 'punct' && t.text === ';')).toBe(false);
          expect(tokens[0].upper).toBe('SELECT');
          expect(tokens.map((t) => t.upper)).not.toContain('INTO');
          // writing keywords survive only as function names (`drop(`), which no statement can start with
          const bare = tokens
            .filter((t, k) => t.kind === 'word' && tokens[k + 1]?.text !== '(')
            .map((t) => t.upper);
          expect(bare).not.toContain('DROP');
          expect(bare).not.toContain('DELETE');
          // normalizing is idempotent
          expect(assertSafeModelSql(normalized, engine)).toBe(normalized);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
