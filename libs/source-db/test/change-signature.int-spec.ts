import {
  createTestSourceDatabase,
  openTestSourceSession,
  TestSourceDatabase,
} from '@model-persistence/testing';
import { Client } from 'pg';
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
    const odd = engine === 'postgres' ? '"it\'s a \\ table"' : "`it's a \\ table`";
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

  /*
   * PostgreSQL reuses what a model's plan read while its catalog fingerprint is the same (no EXPLAIN per reading):
   * each catalog change below alters what the model reads without any write to a table it read before, so only a
   * relearnt plan sees it. A reuse that missed it would keep the old signature (a stale cache).
   */
  // PostgreSQL only: MariaDB reads its plan's tables every time (nothing is remembered)
  if (engine === 'postgres')
    describe('after catalog changes (plans remembered)', () => {
      const own = 'mp_own_cache';
      const signOwn = async (sql: string) =>
        (await driver.readInputSignature!({ sql, statementTimeoutMs: 10_000, ownSchema: own })).signature;
      /** Reads twice (the second reading reuses the plan) and checks both agree. */
      const warm = async (sql: string) => {
        const first = await signOwn(sql);
        expect(first).toEqual(expect.any(String));
        expect(await signOwn(sql)).toBe(first);
        return first;
      };

      beforeAll(async () => {
        await db.query(`create schema ${own}`);
        await db.query('create table c1 (id int primary key, v int)');
        await db.query('create table c2 (id int primary key, v int)');
        await db.query('insert into c1 values (1, 1), (2, 2)');
        await db.query('insert into c2 values (1, 10), (2, 20)');
        await db.query('create view vc as select id, v from c1');
        await settle();
      });

      it('reuses a plan reading while the catalog is as it was, whatever the cache schema goes through', async () => {
        const sql = 'select id, v from c1 where v > 0';
        const before = await warm(sql);
        const query = jest.spyOn(Client.prototype, 'query');
        const explains = () =>
          query.mock.calls.filter(([arg]) => {
            const text = typeof arg === 'string' ? arg : (arg as { text?: string })?.text;
            return typeof text === 'string' && text.startsWith('EXPLAIN');
          }).length;
        try {
          expect(await signOwn(sql)).toBe(before);
          // what every build does in the cache schema
          await db.query(`create table ${own}.b1 as select 1 as x`);
          await db.query(`create index b1_x on ${own}.b1 (x)`);
          await db.query(`alter table ${own}.b1 rename to b2`);
          await db.query(`drop table ${own}.b2`);
          expect(await signOwn(sql)).toBe(before);
          expect(explains()).toBe(0);
          // any other DDL: the plan is learnt again, and the signature changes (the catalog is part of it: see below)
          await db.query('create table c9 (id int)');
          const after = await signOwn(sql);
          expect(after).not.toBe(before);
          expect(explains()).toBe(1);
          expect(await signOwn(sql)).toBe(after);
          expect(explains()).toBe(1);
        } finally {
          query.mockRestore();
        }
      });

      it('a role that may not read a catalog of the fingerprint still gets signatures (every plan read again)', async () => {
        const role = `mp_sig_${Math.random().toString(36).slice(2, 8)}`;
        await db.query(`create role ${role} login`);
        const restricted = openSourceDriver({ ...db.connection, username: role, password: null });
        try {
          await db.query(`grant select on c1 to ${role}`);
          await db.query('revoke select on pg_catalog.pg_policy from public'); // this database only
          const read = async () =>
            (
              await restricted.readInputSignature!({
                sql: 'select id, v from c1',
                statementTimeoutMs: 10_000,
                ownSchema: own,
              })
            ).signature;
          const before = await read();
          expect(before).toEqual(expect.any(String));
          expect(await read()).toBe(before);
          await db.query('insert into c1 values (7, 7)');
          await settle();
          expect(await read()).not.toBe(before);
        } finally {
          await restricted.close();
          await db.query('grant select on pg_catalog.pg_policy to public');
          await db.query(`revoke all on c1 from ${role}`);
          await db.query(`drop role ${role}`);
        }
      });

      it('a view redefined to read another table', async () => {
        const before = await warm('select id, v from vc');
        await db.query('create or replace view vc as select id, v from c2');
        expect(await signOwn('select id, v from vc')).not.toBe(before);
      });

      // the catalog is part of the signature: these change what a model returns while its tables' rows stay the same
      it('a view redefined over the same table', async () => {
        await db.query('create view vs as select id, v from c1');
        const before = await warm('select id, v from vs');
        await db.query('create or replace view vs as select id, v * 2 as v from c1');
        expect(await signOwn('select id, v from vs')).not.toBe(before);
      });

      it('a column added under select *', async () => {
        await db.query('create table c4 (id int)');
        await db.query('insert into c4 values (1)');
        await settle();
        const before = await warm('select * from c4');
        await db.query('alter table c4 add column w int default 7');
        expect(await signOwn('select * from c4')).not.toBe(before);
      });

      it("another session's temporary table changes nothing (an incremental merge makes one)", async () => {
        const before = await warm('select id, v from c1');
        const other = await openTestSourceSession(db.connection);
        try {
          await other.query('create temp table delta (id int primary key, v int)');
          expect(await signOwn('select id, v from c1')).toBe(before);
        } finally {
          await other.end();
        }
      });

      it('a table dropped and recreated under the same name with the same rows', async () => {
        await db.query('create table c3 (id int)');
        await db.query('insert into c3 values (1)');
        await settle();
        const before = await warm('select id from c3');
        await db.query('drop table c3');
        await db.query('create table c3 (id int)');
        await db.query('insert into c3 values (1)');
        await settle();
        expect(await signOwn('select id from c3')).not.toBe(before);
      });

      it('a new table earlier in the search path that the name now means', async () => {
        const before = await warm('select id, v from c2');
        await db.query('create schema if not exists postgres'); // "$user" comes before public
        await db.query('create table postgres.c2 (id int, v int)');
        try {
          expect(await signOwn('select id, v from c2')).not.toBe(before);
        } finally {
          await db.query('drop schema postgres cascade');
        }
      });

      it('a unique key dropped, so a left join the planner removed reads its table again', async () => {
        const sql = 'select a.id, a.v from c1 a left join c2 b on a.id = b.id';
        const before = await warm(sql);
        await db.query('alter table c2 drop constraint c2_pkey');
        await db.query('insert into c2 values (1, 11)'); // the join now doubles row 1
        await settle();
        expect(await signOwn(sql)).not.toBe(before);
      });

      it('a partition added', async () => {
        await db.query('create table pt (id int, v int) partition by range (id)');
        await db.query('create table pt1 partition of pt for values from (0) to (100)');
        await db.query('insert into pt values (1, 1)');
        await settle();
        const before = await warm('select id, v from pt');
        await db.query('create table pt2 (id int, v int)');
        await db.query('insert into pt2 values (150, 1)');
        await settle();
        const detached = await warm('select id, v from pt');
        await db.query('alter table pt attach partition pt2 for values from (100) to (200)');
        expect(await signOwn('select id, v from pt')).not.toBe(detached);
        expect(detached).not.toBe(before);
      });

      it('a view over a table of the cache schema, whose catalog churn the fingerprint leaves out', async () => {
        await db.query(`create table ${own}.u (id int primary key)`);
        await db.query(`insert into ${own}.u values (1), (2)`);
        await db.query(`create view vu as select a.id, a.v from c1 a left join ${own}.u b on a.id = b.id`);
        await settle();
        const before = await warm('select id, v from vu');
        await db.query(`alter table ${own}.u drop constraint u_pkey`);
        await db.query(`insert into ${own}.u values (1)`);
        await settle();
        expect(await signOwn('select id, v from vu')).not.toBe(before);
      });
    });

  it('changes when a view is redefined over the same table, or a column added under select *', async () => {
    await db.query('create table d1 (id int primary key, v int)');
    await db.query('insert into d1 values (1, 1)');
    await db.query('create view vd as select id, v from d1');
    await settle();
    const view = await sign('select id, v from vd');
    expect(view).toEqual(expect.any(String));
    await db.query('create or replace view vd as select id, v * 2 as v from d1');
    const redefined = await sign('select id, v from vd');
    expect(redefined).toEqual(expect.any(String));
    expect(redefined).not.toBe(view);
    const star = await sign('select * from d1');
    expect(star).toEqual(expect.any(String));
    await db.query('alter table d1 add column w int default 7');
    await settle();
    const added = await sign('select * from d1');
    expect(added).not.toBe(star);
  });

  it("a refresh key's result is the signature", async () => {
    const key = 'select max(id) as m from s2';
    const before = await sign('select * from s1', key);
    expect(await sign('select * from s1', key)).toBe(before);
    await db.query('insert into s2 (id, v) values (50, 1)');
    expect(await sign('select * from s1', key)).not.toBe(before);
  });
});
