import { createHash } from 'node:crypto';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { SqlToken, tokenizeSql, UNSAFE_SQL_PREFIX } from './sql-lexer';
import type { SourceEngine } from './types';

const READ_STARTS = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE']);

// Keywords that only begin writing statements: rejected anywhere (a data-modifying WITH puts them after a
// parenthesis), unless used as a function name (`replace(…)`, MySQL `insert(…)`/`truncate(…)`) or qualified
// (`t.update`).
const MODIFYING = new Set([
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'UPSERT',
  'REPLACE',
  'CREATE',
  'DROP',
  'ALTER',
  'TRUNCATE',
  'GRANT',
  'REVOKE',
  'RENAME',
]);

const LOCK_AFTER_FOR = new Set(['UPDATE', 'SHARE', 'NO', 'KEY']);

// Functions with side effects beyond the query (server control, sequences, session state, files, locks,
// notifications, connections to other servers): a read-only model has no business calling them. Not exhaustive:
// the derived table and the source user's privileges are the real boundary; this catches the known ones early
// with a clear message. Names are matched bare, quoted (`"pg_terminate_backend"(…)`, `` `get_lock`(…) ``) and
// schema-qualified (`pg_catalog.set_config(…)`).
const SIDE_EFFECT_FUNCTIONS = new Set([
  // PostgreSQL: server and backend control
  'PG_TERMINATE_BACKEND',
  'PG_CANCEL_BACKEND',
  'PG_RELOAD_CONF',
  'PG_ROTATE_LOGFILE',
  'PG_PROMOTE',
  'PG_SWITCH_WAL',
  'PG_CREATE_RESTORE_POINT',
  'PG_BACKUP_START',
  'PG_BACKUP_STOP',
  'PG_START_BACKUP',
  'PG_STOP_BACKUP',
  'PG_WAL_REPLAY_PAUSE',
  'PG_WAL_REPLAY_RESUME',
  'PG_LOG_BACKEND_MEMORY_CONTEXTS',
  'PG_IMPORT_SYSTEM_COLLATIONS',
  'PG_STAT_RESET',
  'PG_STAT_RESET_SHARED',
  'PG_STAT_RESET_SINGLE_TABLE_COUNTERS',
  'PG_STAT_RESET_SINGLE_FUNCTION_COUNTERS',
  'PG_STAT_RESET_SLRU',
  'PG_STAT_RESET_REPLICATION_SLOT',
  'PG_STAT_RESET_SUBSCRIPTION_STATS',
  'PG_STAT_STATEMENTS_RESET',
  // PostgreSQL: replication slots and origins, logical messages, notifications
  'PG_CREATE_PHYSICAL_REPLICATION_SLOT',
  'PG_CREATE_LOGICAL_REPLICATION_SLOT',
  'PG_DROP_REPLICATION_SLOT',
  'PG_COPY_PHYSICAL_REPLICATION_SLOT',
  'PG_COPY_LOGICAL_REPLICATION_SLOT',
  'PG_REPLICATION_SLOT_ADVANCE',
  'PG_LOGICAL_SLOT_GET_CHANGES',
  'PG_LOGICAL_SLOT_GET_BINARY_CHANGES',
  'PG_REPLICATION_ORIGIN_CREATE',
  'PG_REPLICATION_ORIGIN_DROP',
  'PG_REPLICATION_ORIGIN_ADVANCE',
  'PG_REPLICATION_ORIGIN_SESSION_SETUP',
  'PG_REPLICATION_ORIGIN_SESSION_RESET',
  'PG_REPLICATION_ORIGIN_XACT_SETUP',
  'PG_REPLICATION_ORIGIN_XACT_RESET',
  'PG_LOGICAL_EMIT_MESSAGE',
  'PG_NOTIFY',
  // PostgreSQL: session settings, sequences
  'SET_CONFIG',
  'NEXTVAL',
  'SETVAL',
  // PostgreSQL: large objects (writers) and server files (adminpack)
  'LO_IMPORT',
  'LO_EXPORT',
  'LO_UNLINK',
  'LO_CREATE',
  'LO_CREAT',
  'LO_PUT',
  'LO_FROM_BYTEA',
  'LO_OPEN',
  'LO_CLOSE',
  'LO_WRITE',
  'LOWRITE',
  'LO_TRUNCATE',
  'LO_TRUNCATE64',
  'PG_FILE_WRITE',
  'PG_FILE_RENAME',
  'PG_FILE_UNLINK',
  'PG_FILE_SYNC',
  // PostgreSQL: advisory locks (a session lock outlives the refresh on a pooled connection)
  'PG_ADVISORY_LOCK',
  'PG_ADVISORY_XACT_LOCK',
  'PG_ADVISORY_LOCK_SHARED',
  'PG_ADVISORY_XACT_LOCK_SHARED',
  'PG_TRY_ADVISORY_LOCK',
  'PG_TRY_ADVISORY_XACT_LOCK',
  'PG_TRY_ADVISORY_LOCK_SHARED',
  'PG_TRY_ADVISORY_XACT_LOCK_SHARED',
  'PG_ADVISORY_UNLOCK',
  'PG_ADVISORY_UNLOCK_SHARED',
  'PG_ADVISORY_UNLOCK_ALL',
  // MySQL/MariaDB: named locks (IS_FREE_LOCK / IS_USED_LOCK only read), sequences, files, UDF shells, waits
  'GET_LOCK',
  'RELEASE_LOCK',
  'RELEASE_ALL_LOCKS',
  'SERVICE_GET_READ_LOCKS',
  'SERVICE_GET_WRITE_LOCKS',
  'SERVICE_RELEASE_LOCKS',
  'LOAD_FILE',
  'SYS_EXEC',
  'SYS_EVAL',
  'MASTER_POS_WAIT',
  'SOURCE_POS_WAIT',
  'MASTER_GTID_WAIT',
  'WAIT_FOR_EXECUTED_GTID_SET',
  'WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS',
]);

