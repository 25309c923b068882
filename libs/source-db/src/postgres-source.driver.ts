import { randomInt } from 'node:crypto';
import { Client, ClientConfig, Pool, PoolClient, QueryResult } from 'pg';
import {
  explainModel,
  modelDeltaSelect,
  postgresCreateTableAsModel,
  refreshKeySelect,
} from './model-statement';
import {
  calledNames,
  cannotTell,
  hashSignature,
  InputSignature,
  InputSignatureRequest,
  readPostgresPlan,
} from './change-signature';
import {
  BACKUP_TABLE_PREFIX,
  backupTableName,
  CACHE_INFO_TABLE,
  CHECK_TABLE_PREFIX,
  FENCE_TABLE,
  qualifiedName,
  quoteIdentifier,
  TEMP_TABLE_PREFIX,
  tempTableName,
} from './naming';
import { liveBuildNames } from './live-builds';
import { auditPostgresPrivileges } from './privilege-audit';
import { classifySourceError, SourceError } from './source-error';
import { pgSslOptions } from './tls-options';
import {
  canPersistFailure,
  connectFailure,
  abortError,
  fencedError,
  lookbackSql,
  missingColumns,
  missingIndexColumnError,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_POOL_SIZE,
  swapLockOf,
  SwapLock,
  beginBuild,
  buildError,
} from './driver-support';
import type {
  CanPersistContext,
  CanPersistResult,
  LiveGenerations,
  MergeTableRequest,
  MergeTableResult,
  RefreshTableRequest,
  RefreshTableResult,
  SourceConnectionInfo,
  SourceDriver,
  SourceDriverOptions,
} from './types';

const ENGINE = 'postgres' as const;
const q = (name: string) => quoteIdentifier(ENGINE, name);

/** Escapes `_`, `%` and `\` for a LIKE pattern (standard_conforming_strings = on, default escape `\`). */
const likePrefix = (prefix: string) => `${prefix.replace(/[\\_%]/g, (c) => `\\${c}`)}%`;

