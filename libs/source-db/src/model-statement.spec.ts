import {
  MODEL_DERIVED_TABLE_ALIAS,
  MYSQL_SESSION_SQL_MODE,
  mysqlCreateTableAsModel,
  pinMysqlSession,
  postgresCreateTableAsModel,
} from './model-statement';

describe('the build statement (the model as a derived table)', () => {
  it.each([
    ['postgres', postgresCreateTableAsModel('"s"."mp_tmp_x"', 'select 1 as a -- trailing')],
    ['mysql', mysqlCreateTableAsModel('`s`.`mp_tmp_x`', 'select 1 as a # trailing')],
  ])(
    '%s: the model sits alone on its lines, so a trailing comment cannot swallow the closing parenthesis',
    (_, sql) => {
      const lines = sql.split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^CREATE TABLE \S+ AS SELECT \* FROM \($/);
      expect(lines[2]).toBe(`) AS ${MODEL_DERIVED_TABLE_ALIAS}`);
    },
  );

  it('pins a sql_mode without the modes that change how strings and names lex', () => {
    for (const mode of [
      'ANSI_QUOTES',
      'NO_BACKSLASH_ESCAPES',
      'PIPES_AS_CONCAT',
      'ANSI',
      'ORACLE',
      'MSSQL',
      'DB2',
    ])
      expect(MYSQL_SESSION_SQL_MODE.split(',')).not.toContain(mode);
    const sent: string[] = [];
    let destroyed = false;
    const connection = {
      query: (sql: string, cb: (e: Error | null) => void) => {
        sent.push(sql);
        cb(new Error('refused'));
      },
      destroy: () => (destroyed = true),
    };
    pinMysqlSession(connection);
    expect(sent).toEqual([`SET SESSION sql_mode = '${MYSQL_SESSION_SQL_MODE}'`]);
    // a connection whose mode could not be pinned is not used
    expect(destroyed).toBe(true);
  });
});
