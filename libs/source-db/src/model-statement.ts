/*
 * The one statement that runs a card's SQL on a source server, and the session settings it runs under. The
 * server is what guarantees a model only reads (issue 11: "enforce, don't trust"); assertSafeModelSql is the
 * early check that explains a refusal with a position.
 */

/** Alias of the derived table the model SQL runs in. */
export const MODEL_DERIVED_TABLE_ALIAS = 'mp_model';

/**
 * sql_mode pinned on every MySQL/MariaDB connection of the driver, so the server lexes the model SQL exactly as
 * sql-lexer.ts assumes: backslash escapes in '…' and "…" (no NO_BACKSLASH_ESCAPES), "…" is a string (no
 * ANSI_QUOTES), `||` is OR (no PIPES_AS_CONCAT), no ORACLE / MSSQL / DB2 / ANSI dialect modes. The rest is
 * MariaDB's default (minus NO_AUTO_CREATE_USER, which MySQL 8 refuses), valid on MariaDB ≥ 10.2 and MySQL 8.
 */
export const MYSQL_SESSION_SQL_MODE = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

/**
 * `SELECT * FROM (<model sql>) AS mp_model`: inside a derived table PostgreSQL refuses a data-modifying WITH
 * ("must be at the top level") and SELECT … INTO, MariaDB/MySQL refuse INTO. The newline before `)` keeps a
 * trailing `--` / `#` comment from swallowing it. A model that closes the parenthesis itself can only append to
 * this one SELECT (a UNION arm or a FROM item is again nested, so refused the same way): a second statement is
 * refused by the protocol (PostgreSQL extended protocol; mysql2 without multipleStatements).
 */
function derivedTable(modelSql: string): string {
  return `SELECT * FROM (\n${modelSql}\n) AS ${MODEL_DERIVED_TABLE_ALIAS}`;
}

/** `EXPLAIN … SELECT * FROM (<model sql>) AS mp_model`: the plan of exactly what a build runs (nothing executes). */
export function explainModel(prefix: string, modelSql: string): string {
  return `${prefix} ${derivedTable(modelSql)}`;
}

/**
 * A model's refresh_key query, in the same derived-table wrapper as the model (so the same server-side
 * guarantees: one read query), under another alias.
 */
export function refreshKeySelect(keySql: string): string {
  return `SELECT * FROM (\n${keySql}\n) AS mp_refresh_key`;
}

/**
 * PostgreSQL: builds `tmp` (a quoted, qualified name) from the model. Run it with the extended protocol
 * (`queryMode: 'extended'`) inside a transaction with `standard_conforming_strings = on`.
 */
export function postgresCreateTableAsModel(tmp: string, modelSql: string): string {
  return `CREATE TABLE ${tmp} AS ${derivedTable(modelSql)}`;
}

/**
 * MySQL/MariaDB: builds `tmp` (a quoted, qualified name) from the model. Run it on a connection without
 * multipleStatements whose sql_mode is MYSQL_SESSION_SQL_MODE (pinMysqlSession).
 */
export function mysqlCreateTableAsModel(tmp: string, modelSql: string): string {
  return `CREATE TABLE ${tmp} AS ${derivedTable(modelSql)}`;
}

/** The part of a mysql2 (callback) connection pinMysqlSession needs. */
export interface MysqlSessionConnection {
  query(sql: string, callback: (error: Error | null) => void): unknown;
  destroy(): void;
}

/**
 * Pins the session's sql_mode on a new connection (the pool's 'connection' event). mysql2 queues commands per
 * connection, so this runs before anything the pool hands out on it; if it fails the connection is destroyed
 * (its next query fails as a connection error) rather than used with an unknown mode.
 */
export function pinMysqlSession(connection: MysqlSessionConnection): void {
  connection.query(`SET SESSION sql_mode = '${MYSQL_SESSION_SQL_MODE}'`, (error) => {
    if (error) connection.destroy();
  });
}

/**
 * The rows of an incremental refresh: `SELECT * FROM (<model sql>) AS mp_model WHERE mp_model.<checkpoint> >=
 * <bound>` — the same derived-table wrapper as a full build (so the same server-side guarantees), with a
 * condition built only from a quoted identifier and a literal of our own.
 */
export function modelDeltaSelect(modelSql: string, quotedCheckpoint: string, boundSql: string): string {
  return `${derivedTable(modelSql)} WHERE ${MODEL_DERIVED_TABLE_ALIAS}.${quotedCheckpoint} >= ${boundSql}`;
}
