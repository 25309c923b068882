import { errorMessage } from '@model-persistence/errors';
import type { PoolClient } from 'pg';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';

/** One privilege of the connection user outside its cache schema, e.g. `INSERT` on `public.orders`. */
export interface PrivilegeFinding {
  privilege: string;
  on: string;
}

/** The least-privilege report of the can-persist check: a warning, never a refusal. */
export interface PrivilegeWarning {
  message: string;
  /** How many privileges (privilege × object) were found. */
  count: number;
  /** A few of them, the server-wide ones first. */
  examples: PrivilegeFinding[];
}

export const PRIVILEGE_EXAMPLES = 5;

/** Builds the warning from the first findings and the total count; null when nothing was found. */
export function privilegeWarning(
  user: string,
  cacheSchema: string,
  examples: PrivilegeFinding[],
  count: number,
): PrivilegeWarning | null {
  if (count === 0) return null;
  const listed = examples
    .slice(0, PRIVILEGE_EXAMPLES)
    .map((f) => `${f.privilege} on ${f.on}`)
    .join(', ');
  return {
    message:
      `The connection user ${user} can change data outside its cache schema ${cacheSchema}: ` +
      `${count} privilege(s), e.g. ${listed}. A model cannot use them (it runs as one read query inside a ` +
      'derived table), but a dedicated user that only reads the source data and owns the cache schema limits ' +
      'what a mistake or a compromised service could do: see docs/SECURITY.md.',
    count,
    examples: examples.slice(0, PRIVILEGE_EXAMPLES),
  };
}

function auditFailed(cacheSchema: string, error: unknown): PrivilegeWarning {
  return {
    message: `The privileges of the connection user outside ${cacheSchema} could not be checked: ${errorMessage(error)}`,
    count: 0,
    examples: [],
  };
}

/*
 * PostgreSQL: role attributes that bypass every check, write privileges (has_table_privilege also counts those
 * inherited from roles and PUBLIC) on tables and views of other schemas, ownership (ALTER/DROP whatever the
 * grants say), and CREATE on other schemas. System schemas are left out: only a superuser can write there,
 * and that is reported as SUPERUSER.
 */
const PG_AUDIT = `
WITH rel AS (
  SELECT c.oid, c.relowner, format('%I.%I', n.nspname, c.relname) AS obj
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'f') AND n.nspname <> $1
     AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
), found AS (
  SELECT a.privilege, 'the server' AS obj, a.ord
    FROM pg_catalog.pg_roles r
   CROSS JOIN LATERAL (VALUES ('SUPERUSER', r.rolsuper, 0), ('BYPASSRLS', r.rolbypassrls, 1),
                              ('CREATEROLE', r.rolcreaterole, 2)) AS a(privilege, granted, ord)
   WHERE r.rolname = current_user AND a.granted
  UNION ALL
  SELECT 'OWNER', rel.obj, 3 FROM rel WHERE pg_catalog.pg_has_role(rel.relowner, 'USAGE')
  UNION ALL
  SELECT p.privilege, rel.obj, 4
    FROM rel CROSS JOIN (VALUES ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) AS p(privilege)
   WHERE pg_catalog.has_table_privilege(rel.oid, p.privilege)
  UNION ALL
  SELECT 'CREATE', format('schema %I', n.nspname), 5
    FROM pg_catalog.pg_namespace n
   WHERE n.nspname <> $1 AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
     AND pg_catalog.has_schema_privilege(n.oid, 'CREATE')
)
SELECT privilege, obj, count(*) OVER () AS total, current_user AS who
  FROM found ORDER BY ord, obj, privilege LIMIT ${PRIVILEGE_EXAMPLES}`;

export async function auditPostgresPrivileges(
  client: PoolClient,
  cacheSchema: string,
): Promise<PrivilegeWarning | null> {
  try {
    const r = await client.query<{ privilege: string; obj: string; total: string; who: string }>(PG_AUDIT, [
      cacheSchema,
    ]);
    const first = r.rows[0];
    if (!first) return null;
    return privilegeWarning(
      first.who,
      cacheSchema,
      r.rows.map((x) => ({ privilege: x.privilege, on: x.obj })),
      Number(first.total),
    );
  } catch (error) {
    return auditFailed(cacheSchema, error);
  }
}

