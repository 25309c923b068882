/*
 * Canary objects in a disposable source database, and one-round-trip snapshots of everything a model must never
 * change: the canary rows (count + content checksum), a sequence, the catalog outside the cache schema (tables,
 * views, schemas, routines), large objects and advisory locks (PostgreSQL), the fuzz's user lock (MariaDB).
 */
import { openTestSourceSession, TestSourceDatabase, TestSourceSession } from '@model-persistence/testing';

export type Engine = 'postgres' | 'mysql';

export const CANARY_ROWS = 20;

/** Creates the canaries in `db` (PostgreSQL: also a schema, a function and a view; MariaDB: a function, a view). */
export async function createCanaries(db: TestSourceDatabase): Promise<void> {
  if (db.connection.engine === 'postgres') {
    await db.query(`create table canary (id int primary key, v text not null)`);
    await db.query(`insert into canary select g, md5(g::text) from generate_series(1, ${CANARY_ROWS}) g`);
    await db.query(`create table canary_two (id int primary key, v text not null)`);
    await db.query(`insert into canary_two select g, 'two ' || g from generate_series(1, 5) g`);
    await db.query(`create sequence canary_seq`);
    await db.query(`create schema canary_schema`);
    await db.query(`create table canary_schema.other (id int)`);
    await db.query(`create function canary_fn() returns int language sql as 'select 1'`);
    await db.query(`create view canary_view as select * from canary`);
    return;
  }
  await db.query(`create table canary (id int primary key, v varchar(64) not null)`);
  await db.query(
    `insert into canary with recursive g(n) as (select 1 union all select n + 1 from g where n < ${CANARY_ROWS})
     select n, md5(n) from g`,
  );
  await db.query(`create table canary_two (id int primary key, v varchar(64) not null)`);
  await db.query(
    `insert into canary_two values (1, 'two 1'), (2, 'two 2'), (3, 'two 3'), (4, 'two 4'), (5, 'two 5')`,
  );
  await db.query(`create sequence canary_seq nocache`);
  await db.query(`create function canary_fn() returns int deterministic return 1`);
  await db.query(`create view canary_view as select * from canary`);
}

/** One open session that takes snapshots; `take()` is one round trip. */
export interface CanaryWatch {
  take(): Promise<string>;
  end(): Promise<void>;
}

const PG_SNAPSHOT = (cacheSchema: string) => `
select json_build_object(
  'canary', (select json_build_object('rows', count(*), 'md5', md5(string_agg(id || ':' || v, ',' order by id))) from public.canary),
  'canary_two', (select json_build_object('rows', count(*), 'md5', md5(string_agg(id || ':' || v, ',' order by id))) from public.canary_two),
  'sequence', (select last_value || '/' || is_called from public.canary_seq),
  'relations', (select string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text, ' ' order by n.nspname, c.relname)
                  from pg_class c join pg_namespace n on n.oid = c.relnamespace
                 where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast', '${cacheSchema}')
                   and n.nspname not like 'pg\\_temp\\_%' and n.nspname not like 'pg\\_toast\\_temp\\_%'),
  'schemas', (select string_agg(nspname, ' ' order by nspname) from pg_namespace
               where nspname <> '${cacheSchema}' and nspname not like 'pg\\_temp\\_%' and nspname not like 'pg\\_toast\\_temp\\_%'),
  'routines', (select string_agg(n.nspname || ':' || p.oid::regprocedure::text, ' ' order by n.nspname || ':' || p.oid::regprocedure::text) from pg_proc p
                 join pg_namespace n on n.oid = p.pronamespace where n.nspname not in ('pg_catalog', 'information_schema')),
  'largeObjects', (select count(*) from pg_largeobject_metadata),
  'advisoryLocks', (select count(*) from pg_locks l join pg_database d on d.oid = l.database
                     where l.locktype = 'advisory' and d.datname = current_database())
)::text as s`;

const MYSQL_SNAPSHOT = `
select json_object(
  'canary', (select json_object('rows', count(*), 'md5', md5(group_concat(id, ':', v order by id separator ','))) from canary),
  'canary_two', (select json_object('rows', count(*), 'md5', md5(group_concat(id, ':', v order by id separator ','))) from canary_two),
  'sequence', (select next_not_cached_value from canary_seq),
  'relations', (select group_concat(TABLE_NAME, ':', TABLE_TYPE order by TABLE_NAME separator ' ')
                  from information_schema.TABLES where TABLE_SCHEMA = database()),
  'schemas', (select group_concat(SCHEMA_NAME order by SCHEMA_NAME separator ' ') from information_schema.SCHEMATA
               where SCHEMA_NAME like concat(database(), '%') and SCHEMA_NAME <> ?),
  'routines', (select group_concat(ROUTINE_NAME order by ROUTINE_NAME separator ' ')
                 from information_schema.ROUTINES where ROUTINE_SCHEMA = database()),
  'triggers', (select count(*) from information_schema.TRIGGERS where TRIGGER_SCHEMA = database()),
  'events', (select count(*) from information_schema.EVENTS where EVENT_SCHEMA = database()),
  'userLock', (select is_used_lock('mp_fuzz'))
) as s`;

/** Watches `db`'s canaries and catalog, ignoring `cacheSchema` (where refreshes may build tables). */
export async function watchCanaries(db: TestSourceDatabase, cacheSchema: string): Promise<CanaryWatch> {
  const session: TestSourceSession = await openTestSourceSession(db.connection);
  const engine = db.connection.engine;
  return {
    async take() {
      const [row] =
        engine === 'postgres'
          ? await session.query<{ s: unknown }>(PG_SNAPSHOT(cacheSchema.replace(/'/g, "''")))
          : await session.query<{ s: unknown }>(MYSQL_SNAPSHOT, [cacheSchema]);
      // mysql2 parses JSON columns; one canonical text either way
      return typeof row.s === 'string' ? row.s : JSON.stringify(row.s);
    },
    end: () => session.end(),
  };
}
