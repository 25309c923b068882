import { createHash, randomInt } from 'node:crypto';
import {
  createConnection,
  createPool,
  Pool,
  PoolConnection,
  ConnectionOptions,
  ResultSetHeader,
  RowDataPacket,
} from 'mysql2/promise';
import {
  calledNames,
  cannotTell,
  hashSignature,
  InputSignature,
  InputSignatureRequest,
  readMysqlPlan,
} from './change-signature';
import { innodbTableName } from './innodb-name';
import {
  explainModel,
  refreshKeySelect,
  modelDeltaSelect,
  MysqlSessionConnection,
  mysqlCreateTableAsModel,
  pinMysqlSession,
} from './model-statement';
import {
  BACKUP_TABLE_PREFIX,
  backupTableName,
  CACHE_INFO_TABLE,
  CHECK_TABLE_PREFIX,
  FENCE_TABLE,
  qualifiedName,
  quoteIdentifier,
  TEMP_TABLE_PREFIX,
  tempTableGeneration,
  tempTableName,
} from './naming';
import { liveBuildNames } from './live-builds';
import { indexKeyError, mysqlIndexKey, MysqlColumnInfo, uniqueKeyProblem } from './mysql-index-key';
import { auditMysqlPrivileges } from './privilege-audit';
import { classifySourceError, SourceError } from './source-error';
import { errorMessage } from '@model-persistence/errors';
import { mysqlSslOptions } from './tls-options';
import {
  abortError,
  fencedError,
  lookbackSql,
  missingColumns,
  missingIndexColumnError,
  canPersistFailure,
  connectFailure,
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
  CanPersistStep,
  ManagedIndex,
  MergeTableRequest,
  MergeTableResult,
  RefreshTableRequest,
  RefreshTableResult,
  SourceConnectionInfo,
  SourceDriver,
  SourceDriverOptions,
} from './types';

const ENGINE = 'mysql' as const;
const q = (name: string) => quoteIdentifier(ENGINE, name);
const likePrefix = (prefix: string) => `${prefix.replace(/[\\_%]/g, (c) => `\\${c}`)}%`;

type Flavor = 'mariadb' | 'mysql';

/** A CAST(… AS CHAR) result: a string (mysql2 may hand a Buffer for binary collations), or null. */
const textOf = (v: unknown): string | null =>
  v === null || v === undefined
    ? null
    : Buffer.isBuffer(v)
      ? v.toString('utf8')
      : typeof v === 'string'
        ? v
        : JSON.stringify(v);

/** A connection's own 'error' event: the failure reaches the caller through its command instead. */
const ignoreConnectionError = (): void => undefined;

/**
 * MySQL/MariaDB driver (a cache "schema" is a database). A refresh builds `<tmp>` with
 * `CREATE TABLE … AS SELECT * FROM (<model SQL>) AS mp_model` on the server (a derived table refuses INTO; no
 * multipleStatements; sql_mode pinned on every connection), then swaps with ONE `RENAME TABLE target TO backup,
 * tmp TO target` (atomic for readers) and drops the backup; on a first refresh it just renames tmp → target. DDL is
 * not transactional here, so every failure path drops the temporary table, and dropOrphanTempTables removes
 * what a killed process left.
 *
 * Statement timeout: MariaDB runs the build under `SET STATEMENT max_statement_time=<s> FOR …`. MySQL's
 * max_execution_time only applies to read-only SELECTs, not to CREATE … SELECT, so on MySQL (and as a backstop
 * on MariaDB) a client-side deadline issues `KILL QUERY <connection id>` from a second connection.
 */
export class MysqlSourceDriver implements SourceDriver {
  readonly engine = ENGINE;
  private readonly pool: Pool;
  private readonly connectionConfig: ConnectionOptions;
  private flavor?: Promise<Flavor>;
  private longUnique?: Promise<boolean>;
  private readonly swapLock: SwapLock;
  private closed = false;

  constructor(
    private readonly conn: SourceConnectionInfo,
    options: SourceDriverOptions = {},
  ) {
    this.swapLock = swapLockOf(options);
    this.connectionConfig = {
      host: conn.host,
      port: conn.port,
      user: conn.username,
      password: conn.password ?? undefined,
      database: conn.dbName,
      connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // the server itself then refuses a second statement, whatever the lexer thought
      multipleStatements: false,
      supportBigNumbers: true,
      bigNumberStrings: true,
      ssl: mysqlSslOptions(conn),
    };
    this.pool = createPool({
      ...this.connectionConfig,
      connectionLimit: options.poolSize ?? DEFAULT_POOL_SIZE,
      waitForConnections: true,
      enableKeepAlive: true,
      idleTimeout: 30_000,
      maxIdle: 1,
    });
    // mysql2 removes a pooled connection on its FIRST 'error' event only (a `once` listener) and emits 'error'
    // when the server ends it (KILL CONNECTION, a restart): a listener of ours for the connection's whole life
    // keeps any further one from being an unhandled 'error' event that ends the process. The command in flight
    // is rejected with the error itself (classified `connection`).
    // One known sql_mode on every pooled connection, whatever the server's default: strings lex the way the
    // model-SQL lexer assumes (model-statement.ts). mysql2 emits its callback-style connection here, whatever
    // the promise typings say.
    this.pool.on('connection', (connection) => {
      connection.on('error', ignoreConnectionError);
      pinMysqlSession(connection as unknown as MysqlSessionConnection);
    });
  }

  private where(): string {
    return `${this.conn.host}:${this.conn.port}/${this.conn.dbName}`;
  }

  private async connect(): Promise<PoolConnection> {
    try {
      return await this.pool.getConnection();
    } catch (error) {
      throw connectFailure(error, ENGINE, this.where());
    }
  }

