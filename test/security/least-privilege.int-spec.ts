/*
 * Least privilege, on the real PostgreSQL and MariaDB: a dedicated user created with EXACTLY the statements of
 * docs/SECURITY.md (read from the file) refreshes models end to end through the refresher's driver path, the
 * can-persist check reports no privilege warning for it and one for the administrator, and the user cannot
 * change a source table.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import { SecretBox, SourceDatabaseEntity } from '@model-persistence/database';
import { openSourceDriver, SourceConnectionInfo, SourceDriver } from '@model-persistence/source-db';
import { createTestSourceDatabase, MYSQL_ADMIN, TestSourceDatabase } from '@model-persistence/testing';
// eslint-disable-next-line no-restricted-imports -- the refresher's own driver path (decrypt, open, reuse)
import { SourceDrivers } from '../../services/refresher/src/source-drivers.service';

type Engine = 'postgres' | 'mysql';

/** The SQL block that follows `<!-- grants:<name> -->` in docs/SECURITY.md, as single statements. */
function documentedGrants(name: 'postgres' | 'mariadb'): string[] {
  const doc = readFileSync(join(__dirname, '../../docs/SECURITY.md'), 'utf8');
  const at = doc.indexOf(`<!-- grants:${name} -->`);
  expect(at).toBeGreaterThan(0);
  const block = /```sql\n([\s\S]*?)```/.exec(doc.slice(at));
  expect(block).not.toBeNull();
  return block![1]
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function fill(statement: string, values: Record<string, string>): string {
  return statement.replace(/<([a-z_]+)>/g, (m, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`docs/SECURITY.md uses ${m}, which the test does not know`);
    return v;
  });
}

const SECRETS_KEY = randomBytes(32).toString('hex');
const box = new SecretBox(SECRETS_KEY);