/** Whole families: dblink (connects to a server and runs any SQL there, ours included). */
const SIDE_EFFECT_PREFIXES = ['DBLINK'];

const isSideEffectFunction = (name: string) =>
  SIDE_EFFECT_FUNCTIONS.has(name) || SIDE_EFFECT_PREFIXES.some((p) => name === p || name.startsWith(`${p}_`));

/**
 * The name a token gives when called as a function: a word, or a quoted identifier unquoted (`"a""b"` → a"b,
 * `` `a``b` `` → a`b, PostgreSQL U&"d\0061ta" decoded), upper-cased for comparison. Undefined for anything else.
 */
function calledName(tokens: SqlToken[], k: number, dialect: SourceEngine): string | undefined {
  const t = tokens[k];
  if (t.kind === 'word') return t.upper;
  const quoted =
    t.kind === 'quoted-identifier' || (dialect === 'mysql' && t.kind === 'string' && t.text[0] === '"');
  if (!quoted) return undefined;
  const q = t.text[0];
  let name = t.text
    .slice(1, -1)
    .split(q + q)
    .join(q);
  const amp = tokens[k - 1];
  const u = tokens[k - 2];
  if (
    dialect === 'postgres' &&
    amp?.text === '&' &&
    amp.end === t.start &&
    u?.upper === 'U' &&
    u.end === amp.start
  ) {
    name = name.replace(/\\(\\|\+[0-9A-Fa-f]{6}|[0-9A-Fa-f]{4})/g, (_, e: string) =>
      e === '\\' ? e : String.fromCodePoint(parseInt(e.replace('+', ''), 16)),
    );
  }
  return name.toUpperCase();
}

function unsafe(reason: string, details?: Record<string, unknown>): DomainError {
  return new DomainError(ErrorCode.UnsafeSql, `${UNSAFE_SQL_PREFIX}: ${reason}`, details);
}

