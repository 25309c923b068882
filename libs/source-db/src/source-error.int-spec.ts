import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Connection, createConnection } from 'mysql2/promise';
import { createTestSourceDatabase, MYSQL_ADMIN, TestSourceDatabase } from '@model-persistence/testing';
import { classifySourceError, SourceError } from './index';

jest.setTimeout(60_000);

/** Runs `fn`, expecting it to fail; returns what it threw. */
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

describe('classifySourceError with errors produced by real PostgreSQL', () => {
  let db: TestSourceDatabase;
  const clients: Client[] = [];
  const role = `mp_cls_${randomBytes(4).toString('hex')}`;
  const client = async (user = 'postgres') => {
    const c = new Client({ host: db.connection.host, port: db.connection.port, database: db.name, user });
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  };
  const classify = (e: unknown): SourceError => classifySourceError(e, 'postgres');

  beforeAll(async () => {
    db = await createTestSourceDatabase('postgres', 'pgerrors');
    await db.query('create table t (id int primary key, v int)');
    await db.query('insert into t values (1, 0), (2, 0)');
  });
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    // roles are cluster-wide: drop it while its database still exists to connect to
    await db?.query(`drop role if exists ${role}`).catch(() => undefined);
    await db?.drop();
  });

  it('connection refused → connection', async () => {
    const c = new Client({ host: '127.0.0.1', port: 1, user: 'postgres', connectionTimeoutMillis: 2000 });
    const e = await failure(() => c.connect());
    expect(classify(e)).toMatchObject({ errorClass: 'connection', code: 'SOURCE_CONNECTION' });
  });

  it('lock timeout against a locked row → lock', async () => {
    const holder = await client();
    const waiter = await client();
    await holder.query('begin');
    await holder.query('select * from t where id = 1 for update');
    await waiter.query("set lock_timeout = '100ms'");
    const e = await failure(() => waiter.query('update t set v = 1 where id = 1'));
    await holder.query('rollback');
    expect((e as { code: string }).code).toBe('55P03');
    expect(classify(e)).toMatchObject({ errorClass: 'lock', code: 'SOURCE_LOCK' });
  });

  it('deadlock → lock', async () => {
    const a = await client();
    const b = await client();
    await a.query('begin');
    await b.query('begin');
    await a.query('update t set v = v + 1 where id = 1');
    await b.query('update t set v = v + 1 where id = 2');
    const results = await Promise.allSettled([
      a.query('update t set v = v + 1 where id = 2'),
      new Promise((r) => setTimeout(r, 100)).then(() => b.query('update t set v = v + 1 where id = 1')),
    ]);
    await a.query('rollback');
    await b.query('rollback');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect((rejected[0].reason as { code: string }).code).toBe('40P01');
    expect(classify(rejected[0].reason)).toMatchObject({ errorClass: 'lock', code: 'SOURCE_LOCK' });
  });

  it('permission denied for a restricted role → permission', async () => {
    await db.query(`create role ${role} login`);
    const restricted = await client(role);
    const e = await failure(() => restricted.query('select * from t'));
    expect((e as { code: string }).code).toBe('42501');
    expect(classify(e)).toMatchObject({ errorClass: 'permission', code: 'SOURCE_PERMISSION' });
    await restricted.end();
  });

  it('statement timeout → timeout', async () => {
    const c = await client();
    await c.query('set statement_timeout = 100');
    const e = await failure(() => c.query('select pg_sleep(2)'));
    expect(classify(e)).toMatchObject({ errorClass: 'timeout', code: 'SOURCE_TIMEOUT' });
    expect(classify(e).message).toMatch(/statement timeout/);
  });

  it('syntax error and missing table → query', async () => {
    const c = await client();
    const syntax = await failure(() => c.query('selec 1'));
    expect(classify(syntax)).toMatchObject({
      errorClass: 'query',
      code: 'SOURCE_QUERY',
      details: { sqlState: '42601' },
    });
    const missing = await failure(() => c.query('select * from no_such_table'));
    expect(classify(missing).errorClass).toBe('query');
  });
});