describe.each<Engine>(['postgres', 'mysql'])('a dedicated %s user per docs/SECURITY.md', (engine) => {
  let src: TestSourceDatabase;
  let cacheSchema: string;
  const user = `mp_lp_${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const drivers: SourceDriver[] = [];
  let refresher: SourceDrivers;

  /** Runs SQL as the dedicated user on a plain connection (not through our drivers). */
  async function asUser(sql: string): Promise<void> {
    if (engine === 'postgres') {
      const c = new Client({ ...pgTarget(), user, password });
      await c.connect();
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    } else {
      const c = await createConnection({ ...MYSQL_ADMIN, user, password, database: src.name });
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    }
  }
  const pgTarget = () => ({
    host: src.connection.host,
    port: src.connection.port,
    database: src.connection.dbName,
  });

  beforeAll(async () => {
    src = await createTestSourceDatabase(engine, 'leastpriv');
    // on MySQL the cache "schema" is a database: named `<source>_…` so drop() removes it
    cacheSchema = `${src.name}_cache`;
    await src.query('create table orders (id int primary key, amount int)');
    await src.query('insert into orders values (1, 10), (2, 20), (3, 30)');
    const values = {
      user,
      password,
      database: engine === 'postgres' ? `"${src.name}"` : src.name,
      source_schema: 'public',
      cache_schema: cacheSchema,
    };
    for (const statement of documentedGrants(engine === 'postgres' ? 'postgres' : 'mariadb')) {
      await src.query(fill(statement, values));
    }
    refresher = new SourceDrivers(
      { openSourceDriver: (conn: SourceConnectionInfo) => openSourceDriver(conn) } as never,
      { secretsKey: SECRETS_KEY, cache: { schemaPrefix: 'mp' } },
      null as never,
    );
  }, 60_000);

  afterAll(async () => {
    for (const d of drivers) await d.close().catch(() => undefined);
    await refresher?.onApplicationShutdown();
    await src?.drop();
    if (engine === 'postgres') {
      const c = new Client({
        host: src.connection.host,
        port: src.connection.port,
        user: 'postgres',
        database: 'postgres',
      });
      await c.connect();
      await c.query(`drop role if exists ${user}`).finally(() => c.end());
    } else {
      const c = await createConnection(MYSQL_ADMIN);
      await c.query(`drop user if exists '${user}'@'%'`).finally(() => c.end());
    }
  }, 60_000);

  /** The database row the refresher would read, with the dedicated user's password encrypted. */
  function entity(id: number): SourceDatabaseEntity {
    return {
      id,
      name: 'least privilege',
      engine,
      host: src.connection.host,
      port: src.connection.port,
      dbName: src.connection.dbName,
      username: user,
      passwordEncrypted: box.encrypt(password),
      statementTimeoutMs: 60_000,
      tlsMode: 'disable',
      tlsCaCert: null,
    } as SourceDatabaseEntity;
  }

  const ctx = () => ({ schemaName: cacheSchema, instanceUuid: 'lp-instance', settingsVersion: '1' });

  it('passes the can-persist check with no privilege warning', async () => {
    const d = refresher.forDatabase(entity(1));
    const result = await d.checkCanPersist(ctx());
    expect(result).toEqual({ ok: true, privilegeWarning: null });
  });

  it('refreshes models end to end through the refresher driver path (build, swap, drop)', async () => {
    const d = refresher.forDatabase(entity(1));
    const first = await d.refreshTable({
      schemaName: cacheSchema,
      tableName: 'model_1_orders',
      sql: 'select id, amount from orders',
      statementTimeoutMs: 30_000,
    });
    expect(first.rows).toBe(3);
    await src.query('insert into orders values (4, 40)');
    // a second refresh takes the swap path (old table → backup → dropped)
    const second = await d.refreshTable({
      schemaName: cacheSchema,
      tableName: 'model_1_orders',
      sql: 'select id, amount from orders where amount > 15',
      statementTimeoutMs: 30_000,
    });
    expect(second.rows).toBe(3);
    expect(await d.tableExists(cacheSchema, 'model_1_orders')).toBe(true);
    expect(await d.dropOrphanTempTables(cacheSchema)).toBe(0);
    await d.dropTable(cacheSchema, 'model_1_orders');
    expect(await d.tableExists(cacheSchema, 'model_1_orders')).toBe(false);
  });

  it('cannot change a source table', async () => {
    for (const sql of [
      'delete from orders',
      'update orders set amount = 0',
      'insert into orders values (99, 99)',
      'drop table orders',
      'alter table orders add column x int',
      engine === 'postgres' ? 'truncate orders' : 'truncate table orders',
    ]) {
      await expect(asUser(sql)).rejects.toThrow(/denied|must be owner/i);
    }
    const rows = await src.query<{ n: string | number }>('select count(*) as n from orders');
    expect(Number(rows[0].n)).toBe(4);
  });

  it('the administrator gets a warning naming server-wide rights; a user with one extra grant gets that grant', async () => {
    const admin = openSourceDriver(src.connection);
    drivers.push(admin);
    const result = await admin.checkCanPersist(ctx());
    expect(result.ok).toBe(true);
    const warning = result.ok ? result.privilegeWarning : null;
    expect(warning).not.toBeNull();
    expect(warning!.count).toBeGreaterThan(0);
    expect(warning!.examples.length).toBeGreaterThan(0);
    expect(warning!.examples.length).toBeLessThanOrEqual(5);
    expect(warning!.examples[0]).toEqual(
      engine === 'postgres'
        ? { privilege: 'SUPERUSER', on: 'the server' }
        : expect.objectContaining({ on: 'the server (*.*)' }),
    );
    expect(warning!.message).toContain('docs/SECURITY.md');

    await src.query(
      engine === 'postgres'
        ? `grant insert on orders to ${user}`
        : `grant insert on \`${src.name}\`.orders to '${user}'@'%'`,
    );
    try {
      const d = refresher.forDatabase({ ...entity(2), name: 'with insert' });
      const widened = await d.checkCanPersist(ctx());
      const w = widened.ok ? widened.privilegeWarning : undefined;
      expect(w).toMatchObject({
        count: 1,
        examples: [
          { privilege: 'INSERT', on: engine === 'postgres' ? 'public.orders' : `${src.name}.orders` },
        ],
      });
    } finally {
      await src.query(
        engine === 'postgres'
          ? `revoke insert on orders from ${user}`
          : `revoke insert on \`${src.name}\`.orders from '${user}'@'%'`,
      );
    }
  });
});
