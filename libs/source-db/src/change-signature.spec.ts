import { calledNames, readMysqlPlan, readPostgresPlan } from './change-signature';

describe('change signature helpers', () => {
  it('reads the relations and expressions of a PostgreSQL plan, nested plans included', () => {
    const plan = [
      {
        Plan: {
          'Node Type': 'Hash Join',
          'Hash Cond': '(a.id = b.id)',
          Output: ['a.id', 'upper(b.v)'],
          Plans: [
            { 'Node Type': 'Seq Scan', 'Relation Name': 'orders', Schema: 'public', Alias: 'a' },
            {
              'Node Type': 'Hash',
              Plans: [{ 'Node Type': 'Index Scan', 'Relation Name': 'items', Schema: 'sales' }],
            },
          ],
        },
      },
    ];
    const r = readPostgresPlan(plan);
    expect(r.uncertain).toBeUndefined();
    expect(r.relations).toEqual([
      { schema: 'public', name: 'orders' },
      { schema: 'sales', name: 'items' },
    ]);
    expect(r.expressions).toEqual(['a.id', 'upper(b.v)', '(a.id = b.id)']);
  });

  it.each([
    ['Foreign Scan', {}],
    ['Function Scan', {}],
    ['Sample Scan', {}],
    ['Append', { 'Subplans Removed': 2 }],
  ])('a PostgreSQL plan with a %s cannot be signed', (type, extra) => {
    const r = readPostgresPlan([
      { Plan: { 'Node Type': 'Result', Plans: [{ 'Node Type': type, ...extra }] } },
    ]);
    expect(r.uncertain).toBeDefined();
  });

  it('an unreadable plan cannot be signed', () => {
    expect(readPostgresPlan(null).uncertain).toBeDefined();
    expect(readMysqlPlan('x').uncertain).toBeDefined();
  });

  it("reads a MariaDB plan's table names, skipping the optimizer's own (<derived2> …)", () => {
    const r = readMysqlPlan({
      query_block: {
        nested_loop: [
          { table: { table_name: 'a', attached_condition: 'a.id = 1' } },
          {
            table: {
              table_name: '<derived2>',
              materialized: { query_block: { table: { table_name: 'b' } } },
            },
          },
        ],
      },
    });
    expect(r.relations.map((x) => x.name)).toEqual(['a', 'b']);
    expect(r.expressions).toEqual(['a.id = 1']);
  });

  it('finds calls, value keywords and variables', () => {
    expect(calledNames('select count(*), upper(x) from t', 'postgres').calls).toEqual(['count', 'upper']);
    expect(calledNames('select current_timestamp', 'postgres').uncertain).toMatch(/CURRENT_TIMESTAMP/);
    expect(calledNames('select t.current_date from t', 'postgres').uncertain).toBeUndefined();
    expect(calledNames('select * from t', 'postgres', ['now()']).calls).toEqual(['now']);
    expect(calledNames('select now() from t', 'mysql').uncertain).toMatch(/NOW/);
    expect(calledNames('select RAND() from t', 'mysql').uncertain).toMatch(/RAND/);
    expect(calledNames('select @x from t', 'mysql').uncertain).toMatch(/variable/);
    expect(calledNames("select '@x' from t", 'mysql').uncertain).toBeUndefined();
    expect(calledNames('select id from `db`.`orders` o', 'mysql')).toMatchObject({
      words: expect.arrayContaining(['db', 'orders', 'o']) as unknown,
      qualifiers: ['db'],
    });
  });
});
