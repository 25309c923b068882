import { createTestSourceDatabase, TestSourceDatabase } from '@model-persistence/testing';
import { openSourceDriver, SourceDriver } from '../src/index';

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/*
 * Change signatures against the real servers: equal while nothing changes; different after an insert, update,
 * delete or TRUNCATE of a table the model reads, directly or through a view; untouched by writes to other
 * tables; "cannot tell" for volatile functions; a refresh_key's result is the signature.
 * A write is read after the settle time (PostgreSQL reports table counters up to a second after a commit;
 * MariaDB's UPDATE_TIME has whole seconds and a table changed in the last second is "cannot tell").
 */
describe.each(['postgres', 'mysql'] as const)('input signatures on %s', (engine) => {
  let db: TestSourceDatabase;
  let driver: SourceDriver;
  const sign = async (sql: string, refreshKeySql?: string) =>
    (await driver.readInputSignature!({ sql, statementTimeoutMs: 10_000, refreshKeySql })).signature;
  const settle = () => sleep(engine === 'postgres' ? 1_100 : 2_100);

  beforeAll(async () => {
    db = await createTestSourceDatabase(engine, `sig${engine}`);
    await db.query('create table s1 (id int primary key, v int)');
    await db.query('create table s2 (id int primary key, v int)');
    await db.query('insert into s1 (id, v) values (1, 1), (2, 2), (3, 3)');
    await db.query('insert into s2 (id, v) values (1, 1)');
    await db.query('create view vs1 as select id, v from s1 where v > 1');
    driver = openSourceDriver(db.connection);
    await settle();
  });
  afterAll(async () => {
    await driver?.close();
    await db?.drop();
  });

  it.each([
    ['insert', 'insert into s1 (id, v) values (10, 10)'],
    ['update', 'update s1 set v = v + 1 where id = 1'],
    ['delete', 'delete from s1 where id = 2'],
    ['truncate', 'truncate table s1'],
  ])(
    'changes after an %s of a table read directly or through a view, not after writes elsewhere',
    async (_, write) => {
      const direct = await sign('select id, v from s1');
      const view = await sign('select * from vs1 x');
      const other = await sign('select * from s2');
      expect(direct).toEqual(expect.any(String));
      expect(view).toEqual(expect.any(String));
      expect(await sign('select id, v from s1')).toBe(direct);
      await db.query(write);
      await settle();
      expect(await sign('select id, v from s1')).not.toBe(direct);
      expect(await sign('select * from vs1 x')).not.toBe(view);
      expect(await sign('select * from s2')).toBe(other);
      if (write.startsWith('truncate')) {
        // MariaDB: a truncated table has no UPDATE_TIME until its next write
        await db.query('insert into s1 (id, v) values (1, 1), (2, 2), (3, 3)');
        await settle();
      }
    },
  );

  it('cannot tell for functions whose result changes without any table changing', async () => {
    expect(await sign(engine === 'postgres' ? 'select now() as t' : 'select now() as t')).toBeNull();
    expect(
      await sign(
        'select id, random() as r from s1'.replace('random', engine === 'postgres' ? 'random' : 'rand'),
      ),
    ).toBeNull();
    expect(await sign('select current_timestamp as t from s1')).toBeNull();
  });

  // PostgreSQL sends the names it found as escaped literals (the statistics query shares its message with COMMIT);
  // InnoDB's dictionary keeps such a name encoded (`it@0027s…`), which is where its table id is read.
  it('reads tables whose names need quoting and escaping', async () => {
    const odd = engine === 'postgres' ? '"it\'s a \\ table"' : '`it\'s a \\ table`';
    await db.query(`create table ${odd} (id int primary key)`);
    await db.query(`insert into ${odd} (id) values (1)`);
    await settle();
    const before = await sign(`select id from ${odd}`);
    expect(before).toEqual(expect.any(String));
    expect(await sign(`select id, abs(id) as a from ${odd}`)).toEqual(expect.any(String));
    await db.query(`insert into ${odd} (id) values (2)`);
    await settle();
    const inserted = await sign(`select id from ${odd}`);
    expect(inserted).toEqual(expect.any(String));
    expect(inserted).not.toBe(before);
    // MariaDB sees a TRUNCATE only by the InnoDB table id, read under the encoded name
    await db.query(`truncate table ${odd}`);
    await settle();
    expect(await sign(`select id from ${odd}`)).not.toBe(inserted);
  });

  it("a refresh key's result is the signature", async () => {
    const key = 'select max(id) as m from s2';
    const before = await sign('select * from s1', key);
    expect(await sign('select * from s1', key)).toBe(before);
    await db.query('insert into s2 (id, v) values (50, 1)');
    expect(await sign('select * from s1', key)).not.toBe(before);
  });
});