  private async withConnection<T>(fn: (c: PoolConnection) => Promise<T>): Promise<T> {
    const c = await this.connect();
    let broken = false;
    try {
      return await fn(c);
    } catch (error) {
      const classified = classifySourceError(error, ENGINE);
      broken = classified.errorClass === 'connection';
      throw classified;
    } finally {
      if (broken) c.destroy();
      else c.release();
    }
  }

  private getFlavor(c: PoolConnection): Promise<Flavor> {
    this.flavor ??= c
      .query<RowDataPacket[]>('SELECT VERSION() AS v')
      .then(([rows]) => (/mariadb/i.test(String(rows[0]?.v)) ? 'mariadb' : 'mysql'));
    // a failed probe must not stick
    this.flavor.catch(() => (this.flavor = undefined));
    return this.flavor;
  }

  /** MariaDB ≥ 10.4 builds a unique index on long columns exactly, as a hash (long unique index). */
  private hasLongUnique(c: PoolConnection): Promise<boolean> {
    this.longUnique ??= c.query<RowDataPacket[]>('SELECT VERSION() AS v').then(([rows]) => {
      const v = String(rows[0]?.v);
      const m = /^(\d+)\.(\d+)/.exec(v);
      return /mariadb/i.test(v) && !!m && (Number(m[1]) > 10 || (Number(m[1]) === 10 && Number(m[2]) >= 4));
    });
    this.longUnique.catch(() => (this.longUnique = undefined));
    return this.longUnique;
  }

  private async exists(c: PoolConnection, schemaName: string, tableName: string): Promise<boolean> {
    const [rows] = await c.query<RowDataPacket[]>(
      'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [schemaName, tableName],
    );
    return rows.length > 0;
  }

  private async ensureSchema(c: PoolConnection, schemaName: string): Promise<void> {
    const [rows] = await c.query<RowDataPacket[]>(
      'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      [schemaName],
    );
    if (rows.length > 0) return;
    await c.query(`CREATE DATABASE IF NOT EXISTS ${q(schemaName)}`);
  }

  async refreshTable(req: RefreshTableRequest): Promise<RefreshTableResult> {
    const { schemaName, tableName, signal } = req;
    const { label, sql } = beginBuild(req, ENGINE);
    const tmpName = tempTableName(ENGINE, tableName, req.fence?.generation);
    const target = qualifiedName(ENGINE, schemaName, tableName);
    const tmp = qualifiedName(ENGINE, schemaName, tmpName);
    const bak = qualifiedName(ENGINE, schemaName, backupTableName(ENGINE, tableName));
    const timeoutMs = Math.max(1, Math.floor(req.statementTimeoutMs));

    const c = await this.connect();
    const threadId = c.threadId;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    let killing = false;
    let killDispatched = false;
    const kill = () => {
      if (killing) return;
      killing = true;
      killDispatched = true;
      void this.killQuery(threadId).finally(() => (killing = false));
    };
    const onAbort = () => kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    let broken = false;
    let tmpMayExist = false;
    const step = async <T>(fn: () => Promise<T>): Promise<T> => {
      if (signal?.aborted) throw abortError(label, signal);
      return fn();
    };
    try {
      const flavor = await step(() => this.getFlavor(c));
      await step(() => this.ensureSchema(c, schemaName));
      if (req.fence) await step(() => this.ensureFenceTable(c, schemaName));
      // only this build's own earlier attempt can have this name (it carries the generation); builds of older
      // generations of this table still running on the server (a paused or killed refresher) are doomed by the
      // fence anyway: stop them so they do not compete with this one
      await step(() => this.killOrphanBuilds(c, `${tmp} AS `));
      const fence = req.fence;
      if (fence) await step(() => this.stopOlderBuilds(c, schemaName, tableName, fence.generation));
      await step(() => c.query(`DROP TABLE IF EXISTS ${tmp}`));
      await step(() => c.query(`DROP TABLE IF EXISTS ${bak}`));
      tmpMayExist = true;
      const ctas = mysqlCreateTableAsModel(tmp, sql);
      // MariaDB enforces the timeout on the server; the client deadline (a little later there) is the backstop
      killTimer = setTimeout(
        () => {
          timedOut = true;
          kill();
        },
        flavor === 'mariadb' ? timeoutMs + 2_000 : timeoutMs,
      );
      const queryStarted = Date.now();
      const [created] = await step(() =>
        c.query<ResultSetHeader>(
          flavor === 'mariadb'
            ? `SET STATEMENT max_statement_time=${(timeoutMs / 1000).toFixed(3)} FOR ${ctas}`
            : ctas,
        ),
      );
      const queryMs = Date.now() - queryStarted;
      const [columns] = await step(() =>
        c.query<RowDataPacket[]>(
          `SELECT c.COLUMN_NAME AS name, c.COLUMN_TYPE AS type, c.DATA_TYPE AS dataType,
                  c.CHARACTER_OCTET_LENGTH AS octets, cs.MAXLEN AS maxlen
             FROM information_schema.COLUMNS c
             LEFT JOIN information_schema.CHARACTER_SETS cs ON cs.CHARACTER_SET_NAME = c.CHARACTER_SET_NAME
            WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION`,
          [schemaName, tmpName],
        ),
      );
      // the kill timer still bounds the index builds and the checkpoint read
      const built = await step(() =>
        this.buildIndexes(
          c,
          req,
          tmp,
          label,
          columns.map((col) => ({
            name: String(col.name),
            dataType: String(col.dataType),
            octets: col.octets === null || col.octets === undefined ? null : Number(col.octets),
            bytesPerChar: col.maxlen === null || col.maxlen === undefined ? 1 : Number(col.maxlen),
          })),
        ),
      );
      clearTimeout(killTimer);
      await step(() =>
        this.swap(c, { schemaName, tableName, target, tmp, bak, generation: req.fence?.generation }),
      );
      tmpMayExist = false;
      return {
        rows: typeof created.affectedRows === 'number' ? created.affectedRows : null,
        definition: {
          tableName,
          fieldDefinitions: columns.map((col) => ({
            fieldName: String(col.name),
            baseType: String(col.type),
          })),
        },
        queryMs,
        indexMs: built.indexMs,
        notUnique: built.notUnique,
        checkpoint: built.checkpoint,
      };
    } catch (error) {
      clearTimeout(killTimer);
      const classified = buildError(error, {
        engine: ENGINE,
        label,
        signal,
        ...(timedOut ? { timedOut: { timeoutMs, doing: 'refreshing' } } : {}),
      });
      broken = classified.errorClass === 'connection';
      if (tmpMayExist) await this.dropQuietly(broken ? undefined : c, tmp);
      throw classified;
    } finally {
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      // a KILL QUERY still in flight could hit the next user of this pooled connection: discard it instead
      if (broken || killDispatched) c.destroy();
      else c.release();
    }
  }