/** MySQL/MariaDB privileges that cannot change anything (or only session-private temporary tables). */
const MYSQL_HARMLESS = [
  'USAGE',
  'SELECT',
  'SHOW DATABASES',
  'SHOW VIEW',
  'LOCK TABLES',
  'CREATE TEMPORARY TABLES',
  'EXECUTE',
  'PROCESS',
  'REPLICATION CLIENT',
  'BINLOG MONITOR',
  'SLAVE MONITOR',
];

/*
 * MySQL/MariaDB: the grants of the current account (and of its enabled roles) at global, database, table and
 * column level, except read-only ones, outside the cache database. Database-level grants may be LIKE patterns
 * (`mp\\_cache\\_x`): one naming exactly the cache database is fine, any other pattern is reported.
 */
const MYSQL_AUDIT = `
SELECT privilege, obj, ord FROM (
  SELECT PRIVILEGE_TYPE AS privilege, 'the server (*.*)' AS obj, 0 AS ord
    FROM information_schema.USER_PRIVILEGES WHERE GRANTEE IN (?) AND PRIVILEGE_TYPE NOT IN (?)
  UNION ALL
  SELECT PRIVILEGE_TYPE, CONCAT(TABLE_SCHEMA, '.*'), 1
    FROM information_schema.SCHEMA_PRIVILEGES
   WHERE GRANTEE IN (?) AND PRIVILEGE_TYPE NOT IN (?) AND REPLACE(TABLE_SCHEMA, CONCAT(CHAR(92), '_'), '_') <> ?
  UNION ALL
  SELECT PRIVILEGE_TYPE, CONCAT(TABLE_SCHEMA, '.', TABLE_NAME), 2
    FROM information_schema.TABLE_PRIVILEGES
   WHERE GRANTEE IN (?) AND PRIVILEGE_TYPE NOT IN (?) AND TABLE_SCHEMA <> ?
  UNION ALL
  SELECT PRIVILEGE_TYPE, CONCAT(TABLE_SCHEMA, '.', TABLE_NAME, '.', COLUMN_NAME), 3
    FROM information_schema.COLUMN_PRIVILEGES
   WHERE GRANTEE IN (?) AND PRIVILEGE_TYPE NOT IN (?) AND TABLE_SCHEMA <> ?
) AS found ORDER BY ord, obj, privilege`;

export async function auditMysqlPrivileges(
  c: PoolConnection,
  cacheDatabase: string,
): Promise<PrivilegeWarning | null> {
  try {
    const [who] = await c.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u');
    const account = String(who[0]?.u ?? '');
    const at = account.lastIndexOf('@');
    const grantees = [`'${account.slice(0, at)}'@'${account.slice(at + 1)}'`];
    // MariaDB roles granted to the account and enabled in this session
    const [roles] = await c
      .query<RowDataPacket[]>('SELECT ROLE_NAME AS r FROM information_schema.ENABLED_ROLES')
      .catch(() => [[] as RowDataPacket[]]);
    for (const r of roles) grantees.push(`'${String(r.r)}'`, `'${String(r.r)}'@''`);
    const h = MYSQL_HARMLESS;
    const [rows] = await c.query<RowDataPacket[]>(MYSQL_AUDIT, [
      grantees,
      h,
      grantees,
      h,
      cacheDatabase,
      grantees,
      h,
      cacheDatabase,
      grantees,
      h,
      cacheDatabase,
    ]);
    const findings = rows.map((x) => ({ privilege: String(x.privilege), on: String(x.obj) }));
    return privilegeWarning(account, cacheDatabase, findings, findings.length);
  } catch (error) {
    return auditFailed(cacheDatabase, error);
  }
}