/** A string literal that reads the same whatever standard_conforming_strings is (E'…', `\` and `'` doubled). */
const pgLiteral = (text: string) => `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/**
 * Runs `send`, which issues queries on a pipelined connection without awaiting them, with the socket corked: the
 * queries leave in one write, so the server is woken once for all of them (a loaded machine pays per wake-up).
 */
function inOneWrite<T>(client: PoolClient, send: () => T): T {
  const stream = (client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } })
    .connection?.stream;
  stream?.cork?.();
  try {
    return send();
  } finally {
    stream?.uncork?.();
  }
}

/** Models' plan readings remembered per driver at most (beyond it the memory starts again empty). */
const MAX_LEARNT = 10_000;

/**
 * One fingerprint of every catalog row that decides which relations a model's plan reads and which functions it calls,
 * for the connection's user and search_path: namespaces; user relations (a table dropped and recreated, a view
 * redefined, an ALTER TABLE, a GRANT: their pg_class definition or pg_rewrite row changes), their columns, indexes (join
 * removal), constraints (constraint exclusion), inheritance and partitions (pruning), user functions (inlined
 * bodies), row security policies and role memberships. Any new, changed or deleted row gives a new fingerprint (a
 * changed row is a new tuple with a new xmin; in-place statistics updates of VACUUM/ANALYZE are not). Left out: temporary objects (any session's; a model cannot read another session's) and
 * the tables, indexes and toast of the refresher's own cache schema (`own`, every build churns them), unless
 * something can reach them unseen — a view, policy or function depending on one, or the schema in the search
 * path: then `own_reached` and nothing is remembered. Catalogs only change at commit, so the fingerprint read before
 * an EXPLAIN is never newer than what the EXPLAIN saw.
 */
const CATALOG_FINGERPRINT_SQL = `
  WITH own AS (SELECT (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $1::text) AS oid),
  rel AS (
    SELECT c.oid,
           -- what defines the relation, not its row version: a TRUNCATE (new relfilenode) is data, seen by the stats
           pg_catalog.md5(row(c.relname, c.relnamespace, c.relkind, c.relowner, c.relacl, c.relrowsecurity,
             c.relforcerowsecurity, c.relhasrules, c.relispartition, c.relpartbound, c.reloftype,
             c.reloptions)::text) AS def
      FROM pg_catalog.pg_class c, own
     WHERE c.oid >= 16384 AND c.relnamespace <> 'pg_toast'::pg_catalog.regnamespace AND c.relpersistence <> 't'
       AND (c.relnamespace IS DISTINCT FROM own.oid OR c.relkind NOT IN ('r', 'p', 'i', 'I', 't'))),
  tmp AS (SELECT t.oid FROM pg_catalog.pg_namespace t WHERE t.nspname ~ '^pg_(toast_)?temp_')
  SELECT pg_catalog.md5(concat_ws('|', current_user, session_user, pg_catalog.current_setting('search_path'),
      (SELECT string_agg(n.oid::text || ':' || n.xmin::text, ',' ORDER BY n.oid) FROM pg_catalog.pg_namespace n
        WHERE n.oid NOT IN (SELECT oid FROM tmp)),
      (SELECT string_agg(r.oid::text || ':' || r.def, ',' ORDER BY r.oid) FROM rel r),
      (SELECT string_agg(a.attrelid::text || '.' || a.attnum::text || ':' || a.xmin::text, ','
                         ORDER BY a.attrelid, a.attnum)
         FROM pg_catalog.pg_attribute a JOIN rel r ON r.oid = a.attrelid WHERE a.attnum > 0),
      (SELECT string_agg(i.indexrelid::text || ':' || i.xmin::text, ',' ORDER BY i.indexrelid)
         FROM pg_catalog.pg_index i JOIN rel r ON r.oid = i.indrelid),
      (SELECT string_agg(k.oid::text || ':' || k.xmin::text, ',' ORDER BY k.oid) FROM pg_catalog.pg_constraint k, own
        WHERE k.oid >= 16384 AND k.connamespace IS DISTINCT FROM own.oid AND k.connamespace NOT IN (SELECT oid FROM tmp)),
      (SELECT string_agg(h.inhrelid::text || '<' || h.inhparent::text || ':' || h.xmin::text, ','
                         ORDER BY h.inhrelid, h.inhparent) FROM pg_catalog.pg_inherits h),
      (SELECT string_agg(w.oid::text || ':' || w.xmin::text, ',' ORDER BY w.oid) FROM pg_catalog.pg_rewrite w
        JOIN rel r ON r.oid = w.ev_class WHERE w.oid >= 16384),
      (SELECT string_agg(f.oid::text || ':' || f.xmin::text, ',' ORDER BY f.oid) FROM pg_catalog.pg_proc f
        WHERE f.oid >= 16384),
      (SELECT string_agg(o.oid::text || ':' || o.xmin::text, ',' ORDER BY o.oid) FROM pg_catalog.pg_policy o),
      (SELECT string_agg(m.roleid::text || '>' || m.member::text || ':' || m.xmin::text, ','
                         ORDER BY m.roleid, m.member) FROM pg_catalog.pg_auth_members m)
    )) AS fingerprint,
    (own.oid IS NOT NULL AND ((SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid = own.oid) = ANY(pg_catalog.current_schemas(true))
      OR EXISTS (
      SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_depend d
          ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = c.oid
       WHERE c.relnamespace = own.oid
         AND d.classid IN ('pg_catalog.pg_rewrite'::pg_catalog.regclass, 'pg_catalog.pg_policy'::pg_catalog.regclass,
                           'pg_catalog.pg_proc'::pg_catalog.regclass)))) AS own_reached
  FROM own`;

/**
 * A reading's change markers, by relation name ($1) and the functions its models call ($2): the tables' row counters
 * (the functions pg_stat_all_tables is made of, called for the named relations only: the view computes every table's)
 * and whether each is a table kind, the statistics' reset time, the server's start, and which of the functions are
 * not immutable.
 */
const INPUT_STATISTICS_SQL = `SELECT
   (SELECT coalesce(json_agg(json_build_array(rel.name, c.oid::int8::text, c.relkind, c.relfilenode::int8::text,
             pg_catalog.pg_stat_get_tuples_inserted(c.oid)::text, pg_catalog.pg_stat_get_tuples_updated(c.oid)::text,
             pg_catalog.pg_stat_get_tuples_deleted(c.oid)::text, c.relkind IN ('r', 't', 'm', 'p'))
             ORDER BY rel.name), '[]'::json)
      FROM unnest($1::text[]) AS rel(name)
      LEFT JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(rel.name)) AS tables,
   (SELECT d.stats_reset::text FROM pg_catalog.pg_stat_database d
     WHERE d.datname = pg_catalog.current_database()) AS stats_reset,
   pg_catalog.pg_postmaster_start_time()::text AS started,
   (SELECT coalesce(array_agg(DISTINCT p.proname::text), '{}') FROM pg_catalog.pg_proc p
     WHERE p.proname = ANY($2::text[]) AND p.provolatile <> 'i') AS volatile`;

/** What a merge refused in the server starts its error message's input with (see mergeTable). */
const MERGE_REFUSED = 'mp_merge_refused';

/** The reason a merge's refusal statement gave, read from its error (22P02 on `mp_merge_refused:<reason>`). */
const refusalOf = (error: unknown): string | undefined => {
  const message = (error as { message?: unknown })?.message;
  return typeof message === 'string'
    ? new RegExp(`${MERGE_REFUSED}:([a-z-]+)`).exec(message)?.[1]
    : undefined;
};

/** A connection's own 'error' event: the failure reaches the caller through its query instead (see the pool). */
const ignoreConnectionError = (): void => undefined;

/** The SQLSTATE of a raw pg error or of a classified one. */
const sqlState = (error: unknown): string | undefined => {
  const code = error instanceof SourceError ? error.details?.sqlState : (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * PostgreSQL driver. A refresh runs in ONE transaction: `CREATE TABLE <tmp> AS SELECT * FROM (<model SQL>) AS
 * mp_model` (the server refuses a data-modifying WITH or INTO in a derived table) under
 * `SET LOCAL statement_timeout`, then rename old → backup, tmp → target, drop backup, commit. Because DDL is
 * transactional, a failure, a cancel or a killed process rolls everything back: readers keep the old table
 * and no temporary table can be left behind.
 */
export class PostgresSourceDriver implements SourceDriver {
  readonly engine = ENGINE;
  private readonly pool: Pool;
  private readonly clientConfig: ClientConfig;
  private readonly swapLock: SwapLock;
  /** Cache schemas known to exist (see ensureSchema). */
  private readonly knownSchemas = new Set<string>();
  /** Cache schemas whose fence table is known to exist. */
  private readonly knownFences = new Set<string>();
  private closed = false;
  /**
   * What models' plans read (relations, called names), by model SQL, with the catalog fingerprint read before the
   * EXPLAIN that learnt it: reused only while the fingerprint is the same (see catalogFingerprintSql).
   */
  private readonly learnt = new Map<string, { relations: string[]; calls: string[]; catalog: string }>();

  constructor(
    private readonly conn: SourceConnectionInfo,
    options: SourceDriverOptions = {},
  ) {
    this.swapLock = swapLockOf(options);
    this.clientConfig = {
      host: conn.host,
      port: conn.port,
      database: conn.dbName,
      user: conn.username,
      password: conn.password ?? undefined,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      application_name: 'model-persistence',
      keepAlive: true,
      ssl: pgSslOptions(conn),
    };
    this.pool = new Pool({
      ...this.clientConfig,
      // queries issued without awaiting the previous one go out at once instead of one round trip each (the
      // server still runs them in order, each answered on its own): a build sends its transaction as one burst
      pipeline: true,
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      idleTimeoutMillis: 30_000,
    });
    // an idle connection dropped by the server must not crash the process; the next checkout reconnects
    this.pool.on('error', () => undefined);
    // node-postgres emits 'error' when the server ends a connection (pg_terminate_backend, a restart, a
    // failover), even while a query runs on it, and the pool takes its own listener off a checked-out client:
    // without a listener of ours that is an unhandled 'error' event and the process exits. The query in flight
    // is rejected with the same error (classified `connection`), a later query with "not queryable", and the
    // pool discards the dead client on release.
    this.pool.on('connect', (client) => client.on('error', ignoreConnectionError));
  }

  private where(): string {
    return `${this.conn.host}:${this.conn.port}/${this.conn.dbName}`;
  }

  private async connect(): Promise<PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw connectFailure(error, ENGINE, this.where());
    }
  }

  /** Runs `fn` on a pooled client; any error comes out classified; a broken client is discarded. */
  private async withClient<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let failure: Error | undefined;
    try {
      return await fn(client);
    } catch (error) {
      const classified = classifySourceError(error, ENGINE);
      if (classified.errorClass === 'connection') failure = classified;
      throw classified;
    } finally {
      client.release(failure);
    }
  }

  private async schemaExists(client: PoolClient, schemaName: string): Promise<boolean> {
    const r = await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schemaName]);
    return (r.rowCount ?? 0) > 0;
  }

  /**
   * Makes sure the cache schema exists. A schema seen once is remembered (a refresh does not pay a catalog
   * round trip for it); a refresh that then finds it gone forgets it and tries once more.
   */
  private async ensureSchema(client: PoolClient, schemaName: string, remembered = true): Promise<void> {
    if (remembered && this.knownSchemas.has(schemaName)) return;
    // checked first: a user may own the schema without the right to create schemas in the database
    if (!(await this.schemaExists(client, schemaName))) {
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${q(schemaName)}`);
      } catch (error) {
        // two concurrent IF NOT EXISTS can still collide on the catalog's unique index
        const code = (error as { code?: string }).code;
        if (code !== '23505' && code !== '42P06') throw error;
      }
    }
    this.knownSchemas.add(schemaName);
  }

  /**
   * The fence table of a cache schema, created by the first fenced refresh (outside any transaction:
   * concurrent creators may collide) and remembered like the schema.
   */
  private async ensureFenceTable(client: PoolClient, schemaName: string): Promise<void> {
    if (this.knownFences.has(schemaName)) return;
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${qualifiedName(ENGINE, schemaName, FENCE_TABLE)}
           (table_name text PRIMARY KEY, generation bigint NOT NULL)`,
      );
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== '23505' && code !== '42P07') throw error;
    }
    this.knownFences.add(schemaName);
  }

  /**
   * Inside the swap (or merge) transaction, ahead of the write in the same message: records this build's generation for the
   * table unless a newer one is there, and fails (division by zero, SQLSTATE 22012: plain SQL, no procedural
   * language needed) when one is. The fence row stays locked until COMMIT, so a concurrent swap or merge of the same table
   * waits and then re-checks against what this one wrote: an older generation can never swap last.
   */
  private fenceSql(schemaName: string, tableName: string, generation: number): string {
    const fence = qualifiedName(ENGINE, schemaName, FENCE_TABLE);
    return `SAVEPOINT mp_fence;
      WITH mine AS (
        INSERT INTO ${fence} AS f (table_name, generation) VALUES (${pgLiteral(tableName)}, ${Math.trunc(generation)})
        ON CONFLICT (table_name) DO UPDATE SET generation = EXCLUDED.generation
         WHERE f.generation <= EXCLUDED.generation
        RETURNING generation)
      SELECT 1 / (SELECT count(*) FROM mine)::int AS mp_fence_ok;`;
  }

  /** After the fence statement refused this build: the error, with the generation that holds the table. */
  private async fenced(
    client: PoolClient,
    schemaName: string,
    tableName: string,
    generation: number,
  ): Promise<Error> {
    await client.query('ROLLBACK TO SAVEPOINT mp_fence');
    const stored = await client.query<{ g: string }>(
      `SELECT generation::text AS g FROM ${qualifiedName(ENGINE, schemaName, FENCE_TABLE)} WHERE table_name = $1`,
      [tableName],
    );
    return fencedError(
      `${schemaName}.${tableName}`,
      generation,
      stored.rows[0] ? Number(stored.rows[0].g) : null,
    );
  }

  async refreshTable(req: RefreshTableRequest): Promise<RefreshTableResult> {
    const remembered = this.knownSchemas.has(req.schemaName);
    try {
      return await this.refreshOnce(req);
    } catch (error) {
      // the remembered schema was dropped behind our back (3F000 invalid_schema_name): check it again, once
      // a fence table dropped behind our back (42P01 on it) is created again by the next refresh
      if (sqlState(error) === '42P01') this.knownFences.delete(req.schemaName);
      if (!remembered || sqlState(error) !== '3F000' || req.signal?.aborted) throw error;
      this.knownSchemas.delete(req.schemaName);
      this.knownFences.delete(req.schemaName);
      return this.refreshOnce(req);
    }
  }

  /**
   * ONE round trip for a model without managed indexes or checkpoint: three messages written at once on a
   * pipelined connection (see the pool) — (1) BEGIN, the transaction's settings and the drop of a leftover temporary
   * table, (2) the model SQL alone under the extended protocol, (3) the fence, the swap, the definition and COMMIT as
   * one multi-statement message. The server runs them in order; a failing one aborts the transaction, so every
   * message after it is refused (25P02) and (3) never reaches its COMMIT: the ROLLBACK below undoes everything, as
   * when they were sent one by one. (3) starts with a SAVEPOINT, which is an error outside a transaction block, so
   * it cannot swap anything should (1) not have opened the transaction. With indexes or a checkpoint, (3) waits for
   * what the build reads back. Only (2) carries user-written SQL; (1) and (3) are built from quoted identifiers,
   * literals escaped here and numbers only.
   */
  private async refreshOnce(req: RefreshTableRequest): Promise<RefreshTableResult> {
    const { schemaName, tableName, signal } = req;
    const { label, sql } = beginBuild(req, ENGINE);
    const tmpName = tempTableName(ENGINE, tableName, req.fence?.generation);
    const bakName = backupTableName(ENGINE, tableName);
    const target = qualifiedName(ENGINE, schemaName, tableName);
    const tmp = qualifiedName(ENGINE, schemaName, tmpName);
    const bak = qualifiedName(ENGINE, schemaName, bakName);
    const timeoutMs = Math.max(1, Math.floor(req.statementTimeoutMs));

    const client = await this.connect();
    const cancelling = this.cancelOnAbort(client, signal);
    const stopCancelling = cancelling.stop;
    let inTransaction = false;
    let releaseWith: Error | undefined;
    /** messages sent ahead whose outcome is awaited later: their rejections are handled meanwhile */
    const ahead = <T>(p: Promise<T>): Promise<T> => {
      p.catch(() => undefined);
      return p;
    };
    try {
      const step = async <T>(fn: () => Promise<T>): Promise<T> => {
        if (signal?.aborted) throw abortError(label, signal);
        return fn();
      };
      await step(() => this.ensureSchema(client, schemaName));
      if (req.fence) await step(() => this.ensureFenceTable(client, schemaName));
      if (signal?.aborted) throw abortError(label, signal);
      inTransaction = true;
      const fence = req.fence;
      const swap = (renames: { from: string; to: string }[]) =>
        this.swapAndCommit(client, {
          target,
          tmp,
          bak,
          tableName,
          bakName,
          renames: renames.map((r) => ({ from: qualifiedName(ENGINE, schemaName, r.from), to: r.to })),
          ...(fence
            ? {
                fence: {
                  sql: this.fenceSql(schemaName, tableName, fence.generation),
                  refused: () => this.fenced(client, schemaName, tableName, fence.generation),
                },
              }
            : {}),
        });
      const readsBack = (req.indexes?.length ?? 0) > 0 || !!req.checkpointColumn;
      const [began, creating, swapping] = inOneWrite(client, () => {
        // PostgreSQL 14+: if this process dies mid-build, the server notices the closed socket within a second
        // and cancels the build instead of running it to the end. standard_conforming_strings is pinned: the
        // model SQL was checked by a lexer that assumes standard strings.
        const first = ahead(
          client
            .query(
              `BEGIN; SET LOCAL statement_timeout = ${timeoutMs}; SET LOCAL standard_conforming_strings = on;
               SELECT pg_catalog.set_config('client_connection_check_interval', '1000', true)
                WHERE pg_catalog.current_setting('server_version_num')::int >= 140000;
               DROP TABLE IF EXISTS ${tmp}`,
            )
            .then(() => Date.now()),
        );
        // the server enforces one read query: a derived table (no data-modifying WITH, no INTO) sent with the
        // extended protocol (no second statement)
        const second = ahead(
          client.query({ text: postgresCreateTableAsModel(tmp, sql), queryMode: 'extended' } as {
            text: string;
          }),
        );
        // swapAndCommit writes its first message before its first await: it goes out behind the build
        return [first, second, readsBack ? null : ahead(swap([]))] as const;
      });
      const queryStarted = await began;
      const created = await creating;
      const queryMs = Date.now() - queryStarted;
      let built: Awaited<ReturnType<PostgresSourceDriver['buildIndexes']>> = {
        indexMs: 0,
        renames: [],
        notUnique: [],
        checkpoint: null,
      };
      let columns: { name: string; type: string }[];
      if (swapping) columns = await swapping;
      else {
        built = await step(() => this.buildIndexes(client, req, tmp, label));
        const renames = built.renames;
        columns = await step(() => swap(renames));
      }
      inTransaction = false;
      return {
        rows: created.rowCount ?? null,
        definition: {
          tableName,
          fieldDefinitions: columns.map((c) => ({ fieldName: c.name, baseType: c.type })),
        },
        queryMs,
        indexMs: built.indexMs,
        notUnique: built.notUnique,
        checkpoint: built.checkpoint,
      };
    } catch (error) {
      stopCancelling();
      let broken = false;
      if (inTransaction) {
        // rolls back the temporary table too; if even that fails, dropping the connection does it server-side
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
      }
      const classified = buildError(error, { engine: ENGINE, label, signal });
      if (broken || classified.errorClass === 'connection') releaseWith = classified;
      throw classified;
    } finally {
      stopCancelling();
      // a cancel still in flight could hit the next user of this pooled connection: discard it instead
      client.release(releaseWith ?? (cancelling.dispatched() ? new Error('cancel dispatched') : undefined));
    }
  }

  /**
   * Inside the build transaction, on the temporary table: checks that the managed indexes' columns (and the
   * checkpoint column) exist, builds the indexes under build-specific names (index names are per schema in
   * PostgreSQL and the old table still holds the stable ones; the swap renames them) and reads the newest
   * checkpoint.
   */
  private async buildIndexes(
    client: PoolClient,
    req: RefreshTableRequest,
    tmp: string,
    label: string,
  ): Promise<{
    indexMs: number;
    renames: { from: string; to: string }[];
    notUnique: string[];
    checkpoint: string | null;
  }> {
    const indexes = req.indexes ?? [];
    const none = { indexMs: 0, renames: [], notUnique: [], checkpoint: null };
    if (indexes.length === 0 && !req.checkpointColumn) return none;
    const cols = await client.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = ${pgLiteral(tmp)}::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    );
    const returned = cols.rows.map((r) => r.name);
    const missing = missingColumns(returned, indexes, [req.checkpointColumn]);
    if (missing.length > 0) throw missingIndexColumnError(label, missing, returned);
    const started = Date.now();
    const renames: { from: string; to: string }[] = [];
    const notUnique: string[] = [];
    for (const index of indexes) {
      const buildName = `${index.name}_g${req.fence?.generation ?? 0}`;
      const columnList = index.columns.map(q).join(', ');
      const create = (unique: boolean) =>
        `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${q(buildName)} ON ${tmp} (${columnList})`;
      if (index.uniqueIfPossible && !index.unique) {
        await client.query('SAVEPOINT mp_index');
        try {
          await client.query(create(true));
          await client.query('RELEASE SAVEPOINT mp_index');
        } catch (error) {
          if (sqlState(error) !== '23505') throw error;
          await client.query('ROLLBACK TO SAVEPOINT mp_index');
          await client.query(create(false));
          notUnique.push(index.name);
        }
      } else {
        await client.query(create(index.unique));
      }
      renames.push({ from: buildName, to: index.name });
    }
    const indexMs = indexes.length > 0 ? Date.now() - started : 0;
    let checkpoint: string | null = null;
    if (req.checkpointColumn) {
      const r = await client.query<{ c: string | null }>(
        `SELECT max(${q(req.checkpointColumn)})::text AS c FROM ${tmp}`,
      );
      checkpoint = r.rows[0]?.c ?? null;
    }
    return { indexMs, renames, notUnique, checkpoint };
  }

  /**
   * Renames under a short lock_timeout, retried from a savepoint, so queued readers never wait long; then
   * reads the new table's columns and commits, all in one message per attempt (the exclusive locks are held
   * for one round trip only). An error stops the message before COMMIT, leaving the transaction to roll back.
   */
  private async swapAndCommit(
    client: PoolClient,
    n: {
      target: string;
      tmp: string;
      bak: string;
      tableName: string;
      bakName: string;
      renames?: { from: string; to: string }[];
      /** the fence statement (sent ahead of the first attempt) and the error when it refuses this build */
      fence?: { sql: string; refused: () => Promise<Error> };
    },
  ): Promise<{ name: string; type: string }[]> {
    // the old table's indexes went with it (DROP of the backup): the new ones take their stable names
    const indexRenames = (n.renames ?? [])
      .map((r) => `ALTER INDEX ${r.from} RENAME TO ${q(r.to)};`)
      .join('\n');
    const attemptSql = `SET LOCAL lock_timeout = ${this.swapLock.timeoutMs}; SAVEPOINT mp_swap;
      DROP TABLE IF EXISTS ${n.bak};
      ALTER TABLE IF EXISTS ${n.target} RENAME TO ${q(n.bakName)};
      ALTER TABLE ${n.tmp} RENAME TO ${q(n.tableName)};
      DROP TABLE IF EXISTS ${n.bak};
      ${indexRenames}
      RELEASE SAVEPOINT mp_swap;
      SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type
        FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = ${pgLiteral(n.target)}::regclass AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum;
      COMMIT`;
    for (let attempt = 1; ; attempt++) {
      // the fence goes with the first attempt (one round trip less); a retry keeps what it recorded
      const fenced = attempt === 1 && n.fence;
      try {
        const all = await this.multi(client, fenced ? `${n.fence!.sql}\n${attemptSql}` : attemptSql);
        const columns = all.find((r) => r.command === 'SELECT' && r.fields[0]?.name === 'name');
        if (!columns) throw new Error('the swap returned no column list');
        return columns.rows as { name: string; type: string }[];
      } catch (error) {
        if (fenced && sqlState(error) === '22012') throw await n.fence!.refused();
        if (sqlState(error) !== '55P03' || attempt >= this.swapLock.attempts) throw error;
        await client.query('ROLLBACK TO SAVEPOINT mp_swap');
      }
    }
  }

  async mergeTable(req: MergeTableRequest): Promise<MergeTableResult> {
    const { schemaName, tableName, signal } = req;
    const { label, sql } = beginBuild(req, ENGINE);
    const target = qualifiedName(ENGINE, schemaName, tableName);
    const timeoutMs = Math.max(1, Math.floor(req.statementTimeoutMs));
    const client = await this.connect();
    const cancelling = this.cancelOnAbort(client, signal);
    let inTransaction = false;
    let releaseWith: Error | undefined;
    const step = async <T>(fn: () => Promise<T>): Promise<T> => {
      if (signal?.aborted) throw abortError(label, signal);
      return fn();
    };
    const fallback = async (
      why: Extract<MergeTableResult, { merged: false }>['fallback'],
      message: string,
    ): Promise<MergeTableResult> => {
      await client.query('ROLLBACK');
      inTransaction = false;
      return { merged: false, fallback: why, message };
    };
    try {
      if (req.fence) await step(() => this.ensureFenceTable(client, schemaName));
      inTransaction = true;
      // one message (quoted identifiers only): the transaction, the cache table's columns and its newest checkpoint
      let opened: QueryResult[];
      try {
        opened = await step(() =>
          this.multi(
            client,
            `BEGIN; SET LOCAL statement_timeout = ${timeoutMs}; SET LOCAL standard_conforming_strings = on;
             DROP TABLE IF EXISTS pg_temp.mp_delta;
             SELECT pg_catalog.current_setting('server_version_num')::int >= 150000
                    AND pg_catalog.current_setting('track_counts')::bool AS mergeable;
             ${this.columnsSql(target)};
             SELECT max(${q(req.checkpointColumn)})::text AS c FROM ${target}`,
          ),
        );
      } catch (error) {
        const state = sqlState(error);
        // 42P01 / 3F000: no such table (or schema); 42703: no such checkpoint column
        if (state === '42P01' || state === '3F000')
          return await fallback('no-table', `${label} does not exist`);
        if (state === '42703') {
          return await fallback('columns-changed', `${label} lacks the checkpoint or key column(s)`);
        }
        throw error;
      }
      const targetCols = opened[opened.length - 2].rows as { name: string; type: string; base: string }[];
      const useMerge =
        (opened[opened.length - 3].rows[0] as { mergeable?: boolean } | undefined)?.mergeable === true;
      if (targetCols.length === 0) return await fallback('no-table', `${label} does not exist`);
      const byName = new Map(targetCols.map((c) => [c.name, c.type]));
      const checkpointType = byName.get(req.checkpointColumn);
      const keyMissing = req.uniqueKey.filter((k) => !byName.has(k));
      if (!checkpointType || keyMissing.length > 0) {
        return await fallback('columns-changed', `${label} lacks the checkpoint or key column(s)`);
      }
      const last = (opened[opened.length - 1].rows[0] as { c: string | null } | undefined)?.c ?? null;
      if (last === null) return await fallback('no-checkpoint', `${label} holds no checkpoint`);
      const lastSql = `CAST(${pgLiteral(last)} AS ${checkpointType})`;
      const queryStarted = Date.now();
      const delta = 'pg_temp.mp_delta';
      await step(() =>
        client.query({
          text: `CREATE TEMP TABLE mp_delta ON COMMIT DROP AS ${modelDeltaSelect(
            sql,
            q(req.checkpointColumn),
            `${lastSql}${lookbackSql(ENGINE, req.lookback)}`,
          )}`,
          queryMode: 'extended',
        } as { text: string }),
      );
      const queryMs = Date.now() - queryStarted;
      const keyNames = req.uniqueKey;
      const keys = keyNames.map(q);
      const otherNames = targetCols.filter((c) => !keyNames.includes(c.name)).map((c) => c.name);
      const cols = targetCols.map((c) => q(c.name));
      const ckpt = q(req.checkpointColumn);
      const names = (list: string[]) => `ARRAY[${list.map(pgLiteral).join(', ')}]::text[]`;
      // without its modifier: a cast to varchar(n) or numeric(p,s) would truncate or round, and could then match
      // another key or hide a change that the write's own (assignment) cast would refuse or keep
      const typeOf = (name: string) => targetCols.find((c) => c.name === name)?.base ?? 'text';
      const changed = (value: (name: string) => string) =>
        otherNames.map((n) => `t.${q(n)}::text IS DISTINCT FROM ${value(n)}::text`).join(' OR ');
      const counters = (when: string) =>
        `SELECT pg_catalog.pg_stat_get_xact_tuples_inserted(${pgLiteral(target)}::regclass)::text AS inserted_${when},
                pg_catalog.pg_stat_get_xact_tuples_updated(${pgLiteral(target)}::regclass)::text AS updated_${when}`;
      // PostgreSQL 15+ with the server counting rows (track_counts): MERGE, which compares a matched row before
      // touching it, where the upsert locks every conflicting row first (a WAL record and a dirtied page for each
      // row the lookback reads again unchanged: half the delta in the benchmark). MERGE has no RETURNING before
      // PostgreSQL 17: the inserted and updated counts are the difference of this transaction's row counters for
      // the table around it (nothing else writes the table in this transaction). The join is made to probe the
      // key's unique index per delta row, the key cast to the cache's type so that index applies (the
      // unanalysed temporary table can lead the planner to hash the whole cache table); JIT off (a large cache
      // table lifts the plan over jit_above_cost, and compiling costs more than the merge).
      const write = useMerge
        ? `SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL jit = off;
           ${counters('before')};
           MERGE INTO ${target} AS t USING ${delta} AS d
              ON ${keyNames.map((k) => `t.${q(k)} = CAST(d.${q(k)} AS ${typeOf(k)})`).join(' AND ')}
           ${
             otherNames.length === 0
               ? ''
               : `WHEN MATCHED AND (${changed((n) => `CAST(d.${q(n)} AS ${typeOf(n)})`)})
                    THEN UPDATE SET ${otherNames.map((n) => `${q(n)} = d.${q(n)}`).join(', ')}`
           }
           WHEN NOT MATCHED THEN INSERT (${cols.join(', ')}) VALUES (${cols.map((c) => `d.${c}`).join(', ')});
           ${counters('after')};`
        : `WITH m AS (
             INSERT INTO ${target} AS t (${cols.join(', ')}) SELECT ${cols.join(', ')} FROM ${delta}
             ON CONFLICT (${keys.join(', ')}) ${
               otherNames.length === 0
                 ? 'DO NOTHING'
                 : `DO UPDATE SET ${otherNames.map((n) => `${q(n)} = EXCLUDED.${q(n)}`).join(', ')}
                    WHERE ${changed((n) => `EXCLUDED.${q(n)}`)}`
             }
             RETURNING (xmax = 0) AS ins)
           SELECT count(*) FILTER (WHERE ins)::text AS inserted, count(*) FILTER (WHERE NOT ins)::text AS updated
             FROM m;`;
      // One message for the rest (quoted identifiers and escaped literals only, no user SQL), so the merge
      // costs three round trips in all. Its first statement refuses the merge in the server, before anything
      // is written: it fails with `mp_merge_refused:<reason>` (a text cast to int, evaluated per row so never
      // folded at plan time) when the delta's columns are not the cache table's (by name and position), when a
      // key is null or repeated (count(DISTINCT): neither the upsert's 21000 nor MERGE's catches a duplicate
      // whose first row left the cached one unchanged), when the delta's newest checkpoint is older than the
      // cached one, or when the cache table has no unique index on exactly the key (the last full build found
      // duplicates and built it plain). Then the fence (22012 when a newer generation holds the table; its row
      // stays locked until COMMIT; its savepoint released, so the write runs in the main transaction, not a
      // subtransaction), the write and COMMIT; a failing statement skips the rest and leaves the transaction
      // to the ROLLBACK.
      const keyTuple = keys.length === 1 ? keys[0] : `(${keys.join(', ')})`;
      const mergeSql = `SELECT c.top, CAST('${MERGE_REFUSED}:' || c.refusal AS int) AS refused FROM (
          SELECT CASE
                   WHEN (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = ${pgLiteral(delta)}::regclass AND a.attnum > 0 AND NOT a.attisdropped)
                        IS DISTINCT FROM ${names(targetCols.map((c) => c.name))}
                     THEN 'columns-changed'
                   WHEN count(*) FILTER (WHERE ${keys.map((k) => `${k} IS NULL`).join(' OR ')}) > 0
                        OR count(DISTINCT ${keyTuple}) <> count(*)
                     THEN 'duplicate-key'
                   WHEN (max(${ckpt}) >= ${lastSql}) IS NOT TRUE THEN 'checkpoint-backwards'
                   WHEN NOT EXISTS (
                     SELECT 1 FROM pg_catalog.pg_index i
                      WHERE i.indrelid = ${pgLiteral(target)}::regclass AND i.indisunique AND i.indisvalid
                        AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = ${keyNames.length}
                        AND (SELECT array_agg(a.attname::text) FROM pg_catalog.pg_attribute a
                              WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey))
                            @> ${names(keyNames)})
                     THEN 'unkeyed'
                 END AS refusal,
                 max(${ckpt})::text AS top
            FROM ${delta}) c;
        ${req.fence ? `${this.fenceSql(schemaName, tableName, req.fence.generation)} RELEASE SAVEPOINT mp_fence;` : ''}
        ${write}
        COMMIT`;
      let results: QueryResult[];
      try {
        results = await step(() => this.multi(client, mergeSql));
        inTransaction = false;
      } catch (error) {
        const state = sqlState(error);
        const refusal = state === '22P02' ? refusalOf(error) : undefined;
        if (refusal === 'columns-changed' || state === '42703') {
          // 42703: a key or checkpoint column the model no longer returns
          return await fallback('columns-changed', `the model's columns differ from ${label}'s`);
        }
        if (refusal === 'duplicate-key')
          return await fallback('duplicate-key', `the model returns duplicate or null keys`);
        if (refusal === 'unkeyed')
          return await fallback('duplicate-key', `${label} has no unique index on the key`);
        if (refusal === 'checkpoint-backwards') {
          return await fallback(
            'checkpoint-backwards',
            `the newest checkpoint of the model is older than the cached ${last}`,
          );
        }
        if (state === '22012' && req.fence) {
          throw await this.fenced(client, schemaName, tableName, req.fence.generation);
        }
        // 42P10: no unique index on the key; 21000: one row affected twice; 23505: one new key inserted twice
        // (all refused above: the write refusing them is the backstop)
        if (state === '42P10')
          return await fallback('duplicate-key', `${label} has no unique index on the key`);
        if (state === '21000' || state === '23505')
          return await fallback('duplicate-key', `the model returns duplicate keys`);
        throw error;
      }
      const top = (results.find((r) => r.fields[0]?.name === 'top')?.rows[0] as { top: string | null })?.top;
      const row = (field: string) =>
        results.find((r) => r.fields[0]?.name === field)?.rows[0] as Record<string, string> | undefined;
      const before = row('inserted_before');
      const after = row('inserted_after');
      const plain = row('inserted');
      const counts = useMerge
        ? {
            inserted: Number(after?.inserted_after) - Number(before?.inserted_before),
            updated: Number(after?.updated_after) - Number(before?.updated_before),
          }
        : { inserted: Number(plain?.inserted ?? 0), updated: Number(plain?.updated ?? 0) };
      return {
        merged: true,
        inserted: counts.inserted,
        updated: counts.updated,
        checkpoint: top ?? null,
        queryMs,
      };
    } catch (error) {
      cancelling.stop();
      let broken = false;
      if (inTransaction) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
      }
      const classified = buildError(error, { engine: ENGINE, label, signal });
      if (broken || classified.errorClass === 'connection') releaseWith = classified;
      throw classified;
    } finally {
      cancelling.stop();
      client.release(releaseWith ?? (cancelling.dispatched() ? new Error('cancel dispatched') : undefined));
    }
  }

  /** The query of the columns (name, SQL type, the type without its modifier) of a relation given as a quoted name; none when it does not exist. */
  private columnsSql(relation: string): string {
    return `SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
                   pg_catalog.format_type(a.atttypid, NULL) AS base
              FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = pg_catalog.to_regclass(${pgLiteral(relation)}) AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum`;
  }

  /** Several statements in one message (simple protocol, no parameters): every statement's result, in order. */
  private async multi(client: PoolClient, text: string): Promise<QueryResult[]> {
    const results = (await client.query(text)) as unknown as QueryResult | QueryResult[];
    return Array.isArray(results) ? results : [results];
  }

  /** On abort, cancels the client's running statement (again every second until the refresh unwinds). */
  private cancelOnAbort(
    client: PoolClient,
    signal: AbortSignal | undefined,
  ): { stop: () => void; dispatched: () => boolean } {
    if (!signal) return { stop: () => undefined, dispatched: () => false };
    const pid = (client as unknown as { processID?: number }).processID;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const cancel = () => {
      if (stopped || pid === undefined) return;
      void this.cancelBackend(pid);
      timer ??= setInterval(() => void this.cancelBackend(pid), 1000);
    };
    signal.addEventListener('abort', cancel, { once: true });
    return {
      stop: () => {
        stopped = true;
        signal.removeEventListener('abort', cancel);
        if (timer) clearInterval(timer);
      },
      dispatched: () => timer !== undefined,
    };
  }

  private async cancelBackend(pid: number): Promise<void> {
    // a dedicated connection: the pool may be exhausted by the very statement being cancelled
    const c = new Client(this.clientConfig);
    c.on('error', ignoreConnectionError);
    try {
      await c.connect();
      await c.query('SELECT pg_catalog.pg_cancel_backend($1)', [pid]);
    } catch {
      // best effort: the statement timeout still bounds the statement
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /**
   * Change signature of a model's inputs, in one READ ONLY transaction: the relations of `EXPLAIN (FORMAT JSON,
   * VERBOSE)` of exactly what a build runs (views expanded), then per relation its oid, relfilenode (TRUNCATE,
   * VACUUM FULL, CLUSTER and a rebuilt cache table change it; they do not bump the counters) and the cumulative
   * insert/update/delete counters, plus the database's stats reset time and the postmaster start time (a reset or a
   * restart can bring counters back to earlier values). Cannot tell: foreign/function/sample scans, run-time
   * partition pruning, value keywords (CURRENT_TIMESTAMP …), any called name with a non-immutable pg_proc entry
   * (now(), random(), a volatile function that reads other tables), a relation without stats.
   * The counters lag commits: a backend reports them when it goes idle, at most once a second (PGSTAT_MIN_INTERVAL)
   * — see docs/ARCHITECTURE.md for how the refresher accounts for that window.
   */
  async readInputSignature(req: InputSignatureRequest): Promise<InputSignature> {
    const [one] = await this.readInputSignatures([req]);
    return one;
  }

  /**
   * Signatures of many models in one READ ONLY transaction: one EXPLAIN (or refresh-key query) per model, then ONE
   * statistics query for all their relations and called names. The EXPLAIN is skipped for a model whose plan was
   * read before while the catalog fingerprint (read first, in the BEGIN message) is still the same: the relations
   * are then looked up by name as always (a table recreated has a new oid), the called names' volatility too. A statement that fails aborts the shared
   * transaction: then each model is read on its own (its failure is its own "cannot tell").
   */
  async readInputSignatures(reqs: InputSignatureRequest[]): Promise<InputSignature[]> {
    if (reqs.length === 0) return [];
    try {
      return await this.withClient((c) => this.signaturesOn(c, reqs));
    } catch (error) {
      if (reqs.length === 1) throw error;
      const out: InputSignature[] = [];
      for (const req of reqs) {
        out.push(
          await this.readInputSignature(req).catch((e: unknown) =>
            cannotTell(`the signature could not be read: ${e instanceof Error ? e.message : String(e)}`),
          ),
        );
      }
      return out;
    }
  }

  private async signaturesOn(c: PoolClient, reqs: InputSignatureRequest[]): Promise<InputSignature[]> {
    const timeoutMs = Math.max(1, Math.floor(Math.max(...reqs.map((r) => r.statementTimeoutMs))));
    const own = reqs.every((r) => r.ownSchema && r.ownSchema === reqs[0].ownSchema)
      ? reqs[0].ownSchema!
      : null;
    const needsPlan = reqs.some((r) => !r.refreshKeySql);
    // a model naming the cache schema reads cache tables, whose catalog rows the fingerprint leaves out
    const reusableSql = (sql: string) => own === null || !sql.toLowerCase().includes(own.toLowerCase());
    // a model with a remembered plan waits for the fingerprint; the others' EXPLAINs (and refresh-key queries) go
    // out at once with BEGIN and the fingerprint on the pipelined connection: one round trip for all of them; the
    // server runs them in order, and a failing one aborts the transaction, so the ones behind it are refused
    const remembered = reqs.map((r) => !r.refreshKeySql && reusableSql(r.sql) && this.learnt.has(r.sql));
    const ask = (req: InputSignatureRequest) =>
      req.refreshKeySql
        ? c.query({
            text: refreshKeySelect(req.refreshKeySql),
            queryMode: 'extended',
            rowMode: 'array',
          } as { text: string })
        : c.query<{ 'QUERY PLAN': unknown }>({
            text: explainModel('EXPLAIN (FORMAT JSON, VERBOSE)', req.sql),
            queryMode: 'extended',
          } as { text: string });
    const askAll = (which: boolean[]) => {
      const sent = inOneWrite(c, () => reqs.map((req, i) => (which[i] ? ask(req) : null)));
      for (const p of sent) p?.catch(() => undefined);
      return sent;
    };
    const [begun, fingerprinted, first] = inOneWrite(
      c,
      () =>
        [
          c.query(
            `BEGIN READ ONLY; SET LOCAL statement_timeout = ${timeoutMs}; SET LOCAL standard_conforming_strings = on` +
              (needsPlan ? '; SAVEPOINT mp_catalog' : ''),
          ),
          // a named statement: planned once per connection (its planning cost more than running it, on every
          // signature reading's path); `own` is its one parameter
          needsPlan
            ? c.query({ name: 'mp_catalog_fingerprint', text: CATALOG_FINGERPRINT_SQL, values: [own] })
            : null,
          askAll(remembered.map((r) => !r)),
        ] as const,
    );
    for (const p of [begun, fingerprinted]) p?.catch(() => undefined);
    let asked = first;
    let committed = false;
    try {
      await begun;
      let fp: { fingerprint: string; own_reached: boolean } | undefined;
      if (fingerprinted) {
        try {
          fp = (await fingerprinted).rows[0] as typeof fp;
        } catch (error) {
          // a catalog this role may not read (a restricted managed server): every model is EXPLAINed, and the
          // ones already sent behind the failed fingerprint were refused
          await c.query('ROLLBACK TO SAVEPOINT mp_catalog').catch(() => {
            throw error;
          });
          asked = askAll(reqs.map(() => true));
        }
      }
      // null: nothing is reused nor remembered
      const catalog =
        needsPlan && fp && typeof fp.fingerprint === 'string' && fp.own_reached === false
          ? `${own ?? ''}|${fp.fingerprint}`
          : null;
      const reusable = (sql: string) => catalog !== null && reusableSql(sql);
      // a remembered plan of another catalog is learnt again (one more round trip, after a DDL)
      const relearn = reqs.map(
        (req, i) =>
          remembered[i] &&
          asked[i] === null &&
          !(reusable(req.sql) && this.learnt.get(req.sql)?.catalog === catalog),
      );
      if (relearn.some(Boolean)) {
        const again = askAll(relearn);
        asked = asked.map((p, i) => (relearn[i] ? again[i] : p));
      }
      const out: (InputSignature | { relations: string[]; calls: string[] })[] = [];
      for (const [i, req] of reqs.entries()) {
        if (req.refreshKeySql) {
          const key = await asked[i]!;
          const rows = (key.rows as unknown[]).map((r) => JSON.stringify(r)).sort();
          out.push({ signature: hashSignature(['refresh-key', rows]), relations: [], via: 'refresh-key' });
          continue;
        }
        const sent = asked[i];
        if (sent === null) {
          const known = this.learnt.get(req.sql)!;
          out.push({ relations: known.relations, calls: known.calls });
          continue;
        }
        const explained = (await sent) as QueryResult<{ 'QUERY PLAN': unknown }>;
        const plan = readPostgresPlan(explained.rows[0]?.['QUERY PLAN']);
        if (plan.uncertain) {
          out.push(cannotTell(plan.uncertain));
          continue;
        }
        const names = calledNames(req.sql, ENGINE, plan.expressions);
        if (names.uncertain) {
          out.push(cannotTell(names.uncertain));
          continue;
        }
        const relations = [
          ...new Set(
            plan.relations.map((r) => (r.schema === null ? q(r.name) : `${q(r.schema)}.${q(r.name)}`)),
          ),
        ].sort();
        out.push({ relations, calls: names.calls });
        if (catalog !== null && reusable(req.sql)) {
          if (this.learnt.size >= MAX_LEARNT) this.learnt.clear();
          this.learnt.set(req.sql, { relations, calls: names.calls, catalog });
        }
      }
      const pending = out.filter((o): o is { relations: string[]; calls: string[] } => !('signature' in o));
      if (pending.length === 0) return out as InputSignature[];
      type TableRow = [string, string | null, string | null, string | null, string, string, string, boolean];
      const distinct = (xs: string[]) => [...new Set(xs)];
      // the statistics query and COMMIT in one write (one round trip on a build's path); a named statement, as its
      // planning costs more than running it
      const [stats, commit] = inOneWrite(
        c,
        () =>
          [
            c.query({
              name: 'mp_input_statistics',
              text: INPUT_STATISTICS_SQL,
              values: [
                distinct(pending.flatMap((p) => p.relations)),
                distinct(pending.flatMap((p) => p.calls)),
              ],
            }),
            c.query('COMMIT'),
          ] as const,
      );
      // the COMMIT ends the transaction either way (after a failed statement it rolls back)
      committed = true;
      await Promise.allSettled([stats, commit]);
      const r = await stats;
      await commit;
      const row = r.rows[0] as
        { tables: TableRow[]; stats_reset: string | null; started: string; volatile: string[] } | undefined;
      const byName = new Map((row?.tables ?? []).map((t) => [t[0], t]));
      const volatile = new Set(row?.volatile ?? []);
      return out.map((o): InputSignature => {
        if ('signature' in o) return o;
        if (!row) return cannotTell('the signature could not be read');
        const called = o.calls.filter((f) => volatile.has(f));
        if (called.length > 0)
          return cannotTell(`the model calls ${called.join(', ')}, which is not immutable`);
        const tables: TableRow[] = [];
        for (const name of o.relations) {
          const t = byName.get(name);
          if (!t || t[1] === null) return cannotTell(`${name} is gone`);
          if (!['r', 'p', 'm'].includes(t[2] ?? '')) return cannotTell(`${name} is not a table`);
          if (!t[7]) return cannotTell(`${name} has no statistics`);
          tables.push(t);
        }
        return {
          // the catalog too: a view redefined over the same tables, a column added under `select *`, a function
          // or policy replaced change what the model returns without any table changing
          signature: hashSignature(['pg', tables, row.stats_reset, row.started, fp?.fingerprint ?? null]),
          relations: o.relations,
          via: 'stats',
        };
      });
    } finally {
      // a failed statement left the transaction aborted: COMMIT then rolls back
      if (!committed) await c.query('COMMIT').catch(() => undefined);
    }
  }

  async tableExists(schemaName: string, tableName: string): Promise<boolean> {
    return this.withClient(async (c) => {
      const r = await c.query(
        `SELECT 1 FROM pg_catalog.pg_class t JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
          WHERE n.nspname = $1 AND t.relname = $2`,
        [schemaName, tableName],
      );
      return (r.rowCount ?? 0) > 0;
    });
  }

  async dropTable(schemaName: string, tableName: string): Promise<void> {
    const name = qualifiedName(ENGINE, schemaName, tableName);
    await this.withClient(async (c) => {
      await c.query('BEGIN');
      try {
        await c.query(`SET LOCAL statement_timeout = ${Math.max(1, this.conn.statementTimeoutMs)}`);
        await c.query(`DROP TABLE IF EXISTS ${name}`);
        await c.query('COMMIT');
      } catch (error) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  async dropOrphanTempTables(schemaName: string, liveGenerations?: LiveGenerations): Promise<number> {
    return this.withClient(async (c) => {
      // tables of a refresh in progress are uncommitted, hence invisible here; a build that lost its lease
      // in a paused process may still have committed one: listed first, liveness asked second
      const r = await c.query<{ relname: string }>(
        `SELECT t.relname FROM pg_catalog.pg_class t JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
          WHERE n.nspname = $1 AND t.relkind IN ('r', 'p') AND (t.relname LIKE $2 OR t.relname LIKE $3)`,
        [schemaName, likePrefix(TEMP_TABLE_PREFIX), likePrefix(BACKUP_TABLE_PREFIX)],
      );
      const names = r.rows.map((row) => row.relname);
      const live = await liveBuildNames(names, liveGenerations);
      let dropped = 0;
      for (const name of names) {
        if (live.has(name)) continue;
        await c.query(`DROP TABLE IF EXISTS ${qualifiedName(ENGINE, schemaName, name)}`);
        dropped += 1;
      }
      return dropped;
    });
  }

  async checkCanPersist(ctx: CanPersistContext): Promise<CanPersistResult> {
    const schema = ctx.schemaName;
    const checkTable = qualifiedName(ENGINE, schema, `${CHECK_TABLE_PREFIX}${randomInt(1_000_000)}`);
    const cacheInfo = qualifiedName(ENGINE, schema, CACHE_INFO_TABLE);
    let client: PoolClient;
    try {
      client = await this.connect();
    } catch (error) {
      return canPersistFailure('create-schema', schema, error, ENGINE);
    }
    let broken: Error | undefined;
    const run = async (step: Parameters<typeof canPersistFailure>[0], fn: () => Promise<unknown>) => {
      try {
        await fn();
        return undefined;
      } catch (error) {
        const failure = canPersistFailure(step, schema, error, ENGINE);
        if (failure.errorClass === 'connection') broken = classifySourceError(error, ENGINE);
        return failure;
      }
    };
    try {
      return (
        (await run('create-schema', () => this.ensureSchema(client, schema, false))) ??
        (await run('create-table', () => client.query(`CREATE TABLE ${checkTable} AS SELECT 1 AS field`))) ??
        (await run('read-table', () => client.query(`SELECT * FROM ${checkTable}`))) ??
        (await run('drop-table', () => client.query(`DROP TABLE ${checkTable}`))) ??
        (await run('create-cache-info', async () => {
          await client.query('BEGIN');
          try {
            await client.query(`DROP TABLE IF EXISTS ${cacheInfo}`);
            await client.query(`CREATE TABLE ${cacheInfo} (key text PRIMARY KEY, value text)`);
            await client.query(
              `INSERT INTO ${cacheInfo} (key, value) VALUES ('settings-version', $1), ('created-at', $2), ('instance-uuid', $3)`,
              [ctx.settingsVersion, new Date().toISOString(), ctx.instanceUuid],
            );
            await client.query('COMMIT');
          } catch (error) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw error;
          }
        })) ?? { ok: true, privilegeWarning: await auditPostgresPrivileges(client, schema) }
      );
    } finally {
      // a check table left by a failed read/drop step is not ours to keep
      await client.query(`DROP TABLE IF EXISTS ${checkTable}`).catch(() => undefined);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