  /**
   * On the temporary table, before the swap: checks the managed indexes' columns (and the checkpoint column),
   * adds the indexes in one ALTER (index names are per table here: the stable names are used directly) and
   * reads the newest checkpoint. TEXT/BLOB and long string columns: see mysqlIndexKey.
   */
  private async buildIndexes(
    c: PoolConnection,
    req: RefreshTableRequest,
    tmp: string,
    label: string,
    columns: MysqlColumnInfo[],
  ): Promise<{ indexMs: number; notUnique: string[]; checkpoint: string | null }> {
    const indexes = req.indexes ?? [];
    const returned = columns.map((col) => col.name);
    const missing = missingColumns(returned, indexes, [req.checkpointColumn]);
    if (missing.length > 0) throw missingIndexColumnError(label, missing, returned);
    const info = new Map(columns.map((col) => [col.name, col]));
    const longUnique = indexes.length > 0 && (await this.hasLongUnique(c));
    const started = Date.now();
    const notUnique: string[] = [];
    const add = (i: ManagedIndex, unique: boolean) => {
      const key = mysqlIndexKey(label, i.name, i.columns, info, unique, longUnique);
      return `ADD ${unique ? 'UNIQUE ' : ''}INDEX ${q(i.name)} ${key.parts}${key.usingHash ? ' USING HASH' : ''}`;
    };
    const alter = async (clauses: string[], names: string[]) => {
      try {
        await c.query(`ALTER TABLE ${tmp} ${clauses.join(', ')}`);
      } catch (error) {
        // 1071 key too long, 1170 TEXT/BLOB without a length, 1089 bad prefix: the clear error, not the server's
        const errno = (error as { errno?: number }).errno;
        if (errno !== 1071 && errno !== 1170 && errno !== 1089) throw error;
        throw indexKeyError(label, names.join(', '), errorMessage(error));
      }
    };
    const plain = indexes.filter((i) => !(i.uniqueIfPossible && !i.unique));
    if (plain.length > 0) {
      await alter(
        plain.map((i) => add(i, i.unique)),
        plain.map((i) => i.name),
      );
    }
    for (const index of indexes.filter((i) => i.uniqueIfPossible && !i.unique)) {
      // a key this server cannot make unique exactly is only an ordinary index (merging stays off)
      if (uniqueKeyProblem(index.columns, info, longUnique)) {
        await alter([add(index, false)], [index.name]);
        notUnique.push(index.name);
        continue;
      }
      try {
        await alter([add(index, true)], [index.name]);
      } catch (error) {
        // 1062: duplicate entry; the merge key is then only an ordinary index (merging stays off)
        if ((error as { errno?: number }).errno !== 1062) throw error;
        await alter([add(index, false)], [index.name]);
        notUnique.push(index.name);
      }
    }
    const indexMs = indexes.length > 0 ? Date.now() - started : 0;
    let checkpoint: string | null = null;
    if (req.checkpointColumn) {
      const [rows] = await c.query<RowDataPacket[]>(
        `SELECT CAST(MAX(${q(req.checkpointColumn)}) AS CHAR) AS c FROM ${tmp}`,
      );
      checkpoint = textOf(rows[0]?.c);
    }
    return { indexMs, notUnique, checkpoint };
  }

