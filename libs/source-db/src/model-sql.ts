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

// Functions with side effects beyond the query (server control, sequences, session state, files, locks):
// a read-only model has no business calling them. Not exhaustive: the source user's privileges are the real
// boundary; this catches the obvious ones early with a clear message.
const SIDE_EFFECT_FUNCTIONS = new Set([
  'PG_TERMINATE_BACKEND',
  'PG_CANCEL_BACKEND',
  'PG_RELOAD_CONF',
  'PG_ROTATE_LOGFILE',
  'PG_PROMOTE',
  'PG_SWITCH_WAL',
  'PG_CREATE_RESTORE_POINT',
  'SET_CONFIG',
  'NEXTVAL',
  'SETVAL',
  'DBLINK_EXEC',
  'LO_IMPORT',
  'LO_EXPORT',
  'LO_UNLINK',
  'LO_CREATE',
  'LO_PUT',
  'PG_FILE_WRITE',
  'PG_ADVISORY_LOCK',
  'PG_ADVISORY_XACT_LOCK',
  'PG_ADVISORY_LOCK_SHARED',
  'PG_ADVISORY_XACT_LOCK_SHARED',
  'GET_LOCK',
  'RELEASE_LOCK',
  'RELEASE_ALL_LOCKS',
  'LOAD_FILE',
  'SYS_EXEC',
]);

function unsafe(reason: string, details?: Record<string, unknown>): DomainError {
  return new DomainError(ErrorCode.UnsafeSql, `${UNSAFE_SQL_PREFIX}: ${reason}`, details);
}

function snippet(sql: string, from: number): string {
  const text = sql.slice(from).replace(/\s+/g, ' ').trim();
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
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

  body.forEach((t, k) => {
    if (t.kind !== 'word') return;
    const prev = body[k - 1];
    const next = body[k + 1];
    const at = `at position ${t.start + 1}`;
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
    if (SIDE_EFFECT_FUNCTIONS.has(t.upper) && next?.kind === 'punct' && next.text === '(') {
      throw unsafe(`calling ${t.text}() is not allowed: it has side effects beyond reading (${at})`, {
        position: t.start + 1,
        function: t.upper,
      });
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

  return sql.slice(body[0].start, body[body.length - 1].end);
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
