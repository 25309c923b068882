import { randomBytes } from 'node:crypto';
import {
  createTestSourceDatabase,
  openTestSourceSession,
  TestSourceDatabase,
  TestSourceSession,
} from '@model-persistence/testing';
import { classifySourceError, SourceEngine, SourceError } from '../src/index';

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

/** What differs between the engines: statements and native error codes. The scenarios do not. */
interface Dialect {
  label: string;
  createTable: string;
  /** The driver's native code: pg's SQLSTATE, mysql2's errno. */
  native(e: unknown): string | number;
  lockTimeout: { setup: string; code: string | number };
  deadlock: string | number;
  /** A statement that runs into the statement time limit (after `setup`, on the same connection). */
  timeout: { setup?: string; sql: string; code: string | number; message: RegExp };
  syntaxDetails: Record<string, unknown>;
  /** Creates a login that may not connect to the test database yet; returns its password. */
  createLogin(db: TestSourceDatabase, login: string): Promise<string | null>;
  /** Lets the login connect and read column id of t (not v). */
  grantReadId(db: TestSourceDatabase, login: string): Promise<void>;
  dropLogin(db: TestSourceDatabase, login: string): Promise<void>;
  /** Native codes of: creating a table, reading all columns when only some are granted. */
  denied: { createTable: string | number; readColumn: string | number };
}

const DIALECTS: Record<SourceEngine, Dialect> = {
  postgres: {
    label: 'pgerrors',
    createTable: 'create table t (id int primary key, v int)',
    native: (e) => (e as { code: string }).code,
    lockTimeout: { setup: "set lock_timeout = '100ms'", code: '55P03' },
    deadlock: '40P01',
    timeout: {
      setup: 'set statement_timeout = 100',
      sql: 'select pg_sleep(2)',
      code: '57014',
      message: /statement timeout/,
    },
    syntaxDetails: { sqlState: '42601' },
    async createLogin(db, login) {
      await db.query(`create role ${login} login`);
      await db.query(`revoke connect on database "${db.name}" from public`);
      return null;
    },
    async grantReadId(db, login) {
      await db.query(`grant connect on database "${db.name}" to ${login}`);
      await db.query(`grant select (id) on t to ${login}`);
    },
    async dropLogin(db, login) {
      await db.query(`drop owned by ${login}`).catch(() => undefined);
      await db.query(`drop role if exists ${login}`);
    },
    denied: { createTable: '42501', readColumn: '42501' },
  },
  mysql: {
    label: 'myerrors',
    createTable: 'create table t (id int primary key, v int) engine=InnoDB',
    native: (e) => (e as { errno: number }).errno,
    lockTimeout: { setup: 'set session innodb_lock_wait_timeout = 1', code: 1205 },
    deadlock: 1213,
    timeout: {
      sql: 'set statement max_statement_time = 0.2 for select count(*) from t where sleep(0.5) = 0',
      code: 1969,
      message: /max_statement_time exceeded/,
    },
    syntaxDetails: { errno: 1064 },
    async createLogin(db, login) {
      const password = randomBytes(8).toString('hex');
      await db.query(`create user '${login}'@'%' identified by '${password}'`);
      return password;
    },
    async grantReadId(db, login) {
      await db.query(`grant select (id) on \`${db.name}\`.t to '${login}'@'%'`);
    },
    async dropLogin(db, login) {
      await db.query(`drop user if exists '${login}'@'%'`);
    },
    denied: { createTable: 1142, readColumn: 1142 },
  },
};

describe.each([
  ['PostgreSQL', 'postgres'],
  ['MariaDB', 'mysql'],
] as const)('classifySourceError with errors produced by real %s', (_title, engine) => {
  const d = DIALECTS[engine];
  let db: TestSourceDatabase;
  const sessions: TestSourceSession[] = [];
  const login = `mp_cls_${randomBytes(4).toString('hex')}`;
  const connect = async (credentials: { username?: string; password?: string | null } = {}) => {
    const s = await openTestSourceSession({ ...db.connection, ...credentials });
    sessions.push(s);
    return s;
  };
  const classify = (e: unknown): SourceError => classifySourceError(e, engine);

  beforeAll(async () => {
    db = await createTestSourceDatabase(engine, d.label);
    await db.query(d.createTable);
    await db.query('insert into t values (1, 0), (2, 0)');
  });
  afterAll(async () => {
    for (const s of sessions) await s.end().catch(() => undefined);
    // logins are server-wide: drop it while its database still exists to connect to
    await d.dropLogin(db, login).catch(() => undefined);
    await db?.drop();
  });

  it('connection refused → connection', async () => {
    const e = await failure(() => openTestSourceSession({ ...db.connection, port: 1 }));
    expect(classify(e)).toMatchObject({ errorClass: 'connection', code: 'SOURCE_CONNECTION' });
  });

  it('lock timeout against a locked row → lock', async () => {
    const holder = await connect();
    const waiter = await connect();
    await holder.query('start transaction');
    await holder.query('select * from t where id = 1 for update');
    await waiter.query(d.lockTimeout.setup);
    const e = await failure(() => waiter.query('update t set v = 1 where id = 1'));
    await holder.query('rollback');
    expect(d.native(e)).toBe(d.lockTimeout.code);
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
    expect(d.native(rejected[0].reason)).toBe(d.deadlock);
    expect(classify(rejected[0].reason)).toMatchObject({ errorClass: 'lock', code: 'SOURCE_LOCK' });
  });

  it('permission denied for a restricted login → permission', async () => {
    const password = await d.createLogin(db, login);
    const loginDenied = await failure(() => connect({ username: login, password })); // no access to the db
    expect(classify(loginDenied)).toMatchObject({ errorClass: 'permission', code: 'SOURCE_PERMISSION' });
    await d.grantReadId(db, login);
    const restricted = await connect({ username: login, password });
    const e = await failure(() => restricted.query('create table x (a int)'));
    expect(d.native(e)).toBe(d.denied.createTable);
    expect(classify(e)).toMatchObject({ errorClass: 'permission', code: 'SOURCE_PERMISSION' });
    const all = await failure(() => restricted.query('select * from t'));
    expect(d.native(all)).toBe(d.denied.readColumn);
    expect(classify(all)).toMatchObject({ errorClass: 'permission', code: 'SOURCE_PERMISSION' });
    const column = await failure(() => restricted.query('select v from t'));
    expect(classify(column).errorClass).toBe('permission');
  });

  it('statement timeout → timeout', async () => {
    const c = await connect();
    if (d.timeout.setup) await c.query(d.timeout.setup);
    const e = await failure(() => c.query(d.timeout.sql));
    expect(d.native(e)).toBe(d.timeout.code);
    expect(classify(e)).toMatchObject({ errorClass: 'timeout', code: 'SOURCE_TIMEOUT' });
    expect(classify(e).message).toMatch(d.timeout.message);
  });

  it('syntax error and missing table → query', async () => {
    const c = await connect();
    const syntax = await failure(() => c.query('selec 1'));
    expect(classify(syntax)).toMatchObject({
      errorClass: 'query',
      code: 'SOURCE_QUERY',
      details: d.syntaxDetails,
    });
    const missing = await failure(() => c.query('select * from no_such_table'));
    expect(classify(missing).errorClass).toBe('query');
  });
});