  async mergeTable(req: MergeTableRequest): Promise<MergeTableResult> {
    const { schemaName, tableName, signal } = req;
    const { label, sql } = beginBuild(req, ENGINE);
    const target = qualifiedName(ENGINE, schemaName, tableName);
    const timeoutMs = Math.max(1, Math.floor(req.statementTimeoutMs));
    const c = await this.connect();
    const threadId = c.threadId;
    let timedOut = false;
    let killDispatched = false;
    const kill = () => {
      killDispatched = true;
      void this.killQuery(threadId);
    };
    const onAbort = () => kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    let broken = false;
    let inTransaction = false;
    const step = async <T>(fn: () => Promise<T>): Promise<T> => {
      if (signal?.aborted) throw abortError(label, signal);
      return fn();
    };
    const delta = '`mp_delta`';
    let killTimer: NodeJS.Timeout | undefined;
    try {
      const flavor = await step(() => this.getFlavor(c));
      if (req.fence) await step(() => this.ensureFenceTable(c, schemaName));
      await step(() => c.query(`DROP TEMPORARY TABLE IF EXISTS ${delta}`));
      const [targetCols] = await step(() =>
        c.query<RowDataPacket[]>(
          `SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS
            WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
          [schemaName, tableName],
        ),
      );
      const names = targetCols.map((r) => String(r.name));
      if (names.length === 0)
        return { merged: false, fallback: 'no-table', message: `${label} does not exist` };
      if (!names.includes(req.checkpointColumn) || req.uniqueKey.some((k) => !names.includes(k))) {
        return {
          merged: false,
          fallback: 'columns-changed',
          message: `${label} lacks the checkpoint or key column(s)`,
        };
      }
      const cp = q(req.checkpointColumn);
      const [since] = await step(() =>
        c.query<RowDataPacket[]>(`SELECT CAST(MAX(${cp}) AS CHAR) AS c FROM ${target}`),
      );
      const last = textOf(since[0]?.c);
      if (last === null) {
        return { merged: false, fallback: 'no-checkpoint', message: `${label} holds no checkpoint` };
      }
      const lastSql = c.escape(last);
      killTimer = setTimeout(
        () => {
          timedOut = true;
          kill();
        },
        flavor === 'mariadb' ? timeoutMs + 2_000 : timeoutMs,
      );
      const create = `CREATE TEMPORARY TABLE ${delta} AS ${modelDeltaSelect(sql, cp, `${lastSql}${lookbackSql(ENGINE, req.lookback)}`)}`;
      const queryStarted = Date.now();
      await step(() =>
        c.query(
          flavor === 'mariadb'
            ? `SET STATEMENT max_statement_time=${(timeoutMs / 1000).toFixed(3)} FOR ${create}`
            : create,
        ),
      );
      const queryMs = Date.now() - queryStarted;
      const [fields] = await step(() => c.query<RowDataPacket[]>(`SHOW COLUMNS FROM ${delta}`));
      if (fields.map((f) => String(f.Field)).join('\u0000') !== names.join('\u0000')) {
        return {
          merged: false,
          fallback: 'columns-changed',
          message: `the model's columns differ from ${label}'s`,
        };
      }
      const keys = req.uniqueKey.map(q);
      // MySQL cannot open one temporary table twice in a statement: one check per statement
      const [dupRows] = await step(() =>
        c.query<RowDataPacket[]>(
          `SELECT 1 AS dup FROM ${delta} GROUP BY ${keys.join(', ')} HAVING COUNT(*) > 1 LIMIT 1`,
        ),
      );
      const [nullRows] = await step(() =>
        c.query<RowDataPacket[]>(
          `SELECT 1 AS nullkey FROM ${delta} WHERE ${keys.map((k) => `${k} IS NULL`).join(' OR ')} LIMIT 1`,
        ),
      );
      const [topRows] = await step(() =>
        c.query<RowDataPacket[]>(
          `SELECT MAX(${cp}) >= ${lastSql} AS forward, CAST(MAX(${cp}) AS CHAR) AS top FROM ${delta}`,
        ),
      );
      if (dupRows.length > 0 || nullRows.length > 0) {
        return {
          merged: false,
          fallback: 'duplicate-key',
          message: 'the model returns duplicate or null keys',
        };
      }
      if (Number(topRows[0]?.forward) !== 1) {
        return {
          merged: false,
          fallback: 'checkpoint-backwards',
          message: `the newest checkpoint of the model is older than the cached ${last}`,
        };
      }
      const top = textOf(topRows[0]?.top);
      const [uniqueRows] = await step(() =>
        c.query<RowDataPacket[]>(
          `SELECT INDEX_NAME AS name, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR '\u0000') AS cols
             FROM information_schema.STATISTICS
            WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 GROUP BY INDEX_NAME`,
          [schemaName, tableName],
        ),
      );
      const keySet = [...req.uniqueKey].sort().join('\u0000');
      if (!uniqueRows.some((r) => String(r.cols).split('\u0000').sort().join('\u0000') === keySet)) {
        return {
          merged: false,
          fallback: 'duplicate-key',
          message: `${label} has no unique index on the key`,
        };
      }
      const cols = names.map(q);
      const others = names.filter((n) => !req.uniqueKey.includes(n)).map(q);
      const join = keys.map((k) => `t.${k} = d.${k}`).join(' AND ');
      const [countRows] = await step(() =>
        c.query<RowDataPacket[]>(
          `SELECT COUNT(*) AS matched,
                  COALESCE(SUM(${others.length === 0 ? '0' : `NOT (${others.map((o) => `t.${o} <=> d.${o}`).join(' AND ')})`}), 0) AS changed
             FROM ${delta} d JOIN ${target} t ON ${join}`,
        ),
      );
      const [totalRows] = await step(() => c.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${delta}`));
      const upsert =
        `INSERT INTO ${target} (${cols.join(', ')}) SELECT ${cols.join(', ')} FROM ${delta} ` +
        (others.length === 0
          ? `ON DUPLICATE KEY UPDATE ${keys[0]} = ${keys[0]}`
          : `ON DUPLICATE KEY UPDATE ${others.map((o) => `${o} = VALUES(${o})`).join(', ')}`);
      const generation = req.fence?.generation;
      await step(() =>
        this.withSwapLock(c, { schemaName, tableName }, generation !== undefined, async () => {
          await c.query('START TRANSACTION');
          inTransaction = true;
          await c.query(upsert);
          // the fence is part of the merge's transaction, checked last: a newer generation recorded at any time
          // before this point (even while the upsert ran) rolls the merge back; one recorded after it waits on
          // the fence row's lock until COMMIT, i.e. comes after this merge
          if (generation !== undefined) await this.recordFence(c, schemaName, tableName, generation);
          await c.query('COMMIT');
          inTransaction = false;
        }),
      );
      clearTimeout(killTimer);
      const matched = Number(countRows[0]?.matched ?? 0);
      return {
        merged: true,
        inserted: Number(totalRows[0]?.n ?? 0) - matched,
        updated: Number(countRows[0]?.changed ?? 0),
        checkpoint: top,
        queryMs,
      };
    } catch (error) {
      clearTimeout(killTimer);
      const classified = buildError(error, {
        engine: ENGINE,
        label,
        signal,
        ...(timedOut ? { timedOut: { timeoutMs, doing: 'merging into' } } : {}),
      });
      broken = classified.errorClass === 'connection';
      if (inTransaction && !broken) await c.query('ROLLBACK').catch(() => (broken = true));
      throw classified;
    } finally {
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      if (!broken && !killDispatched) {
        await c.query(`DROP TEMPORARY TABLE IF EXISTS ${delta}`).catch(() => (broken = true));
      }
      if (broken || killDispatched) c.destroy();
      else c.release();
    }
  }

  private async ensureFenceTable(c: PoolConnection, schemaName: string): Promise<void> {
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(ENGINE, schemaName, FENCE_TABLE)}
         (table_name VARCHAR(64) PRIMARY KEY, generation BIGINT NOT NULL)`,
    );
  }

  /**
   * Serialises the fenced writes of one table (swaps and merges) under a named lock (GET_LOCK, held by this
   * connection until released). RENAME TABLE commits implicitly, so a swap's fence cannot share a transaction
   * with it: record + check + rename run under this lock, and no other fenced write of the table interleaves.
   */
  private async withSwapLock<T>(
    c: PoolConnection,
    n: { schemaName: string; tableName: string },
    fenced: boolean,
    fn: () => Promise<T>,
  ): Promise<T> {
    if (!fenced) return fn();
    const lockName = `mp_swap_${createHash('sha256').update(`${n.schemaName}.${n.tableName}`).digest('hex').slice(0, 40)}`;
    const waitS = Math.ceil(this.swapLock.timeoutMs / 1000) * this.swapLock.attempts;
    const [got] = await c.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS ok', [lockName, waitS]);
    if (Number(got[0]?.ok) !== 1) {
      throw new SourceError('lock', `Timed out waiting for the swap lock of ${n.schemaName}.${n.tableName}`, {
        engine: ENGINE,
      });
    }
    try {
      return await fn();
    } finally {
      await c.query('SELECT RELEASE_LOCK(?)', [lockName]).catch(() => undefined);
    }
  }

  /**
   * Records this build's generation for the table (never lowering it) and reads back what is stored, with a
   * locking read: a newer generation there means this build was superseded (fenced error). Inside a
   * transaction the fence row then stays locked until COMMIT, so the check and the write it guards are one.
   */
  private async recordFence(
    c: PoolConnection,
    schemaName: string,
    tableName: string,
    generation: number,
  ): Promise<void> {
    const fence = qualifiedName(ENGINE, schemaName, FENCE_TABLE);
    await c.query(
      `INSERT INTO ${fence} (table_name, generation) VALUES (?, ?)
       ON DUPLICATE KEY UPDATE generation = GREATEST(generation, VALUES(generation))`,
      [tableName, generation],
    );
    const [rows] = await c.query<RowDataPacket[]>(
      `SELECT generation FROM ${fence} WHERE table_name = ? FOR UPDATE`,
      [tableName],
    );
    const stored = rows[0] ? Number(rows[0].generation) : null;
    if (stored !== null && stored > generation) {
      throw fencedError(`${schemaName}.${tableName}`, generation, stored);
    }
  }

  /** One RENAME TABLE moves both names at once; readers wait on the metadata lock, never see a gap. */
  private async swap(
    c: PoolConnection,
    n: {
      schemaName: string;
      tableName: string;
      target: string;
      tmp: string;
      bak: string;
      generation?: number;
    },
  ): Promise<void> {
    // bound the metadata-lock wait so readers queued behind the rename are not held for long
    await c.query(`SET SESSION lock_wait_timeout = ${Math.ceil(this.swapLock.timeoutMs / 1000)}`);
    try {
      const generation = n.generation;
      await this.withSwapLock(c, n, generation !== undefined, async () => {
        if (generation !== undefined) await this.recordFence(c, n.schemaName, n.tableName, generation);
        await this.rename(c, n);
      });
    } finally {
      await c.query('SET SESSION lock_wait_timeout = DEFAULT').catch(() => undefined);
    }
  }

  private async rename(
    c: PoolConnection,
    n: { schemaName: string; tableName: string; target: string; tmp: string; bak: string },
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (await this.exists(c, n.schemaName, n.tableName)) {
          await c.query(`RENAME TABLE ${n.target} TO ${n.bak}, ${n.tmp} TO ${n.target}`);
          await c.query(`DROP TABLE IF EXISTS ${n.bak}`);
        } else {
          await c.query(`RENAME TABLE ${n.tmp} TO ${n.target}`);
        }
        return;
      } catch (error) {
        if ((error as { errno?: number }).errno !== 1205 || attempt >= this.swapLock.attempts) throw error;
      }
    }
  }

  /**
   * MySQL/MariaDB keep running a CREATE … SELECT whose client died (a killed refresher): stop every statement
   * building this table under an older generation's temporary name (never a newer one), so the new build neither
   * waits for it nor races it, and drop the tables such builds left. The fence dooms them anyway; and a killed
   * (or just finished) CREATE … SELECT can leave its table, which a crash recovery that ran while the dead
   * build's lease was still live rightly kept.
   */
  private async stopOlderBuilds(
    c: PoolConnection,
    schemaName: string,
    tableName: string,
    generation: number,
  ): Promise<void> {
    const sample = tempTableName(ENGINE, tableName, 0);
    const prefix = sample.slice(0, sample.indexOf('_g0_') + 2); // mp_tmp_<hash>_g
    const [rows] = await c.query<RowDataPacket[]>(
      `SELECT ID AS id, INFO AS info FROM information_schema.PROCESSLIST
        WHERE ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE ?`,
      [`%CREATE TABLE ${`${q(schemaName)}.\`${prefix}`.replace(/[\\_%]/g, (ch) => `\\${ch}`)}%`],
    );
    const killed: number[] = [];
    for (const row of rows) {
      const info = String(row.info);
      const at = info.indexOf(prefix);
      const older = at >= 0 ? /^(\d+)_/.exec(info.slice(at + prefix.length)) : null;
      if (older && Number(older[1]) < generation) {
        await c.query(`KILL QUERY ${Number(row.id)}`).catch(() => undefined);
        killed.push(Number(row.id));
      }
    }
    await this.waitForQueriesToEnd(c, killed);
    const [tables] = await c.query<RowDataPacket[]>(
      `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE ?`,
      [schemaName, likePrefix(prefix)],
    );
    for (const { name } of tables as { name: string }[]) {
      const older = tempTableGeneration(String(name));
      if (
        older !== undefined &&
        older < generation &&
        String(name) === tempTableName(ENGINE, tableName, older)
      )
        await c.query(`DROP TABLE IF EXISTS ${qualifiedName(ENGINE, schemaName, String(name))}`);
    }
  }

  private async killOrphanBuilds(c: PoolConnection, createdName: string): Promise<void> {
    const [rows] = await c.query<RowDataPacket[]>(
      `SELECT ID AS id FROM information_schema.PROCESSLIST
        WHERE ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE ?`,
      [`%CREATE TABLE ${createdName.replace(/[\\_%]/g, (ch) => `\\${ch}`)}%`],
    );
    for (const row of rows) {
      await c.query(`KILL QUERY ${Number(row.id)}`).catch(() => undefined);
    }
  }

  private async dropQuietly(c: PoolConnection | undefined, table: string): Promise<void> {
    try {
      if (c) await c.query(`DROP TABLE IF EXISTS ${table}`);
      else await this.pool.query(`DROP TABLE IF EXISTS ${table}`);
    } catch {
      // dropOrphanTempTables removes it on a later run
    }
  }

  private async killQuery(threadId: number): Promise<void> {
    // a dedicated connection: the pool may be exhausted by the very statement being killed
    try {
      const k = await createConnection(this.connectionConfig);
      k.on('error', ignoreConnectionError);
      try {
        await k.query(`KILL QUERY ${Number(threadId)}`);
      } finally {
        await k.end().catch(() => undefined);
      }
    } catch {
      // best effort
    }
  }

  /**
   * Change signature of a model's inputs: the tables of `EXPLAIN FORMAT=JSON` of exactly what a build runs (views
   * expanded), plus every table the SQL names (the plan names tables without a schema and may leave out a table
   * it settled while planning), looked up in information_schema.TABLES of the connection's database and of the
   * schemas the SQL names; per table its engine, CREATE_TIME (TRUNCATE recreates the table) and UPDATE_TIME (set
   * at commit, whole seconds) and, for InnoDB, its table id (TRUNCATE changes it, and nothing else of the
   * three; needs the PROCESS privilege). Cannot tell: a plan message ("Impossible WHERE noticed after reading const
   * tables" …), a table not found, an engine other than InnoDB/Aria/MyISAM, a sequence, a stored function,
   * a variable, a non-deterministic built-in (NOW(), RAND() …), an UPDATE_TIME that is NULL (not changed since
   * the server started, or evicted from the dictionary cache) or not at least one whole second older than the
   * server's clock (a change in the same second could come after this reading and leave UPDATE_TIME as it is).
   */
  async readInputSignature(req: InputSignatureRequest): Promise<InputSignature> {
    return this.withConnection(async (c) => {
      const flavor = await this.getFlavor(c);
      const timed = (sql: string) =>
        flavor === 'mariadb'
          ? `SET STATEMENT max_statement_time=${(Math.max(1, req.statementTimeoutMs) / 1000).toFixed(3)} FOR ${sql}`
          : sql;
      if (req.refreshKeySql) {
        await c.query('START TRANSACTION READ ONLY');
        try {
          const [rows] = await c.query<RowDataPacket[]>({
            sql: timed(refreshKeySelect(req.refreshKeySql)),
            rowsAsArray: true,
          });
          const keyRows = (rows as unknown[]).map((r) => JSON.stringify(r)).sort();
          return { signature: hashSignature(['refresh-key', keyRows]), relations: [], via: 'refresh-key' };
        } finally {
          await c.query('COMMIT').catch(() => undefined);
        }
      }
      const [explained] = await c.query<RowDataPacket[]>(explainModel('EXPLAIN FORMAT=JSON', req.sql));
      const first = explained[0] as Record<string, unknown> | undefined;
      const text = first ? Object.values(first)[0] : undefined;
      let json: unknown;
      try {
        json = typeof text === 'string' ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      const plan = readMysqlPlan(json);
      const names = calledNames(req.sql, ENGINE, plan.expressions);
      if (names.uncertain) return cannotTell(names.uncertain);
      // Every table a query reads is named in its text or in the text of a view it reads (the plan gives aliases,
      // and leaves out tables it settled while planning): the words of the SQL and of the views it names,
      // recursively, matched against the tables of the schemas named, are a superset of what it reads.
      const words = new Set(names.words);
      const schemas = new Set([this.conn.dbName, ...names.qualifiers]);
      const calls = new Set(names.calls);
      const seenViews = new Set<string>();
      // what the views say is part of the signature: a view redefined over the same tables changes no table
      const viewDefinitions: string[][] = [];
      for (let depth = 0; depth < 10; depth++) {
        const [views] = await c.query<RowDataPacket[]>(
          `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, VIEW_DEFINITION AS d FROM information_schema.VIEWS
            WHERE TABLE_SCHEMA IN (?) AND TABLE_NAME IN (?)`,
          [[...schemas], [...words]],
        );
        const fresh = views.filter((v) => !seenViews.has(`${String(v.s)}.${String(v.n)}`));
        if (fresh.length === 0) break;
        for (const v of fresh) {
          seenViews.add(`${String(v.s)}.${String(v.n)}`);
          if (typeof v.d !== 'string' || v.d === '')
            return cannotTell(`the view ${String(v.n)} cannot be read`);
          viewDefinitions.push([String(v.s), String(v.n), v.d]);
          const inner = calledNames(v.d, ENGINE);
          if (inner.uncertain) return cannotTell(`view ${String(v.n)}: ${inner.uncertain}`);
          inner.words.forEach((w) => words.add(w));
          inner.qualifiers.forEach((q) => schemas.add(q));
          inner.calls.forEach((f) => calls.add(f));
        }
        if (depth === 9) return cannotTell('views nest too deep');
      }
      const [rows] = await c.query<RowDataPacket[]>(
        `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, TABLE_TYPE AS t, ENGINE AS e,
                UNIX_TIMESTAMP(CREATE_TIME) AS c, UNIX_TIMESTAMP(UPDATE_TIME) AS u, UNIX_TIMESTAMP() AS now
           FROM information_schema.TABLES
          WHERE TABLE_SCHEMA IN (?) AND TABLE_NAME IN (?)
          ORDER BY TABLE_SCHEMA, TABLE_NAME`,
        [[...schemas], [...words]],
      );
      const found = new Set(rows.map((r) => String(r.n)));
      // a name of the plan is a table found, or an alias / CTE name written in the texts
      const missing = plan.relations.map((r) => r.name).find((n) => !found.has(n) && !words.has(n));
      if (missing !== undefined) return cannotTell(`table ${missing} of the plan was not found`);
      if (calls.size > 0) {
        const [routines] = await c.query<RowDataPacket[]>(
          `SELECT ROUTINE_NAME AS n FROM information_schema.ROUTINES WHERE ROUTINE_NAME IN (?) LIMIT 1`,
          [[...calls]],
        );
        if (routines.length > 0)
          return cannotTell(`the model calls the stored routine ${String(routines[0].n)}`);
      }
      // TRUNCATE changes neither UPDATE_TIME nor CREATE_TIME of an InnoDB table, but gives it a new table id
      const innodbRows = rows.filter((r) => r.e === 'InnoDB' && r.t !== 'VIEW');
      const innodb = innodbRows.map((r) => innodbTableName(String(r.s), String(r.n)));
      const unnamed = innodbRows.find((_, i) => innodb[i] === null);
      if (unnamed) return cannotTell(`${String(unnamed.n)}: its InnoDB dictionary name cannot be derived`);
      const tableIds = new Map<string, string>();
      if (innodb.length > 0) {
        try {
          const [ids] = await c.query<RowDataPacket[]>(
            `SELECT NAME AS n, TABLE_ID AS id FROM information_schema.INNODB_SYS_TABLES WHERE NAME IN (?)`,
            [innodb],
          );
          for (const r of ids) tableIds.set(String(r.n), String(r.id));
        } catch {
          return cannotTell(
            'InnoDB table ids cannot be read (the PROCESS privilege is needed to see a TRUNCATE)',
          );
        }
      }
      // the tables' columns too: a column added, dropped or retyped under `select *` changes no row
      const [columns] = await c.query<RowDataPacket[]>(
        `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, COLUMN_NAME AS c, COLUMN_TYPE AS t, ORDINAL_POSITION AS p
           FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (?) AND TABLE_NAME IN (?)
          ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
        [[...schemas], [...words]],
      );
      const definitions = {
        views: viewDefinitions.sort(),
        columns: columns.map((k) => [k.s, k.n, k.c, k.t, k.p].map(String)),
      };
      const tables: unknown[] = [];
      for (const r of rows) {
        const name = `${String(r.s)}.${String(r.n)}`;
        if (r.t === 'VIEW') continue; // its tables are in the plan
        if (r.t !== 'BASE TABLE' && r.t !== 'SYSTEM VERSIONED')
          return cannotTell(`${name} is a ${String(r.t)}`);
        if (!['InnoDB', 'Aria', 'MyISAM'].includes(String(r.e)))
          return cannotTell(`${name} uses the ${String(r.e)} engine`);
        const tableId =
          r.e === 'InnoDB' ? tableIds.get(innodbTableName(String(r.s), String(r.n)) ?? '') : 'n/a';
        if (tableId === undefined) return cannotTell(`${name} has no InnoDB table id to be seen`);
        if (r.u === null || r.u === undefined) {
          // a cache table of ours (a model read through {{#id}}) is only ever changed by a fenced swap or merge:
          // its fence generation says when (CREATE … AS leaves UPDATE_TIME NULL)
          const generation = await this.fenceGeneration(c, String(r.s), String(r.n));
          if (generation === null)
            return cannotTell(
              `${name} has no UPDATE_TIME (unchanged since the server started, or not known)`,
            );
          tables.push([r.s, r.n, r.e, tableId, String(r.c), `fence ${generation}`]);
          continue;
        }
        if (Number(r.u) >= Number(r.now) - 1)
          return cannotTell(`${name} changed within the last second (UPDATE_TIME has whole seconds)`);
        tables.push([r.s, r.n, r.e, tableId, String(r.c), String(r.u)]);
      }
      return {
        signature: hashSignature(['mysql', tables, definitions]),
        relations: tables.map((t) => `${(t as string[])[0]}.${(t as string[])[1]}`),
        via: 'stats',
      };
    });
  }

  /** The fence generation recorded for a cache table, if `schema` is a cache schema and the table has one. */
  private async fenceGeneration(c: PoolConnection, schema: string, table: string): Promise<string | null> {
    try {
      const [rows] = await c.query<RowDataPacket[]>(
        `SELECT generation AS g FROM ${qualifiedName(ENGINE, schema, FENCE_TABLE)} WHERE table_name = ?`,
        [table],
      );
      return rows[0] ? String(rows[0].g) : null;
    } catch {
      return null; // no fence table: not a cache schema
    }
  }

  async tableExists(schemaName: string, tableName: string): Promise<boolean> {
    return this.withConnection((c) => this.exists(c, schemaName, tableName));
  }

  async dropTable(schemaName: string, tableName: string): Promise<void> {
    const name = qualifiedName(ENGINE, schemaName, tableName);
    await this.withConnection((c) => c.query(`DROP TABLE IF EXISTS ${name}`));
  }

  /**
   * Stops builds still running for this schema's temporary tables (orphans of killed or paused processes) and
   * drops the leftovers — except the builds whose generation a live lease holds (`liveGenerations`).
   */
  async dropOrphanTempTables(schemaName: string, liveGenerations?: LiveGenerations): Promise<number> {
    return this.withConnection(async (c) => {
      // listed first, liveness asked second: a build that exists now and is live is in the answer
      const builds = await this.runningBuilds(c, schemaName);
      const liveBuilds = await liveBuildNames(
        builds.map((b) => b.table),
        liveGenerations,
      );
      // builds of dead processes still running on the server would otherwise hold the drop until they end
      const dead = builds.filter((b) => !liveBuilds.has(b.table)).map((b) => b.id);
      for (const id of dead) await c.query(`KILL QUERY ${id}`).catch(() => undefined);
      // a killed CREATE TABLE … AS can still leave its table while it stops: list the tables once it has ended
      await this.waitForQueriesToEnd(c, dead);
      const [rows] = await c.query<RowDataPacket[]>(
        `SELECT TABLE_NAME AS name FROM information_schema.TABLES
          WHERE TABLE_SCHEMA = ? AND (TABLE_NAME LIKE ? OR TABLE_NAME LIKE ?)`,
        [schemaName, likePrefix(TEMP_TABLE_PREFIX), likePrefix(BACKUP_TABLE_PREFIX)],
      );
      const names = rows.map((row) => String(row.name));
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

  /** Waits (at most 10 s) until the given server threads no longer run a statement. */
  private async waitForQueriesToEnd(c: PoolConnection, ids: number[]): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (ids.length > 0 && Date.now() < deadline) {
      const [rows] = await c.query<RowDataPacket[]>(
        `SELECT ID FROM information_schema.PROCESSLIST WHERE ID IN (?) AND INFO IS NOT NULL`,
        [ids],
      );
      if (rows.length === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** CREATE TABLE … AS statements running on the server for this schema's temporary tables. */
  private async runningBuilds(
    c: PoolConnection,
    schemaName: string,
  ): Promise<{ id: number; table: string }[]> {
    const prefix = `${q(schemaName)}.${q(TEMP_TABLE_PREFIX).slice(0, -1)}`; // `schema`.`mp_tmp_ (no closing quote)
    const [rows] = await c.query<RowDataPacket[]>(
      `SELECT ID AS id, INFO AS info FROM information_schema.PROCESSLIST
        WHERE ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE ?`,
      [`%CREATE TABLE ${prefix.replace(/[\\_%]/g, (ch) => `\\${ch}`)}%`],
    );
    return rows.map((row) => {
      const info = String(row.info);
      const rest = info.slice(info.indexOf(prefix) + prefix.length);
      return { id: Number(row.id), table: `${TEMP_TABLE_PREFIX}${rest.split('`')[0]}` };
    });
  }

  async checkCanPersist(ctx: CanPersistContext): Promise<CanPersistResult> {
    const schema = ctx.schemaName;
    const checkTable = qualifiedName(ENGINE, schema, `${CHECK_TABLE_PREFIX}${randomInt(1_000_000)}`);
    const cacheInfo = qualifiedName(ENGINE, schema, CACHE_INFO_TABLE);
    let c: PoolConnection;
    try {
      c = await this.connect();
    } catch (error) {
      return canPersistFailure('create-schema', schema, error, ENGINE);
    }
    let broken = false;
    const run = async (step: CanPersistStep, fn: () => Promise<unknown>) => {
      try {
        await fn();
        return undefined;
      } catch (error) {
        const failure = canPersistFailure(step, schema, error, ENGINE);
        if (failure.errorClass === 'connection') broken = true;
        return failure;
      }
    };
    try {
      return (
        (await run('create-schema', () => this.ensureSchema(c, schema))) ??
        (await run('create-table', () => c.query(`CREATE TABLE ${checkTable} AS SELECT 1 AS field`))) ??
        (await run('read-table', () => c.query(`SELECT * FROM ${checkTable}`))) ??
        (await run('drop-table', () => c.query(`DROP TABLE ${checkTable}`))) ??
        (await run('create-cache-info', async () => {
          await c.query(`DROP TABLE IF EXISTS ${cacheInfo}`);
          await c.query(`CREATE TABLE ${cacheInfo} (\`key\` VARCHAR(191) PRIMARY KEY, \`value\` TEXT)`);
          await c.query(
            `INSERT INTO ${cacheInfo} (\`key\`, \`value\`) VALUES ('settings-version', ?), ('created-at', ?), ('instance-uuid', ?)`,
            [ctx.settingsVersion, new Date().toISOString(), ctx.instanceUuid],
          );
        })) ?? { ok: true, privilegeWarning: await auditMysqlPrivileges(c, schema) }
      );
    } finally {
      if (!broken) await c.query(`DROP TABLE IF EXISTS ${checkTable}`).catch(() => undefined);
      if (broken) c.destroy();
      else c.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
