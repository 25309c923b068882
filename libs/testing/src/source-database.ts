import type { SourceConnectionInfo } from '@model-persistence/source-db';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import { PG_ADMIN_URL } from './app-database';

export const MYSQL_ADMIN = {
  host: process.env.MYSQL_TEST_HOST ?? '127.0.0.1',
  port: Number(process.env.MYSQL_TEST_PORT ?? 3306),
  user: process.env.MYSQL_TEST_USER ?? 'root',
  password: process.env.MYSQL_TEST_PASSWORD || undefined,
};

/** Connection info of a test source database: the one SourceConnectionInfo of @model-persistence/source-db. */
export type TestSourceConnection = SourceConnectionInfo;

export interface TestSourceDatabase {
  name: string;
  connection: TestSourceConnection;
  /** Runs SQL as the admin user in this database (pg: $1 placeholders; mysql: ?). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/**
 * A fresh source database per test file (PostgreSQL database or MariaDB/MySQL database), so parallel test
 * runs never share cache schemas or tables. `drop()` removes it and everything in it; on MySQL, where a cache
 * schema is a database of its own, it also drops the databases named `<name>_…` (use `name` as the cache
 * schema prefix in tests).
 */
export async function createTestSourceDatabase(
  engine: 'postgres' | 'mysql',
  label = 'src',
): Promise<TestSourceDatabase> {
  const name = `mp_s_${label
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()
    .slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  if (engine === 'postgres') {
    const admin = new Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`create database "${name}"`).finally(() => admin.end());
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${name}`;
    return {
      name,
      connection: {
        engine,
        host: url.hostname,
        port: Number(url.port || 5432),
        dbName: name,
        username: decodeURIComponent(url.username) || 'postgres',
        password: url.password ? decodeURIComponent(url.password) : null,
        statementTimeoutMs: 60_000,
      },
      async query<T>(sql: string, params?: unknown[]) {
        const c = new Client({ connectionString: url.toString() });
        await c.connect();
        try {
          return (await c.query(sql, params)).rows as T[];
        } finally {
          await c.end();
        }
      },
      async drop() {
        const c = new Client({ connectionString: PG_ADMIN_URL });
        await c.connect();
        try {
          await c.query(`drop database if exists "${name}" with (force)`);
        } finally {
          await c.end();
        }
      },
    };
  }
  const admin = await createConnection(MYSQL_ADMIN);
  await admin.query(`create database \`${name}\``).finally(() => admin.end());
  return {
    name,
    connection: {
      engine,
      host: MYSQL_ADMIN.host,
      port: MYSQL_ADMIN.port,
      dbName: name,
      username: MYSQL_ADMIN.user,
      password: MYSQL_ADMIN.password ?? null,
      statementTimeoutMs: 60_000,
    },
    async query<T>(sql: string, params?: unknown[]) {
      const c = await createConnection({ ...MYSQL_ADMIN, database: name });
      try {
        const [rows] = await c.query(sql, params);
        return (Array.isArray(rows) ? rows : []) as T[];
      } finally {
        await c.end();
      }
    },
    async drop() {
      const c = await createConnection(MYSQL_ADMIN);
      try {
        // MySQL cache "schemas" are databases of their own: those named `<name>_…` go too
        const [rows] = await c.query(
          'select SCHEMA_NAME as s from information_schema.SCHEMATA where SCHEMA_NAME like ?',
          [`${name}\\_%`],
        );
        for (const r of rows as { s: string }[]) await c.query(`drop database if exists \`${r.s}\``);
        await c.query(`drop database if exists \`${name}\``);
      } finally {
        await c.end();
      }
    },
  };
}

/** One open connection to a test source database, for tests that hold locks or transactions, or read in a loop. */
export interface TestSourceSession {
  /** pg: $1 placeholders; mysql: ?. Errors are the driver's own (native codes kept). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  end(): Promise<void>;
}

/** Opens one connection with these credentials, e.g. `openTestSourceSession({ ...db.connection, username })`. */
export async function openTestSourceSession(conn: TestSourceConnection): Promise<TestSourceSession> {
  const noop = () => undefined; // a killed or refused connection must not crash the test process
  if (conn.engine === 'postgres') {
    const c = new Client({
      host: conn.host,
      port: conn.port,
      database: conn.dbName,
      user: conn.username,
      password: conn.password ?? undefined,
      connectionTimeoutMillis: 10_000,
    });
    c.on('error', noop);
    await c.connect();
    return {
      query: async <T>(sql: string, params?: unknown[]) => (await c.query(sql, params)).rows as T[],
      end: () => c.end(),
    };
  }
  const c = await createConnection({
    host: conn.host,
    port: conn.port,
    database: conn.dbName,
    user: conn.username,
    password: conn.password ?? undefined,
    connectTimeout: 10_000,
  });
  c.on('error', noop);
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const [rows] = await c.query(sql, params);
      return (Array.isArray(rows) ? rows : []) as T[];
    },
    end: () => c.end(),
  };
}

/** `"schema"."table"` (PostgreSQL) or `` `schema`.`table` `` (MySQL/MariaDB), for SQL written by tests. */
export function quoteSourceTable(engine: 'postgres' | 'mysql', schema: string, table: string): string {
  const q = engine === 'postgres' ? '"' : '`';
  return [schema, table].map((n) => `${q}${n.split(q).join(q + q)}${q}`).join('.');
}

/** Names of the relations in a schema (MySQL: database) whose name is LIKE `like`, sorted. */
export async function sourceTables(db: TestSourceDatabase, schema: string, like = '%'): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    db.connection.engine === 'postgres'
      ? `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = $1 and c.relname like $2 order by 1`
      : `select TABLE_NAME as name from information_schema.TABLES
          where TABLE_SCHEMA = ? and TABLE_NAME like ? order by 1`,
    [schema, like],
  );
  return rows.map((r) => r.name);
}

/** Row count of a table (count(*) comes back as a string from pg and a number from mysql2). */
export async function countSourceRows(
  db: Pick<TestSourceDatabase, 'query'>,
  engine: 'postgres' | 'mysql',
  schema: string,
  table: string,
): Promise<number> {
  const [r] = await db.query<{ n: string | number }>(
    `select count(*) as n from ${quoteSourceTable(engine, schema, table)}`,
  );
  return Number(r.n);
}
