import { randomInt } from 'node:crypto';
import { Client, ClientConfig, Pool, PoolClient, QueryResult } from 'pg';
import { assertSafeModelSql } from './model-sql';
import { postgresCreateTableAsModel } from './model-statement';
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
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_POOL_SIZE,
  swapLockOf,
  SwapLock,
} from './driver-support';
import type {
  CanPersistContext,
  CanPersistResult,
  LiveGenerations,
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
   * Inside the swap transaction: records this build's generation for the table unless a newer one is there.
   * The fence row stays locked until COMMIT, so a concurrent swap of the same table waits and then re-checks
   * against what this one wrote: an older generation can never swap last.
   */
  private async checkFence(
    client: PoolClient,
    schemaName: string,
    tableName: string,
    generation: number,
  ): Promise<void> {
    const fence = qualifiedName(ENGINE, schemaName, FENCE_TABLE);
    const r = await client.query(
      `INSERT INTO ${fence} AS f (table_name, generation) VALUES ($1, $2)
       ON CONFLICT (table_name) DO UPDATE SET generation = EXCLUDED.generation
        WHERE f.generation <= EXCLUDED.generation
       RETURNING generation`,
      [tableName, generation],
    );
    if ((r.rowCount ?? 0) > 0) return;
    const stored = await client.query<{ g: string }>(
      `SELECT generation::text AS g FROM ${fence} WHERE table_name = $1`,
      [tableName],
    );
    throw fencedError(
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
   * Three round trips: (1) BEGIN and the transaction's settings, (2) the model SQL alone under the extended
   * protocol, (3) the swap, the definition and COMMIT as one multi-statement message. Only (2) carries
   * user-written SQL; (1) and (3) are built from quoted identifiers and numbers only.
   */
  private async refreshOnce(req: RefreshTableRequest): Promise<RefreshTableResult> {
    const { schemaName, tableName, signal } = req;
    const label = `${schemaName}.${tableName}`;
    if (signal?.aborted) throw abortError(label, signal);
    let sql: string;
    try {
      sql = assertSafeModelSql(req.sql, ENGINE);
    } catch (error) {
      throw classifySourceError(error, ENGINE);
    }
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
    try {
      const step = async <T>(fn: () => Promise<T>): Promise<T> => {
        if (signal?.aborted) throw abortError(label, signal);
        return fn();
      };
      await step(() => this.ensureSchema(client, schemaName));
      if (req.fence) await step(() => this.ensureFenceTable(client, schemaName));
      inTransaction = true;
      // PostgreSQL 14+: if this process dies mid-build, the server notices the closed socket within a second
      // and cancels the build instead of running it to the end. standard_conforming_strings is pinned: the
      // model SQL was checked by a lexer that assumes standard strings.
      await step(() =>
        client.query(
          `BEGIN; SET LOCAL statement_timeout = ${timeoutMs}; SET LOCAL standard_conforming_strings = on;
           SELECT pg_catalog.set_config('client_connection_check_interval', '1000', true)
            WHERE pg_catalog.current_setting('server_version_num')::int >= 140000;
           DROP TABLE IF EXISTS ${tmp}`,
        ),
      );
      // the server enforces one read query: a derived table (no data-modifying WITH, no INTO) sent with the
      // extended protocol (no second statement)
      const created = await step(() =>
        client.query({ text: postgresCreateTableAsModel(tmp, sql), queryMode: 'extended' } as {
          text: string;
        }),
      );
      const fence = req.fence;
      if (fence) await step(() => this.checkFence(client, schemaName, tableName, fence.generation));
      const columns = await step(() => this.swapAndCommit(client, { target, tmp, bak, tableName, bakName }));
      inTransaction = false;
      return {
        rows: created.rowCount ?? null,
        definition: {
          tableName,
          fieldDefinitions: columns.map((c) => ({ fieldName: c.name, baseType: c.type })),
        },
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
      const classified =
        signal?.aborted &&
        !(error instanceof SourceError && (error.details?.aborted || error.details?.fenced))
          ? abortError(label, signal, error)
          : classifySourceError(error, ENGINE);
      if (broken || classified.errorClass === 'connection') releaseWith = classified;
      throw classified;
    } finally {
      stopCancelling();
      // a cancel still in flight could hit the next user of this pooled connection: discard it instead
      client.release(releaseWith ?? (cancelling.dispatched() ? new Error('cancel dispatched') : undefined));
    }
  }

  /**
   * Renames under a short lock_timeout, retried from a savepoint, so queued readers never wait long; then
   * reads the new table's columns and commits, all in one message per attempt (the exclusive locks are held
   * for one round trip only). An error stops the message before COMMIT, leaving the transaction to roll back.
   */
  private async swapAndCommit(
    client: PoolClient,
    n: { target: string; tmp: string; bak: string; tableName: string; bakName: string },
  ): Promise<{ name: string; type: string }[]> {
    const attemptSql = `SET LOCAL lock_timeout = ${this.swapLock.timeoutMs}; SAVEPOINT mp_swap;
      DROP TABLE IF EXISTS ${n.bak};
      ALTER TABLE IF EXISTS ${n.target} RENAME TO ${q(n.bakName)};
      ALTER TABLE ${n.tmp} RENAME TO ${q(n.tableName)};
      DROP TABLE IF EXISTS ${n.bak};
      RELEASE SAVEPOINT mp_swap;
      SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type
        FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = ${pgLiteral(n.target)}::regclass AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum;
      COMMIT`;
    for (let attempt = 1; ; attempt++) {
      try {
        const results = (await client.query(attemptSql)) as unknown as QueryResult | QueryResult[];
        const all = Array.isArray(results) ? results : [results];
        const columns = all.find((r) => r.command === 'SELECT');
        if (!columns) throw new Error('the swap returned no column list');
        return columns.rows as { name: string; type: string }[];
      } catch (error) {
        if (sqlState(error) !== '55P03' || attempt >= this.swapLock.attempts) throw error;
        await client.query('ROLLBACK TO SAVEPOINT mp_swap');
      }
    }
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