function snippet(sql: string, from: number): string {
  const text = sql.slice(from).replace(/\s+/g, ' ').trim();
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Parentheses must pair up: a model cannot close the derived table it runs in (`select 1) x …`). */
function checkParentheses(sql: string, body: SqlToken[]): void {
  const open: SqlToken[] = [];
  for (const t of body) {
    if (t.kind !== 'punct') continue;
    if (t.text === '(') open.push(t);
    else if (t.text === ')' && !open.pop()) {
      throw unsafe(
        `found ')' without a matching '(' at position ${t.start + 1} ("${snippet(sql, t.start)}")`,
        {
          position: t.start + 1,
        },
      );
    }
  }
  const unclosed = open.pop();
  if (unclosed) {
    throw unsafe(`the '(' at position ${unclosed.start + 1} is never closed`, {
      position: unclosed.start + 1,
    });
  }
}

function checkDialect(sql: string, dialect: SourceEngine): string {
  const tokens = tokenizeSql(sql, dialect);
  if (tokens.length === 0) {
    throw new DomainError(ErrorCode.UnsafeSql, 'Model SQL is empty');
  }

  // one statement: after the first `;` only more `;` may follow
  const semi = tokens.findIndex((t) => t.kind === 'punct' && t.text === ';');
  let body: SqlToken[] = tokens;
  if (semi >= 0) {
    const extra = tokens.slice(semi + 1).find((t) => !(t.kind === 'punct' && t.text === ';'));
    if (extra) {
      throw unsafe(
        `found a second statement after ';' at position ${extra.start + 1} ("${snippet(sql, extra.start)}")`,
        { position: extra.start + 1 },
      );
    }
    body = tokens.slice(0, semi);
    if (body.length === 0) throw new DomainError(ErrorCode.UnsafeSql, 'Model SQL is empty');
  }

  // the first keyword, behind any opening parentheses
  const first = body.find((t) => !(t.kind === 'punct' && t.text === '('));
  if (!first || first.kind !== 'word' || !READ_STARTS.has(first.upper)) {
    const found = first ? `"${snippet(sql, first.start)}"` : 'only parentheses';
    throw unsafe(`it must start with SELECT, WITH, VALUES or TABLE, found ${found}`, {
      position: (first ?? body[0]).start + 1,
    });
  }

  checkParentheses(sql, body);

  body.forEach((t, k) => {
    const prev = body[k - 1];
    const next = body[k + 1];
    const at = `at position ${t.start + 1}`;
    if (next?.kind === 'punct' && next.text === '(') {
      const name = calledName(body, k, dialect);
      if (name !== undefined && isSideEffectFunction(name)) {
        throw unsafe(`calling ${t.text}() is not allowed: it has side effects beyond reading (${at})`, {
          position: t.start + 1,
          function: name,
        });
      }
    }
    if (
      dialect === 'postgres' &&
      t.kind === 'word' &&
      t.upper === 'UESCAPE' &&
      prev?.kind === 'quoted-identifier'
    ) {
      // a custom escape character for U&"…" names: refused rather than decoded
      throw unsafe(`UESCAPE is not supported (${at})`, { position: t.start + 1 });
    }
    if (t.kind !== 'word') return;
    if (t.upper === 'INTO') {
      throw unsafe(`SELECT … INTO is not allowed: it writes a table, a file or variables (${at})`, {
        position: t.start + 1,
      });
    }
    if (t.upper === 'FOR' && next?.kind === 'word' && LOCK_AFTER_FOR.has(next.upper)) {
      throw unsafe(`row locks (FOR UPDATE / FOR SHARE) are not allowed (${at})`, { position: t.start + 1 });
    }
    if (t.upper === 'LOCK' && next?.kind === 'word' && next.upper === 'IN') {
      throw unsafe(`row locks (LOCK IN SHARE MODE) are not allowed (${at})`, { position: t.start + 1 });
    }
    if (t.upper === 'NEXT' && next?.upper === 'VALUE' && body[k + 2]?.upper === 'FOR') {
      // MariaDB's NEXT VALUE FOR seq advances the sequence
      throw unsafe(`NEXT VALUE FOR advances a sequence: not allowed (${at})`, { position: t.start + 1 });
    }
    if (MODIFYING.has(t.upper)) {
      const isCall = next?.kind === 'punct' && next.text === '(';
      const isQualified = prev?.kind === 'punct' && prev.text === '.';
      if (isCall || isQualified) return;
      const inParens = prev?.kind === 'punct' && prev.text === '(';
      throw unsafe(
        inParens
          ? `a data-modifying statement inside WITH or a subquery is not allowed: found ${t.upper} ${at}`
          : `found the data-modifying keyword ${t.upper} ${at} ("${snippet(sql, t.start)}"); if it is a column name, quote it`,
        { position: t.start + 1, keyword: t.upper },
      );
    }
  });

  const normalized = sql.slice(body[0].start, body[body.length - 1].end);
  // the drivers embed the normalized text: it must read exactly as it did inside the whole text (MySQL reads a
  // `--` at the very end as a comment, where `--#…` was two minus signs)
  const again = tokenizeSql(normalized, dialect);
  if (again.length !== body.length || again.some((t, k) => t.text !== body[k].text)) {
    const last = body[body.length - 1];
    throw unsafe(`the query cannot end with "${last.text}" at position ${last.start + 1}`, {
      position: last.start + 1,
    });
  }
  return normalized;
}

/**
 * Throws DomainError(UNSAFE_SQL) unless `sql` is a single read query (SELECT / WITH … SELECT / VALUES / TABLE)
 * and returns it normalized: leading and trailing comments and whitespace and the trailing `;` removed, so a
 * driver can embed it (`CREATE TABLE … AS <sql>`). Without `engine`, the SQL must be safe in both dialects and
 * the PostgreSQL normalization is returned; drivers check again with their own engine.
 */
export function assertSafeModelSql(sql: string, engine?: SourceEngine): string {
  if (typeof sql !== 'string') throw new DomainError(ErrorCode.UnsafeSql, 'Model SQL must be a string');
  if (engine) return checkDialect(sql, engine);
  const normalized = checkDialect(sql, 'postgres');
  checkDialect(sql, 'mysql');
  return normalized;
}

/** Stable hash (sha256, hex) of the model SQL, ignoring surrounding whitespace and trailing semicolons. */
export function queryHash(sql: string): string {
  const canonical = sql.trim().replace(/[;\s]+$/, '');
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}