describe('classifySourceError with errors produced by real MariaDB', () => {
  let db: TestSourceDatabase;
  const conns: Connection[] = [];
  const user = `mp_cls_${randomBytes(4).toString('hex')}`;
  const connect = async (opts: Record<string, unknown> = {}) => {
    const c = await createConnection({ ...MYSQL_ADMIN, database: db.name, ...opts });
    c.on('error', () => undefined);
    conns.push(c);
    return c;
  };
  const classify = (e: unknown): SourceError => classifySourceError(e, 'mysql');

  beforeAll(async () => {
    db = await createTestSourceDatabase('mysql', 'myerrors');
    await db.query('create table t (id int primary key, v int) engine=InnoDB');
    await db.query('insert into t values (1, 0), (2, 0)');
  });
  afterAll(async () => {
    for (const c of conns) await c.end().catch(() => undefined);
    await db?.query(`drop user if exists '${user}'@'%'`).catch(() => undefined);
    await db?.drop();
  });

  it('connection refused → connection', async () => {
    const e = await failure(() =>
      createConnection({ host: '127.0.0.1', port: 1, user: 'root', connectTimeout: 2000 }),
    );
    expect(classify(e)).toMatchObject({ errorClass: 'connection', code: 'SOURCE_CONNECTION' });
  });

  it('lock wait timeout against a locked row → lock', async () => {
    const holder = await connect();
    const waiter = await connect();
    await holder.query('start transaction');
    await holder.query('select * from t where id = 1 for update');
    await waiter.query('set session innodb_lock_wait_timeout = 1');
    const e = await failure(() => waiter.query('update t set v = 1 where id = 1'));
    await holder.query('rollback');
    expect((e as { errno: number }).errno).toBe(1205);
    expect(classify(e)).toMatchObject({ errorClass: 'lock', code: 'SOURCE_LOCK' });
  });

  it('deadlock → lock', async () => {
    const a = await connect();
    const b = await connect();
    await a.query('start transaction');
    await b.query('start transaction');
    await a.query('update t set v = v + 1 where id = 1');
    await b.query('update t set v = v + 1 where id = 2');
    const results = await Promise.allSettled([
      a.query('update t set v = v + 1 where id = 2'),
      new Promise((r) => setTimeout(r, 100)).then(() => b.query('update t set v = v + 1 where id = 1')),
    ]);
    await a.query('rollback');
    await b.query('rollback');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect((rejected[0].reason as { errno: number }).errno).toBe(1213);
    expect(classify(rejected[0].reason)).toMatchObject({ errorClass: 'lock', code: 'SOURCE_LOCK' });
  });

  it('permission denied for a restricted user → permission', async () => {
    const password = randomBytes(8).toString('hex');
    await db.query(`create user '${user}'@'%' identified by '${password}'`);
    const loginDenied = await failure(() => connect({ user, password }));
    expect(classify(loginDenied)).toMatchObject({ errorClass: 'permission', code: 'SOURCE_PERMISSION' }); // no access to the db
    await db.query(`grant select (id) on \`${db.name}\`.t to '${user}'@'%'`);
    const restricted = await connect({ user, password });
    const e = await failure(() => restricted.query('create table x (a int)'));
    expect((e as { errno: number }).errno).toBe(1142);
    expect(classify(e)).toMatchObject({ errorClass: 'permission', code: 'SOURCE_PERMISSION' });
    const column = await failure(() => restricted.query('select v from t'));
    expect(classify(column).errorClass).toBe('permission');
  });

  it('max_statement_time → timeout', async () => {
    const c = await connect();
    const e = await failure(() =>
      c.query('set statement max_statement_time = 0.2 for select count(*) from t where sleep(0.5) = 0'),
    );
    expect((e as { errno: number }).errno).toBe(1969);
    expect(classify(e)).toMatchObject({ errorClass: 'timeout', code: 'SOURCE_TIMEOUT' });
  });

  it('syntax error and missing table → query', async () => {
    const c = await connect();
    const syntax = await failure(() => c.query('selec 1'));
    expect(classify(syntax)).toMatchObject({
      errorClass: 'query',
      code: 'SOURCE_QUERY',
      details: { errno: 1064 },
    });
    const missing = await failure(() => c.query('select * from no_such_table'));
    expect(classify(missing).errorClass).toBe('query');
  });
});
