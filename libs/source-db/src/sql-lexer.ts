import { DomainError, ErrorCode } from '@model-persistence/errors';
import type { SourceEngine } from './types';

/**
 * A small SQL lexer, just enough to tell where statements, strings, quoted identifiers and comments begin and
 * end in PostgreSQL and MySQL/MariaDB dialects. Comments and whitespace produce no tokens.
 *
 * It mirrors the servers' own scanners (PostgreSQL scan.l, MariaDB/MySQL sql_lex.cc) where they decide what is
 * code and what is hidden in a comment or a literal:
 * - only ASCII whitespace (space, \t, \n, \r, \f, \v) separates tokens; any other character from U+0080 up
 *   (U+00A0, U+2000…, U+FEFF…) is an identifier character on both servers, so `\u00A0$a$` is one identifier on
 *   PostgreSQL, not a dollar quote;
 * - `--` comments end at \r or \n on PostgreSQL, at \n on MySQL; MySQL's `--` starts a comment only when
 *   followed by whitespace, a control character (0x00–0x1F, 0x7F) or the end of the text (`1--1` is arithmetic);
 * - PostgreSQL dollar-quote tags: `$` [A-Za-z_\u0080-] [A-Za-z0-9_\u0080-]* `$`; a `$` inside a word belongs
 *   to the word;
 * - a NUL character is refused outright (MySQL ends a comment there, PostgreSQL cannot receive it).
 *
 * It assumes exactly the session modes the drivers pin on every connection (see model-statement.ts):
 * - PostgreSQL: standard_conforming_strings = on (backslashes escape only in E'…' strings);
 * - MySQL/MariaDB: sql_mode = MYSQL_SESSION_SQL_MODE: backslash escapes in strings are on (no
 *   NO_BACKSLASH_ESCAPES), "…" is a string (no ANSI_QUOTES), no ORACLE/MSSQL/… dialect modes. A backslash inside
 *   a "…" token is still refused, being ambiguous to a reader who does not know the mode.
 * The server is the guarantee (the model runs as a derived table, one statement); this lexer only gives the
 * early, clear error with a position.
 */
export type TokenKind = 'word' | 'quoted-identifier' | 'string' | 'number' | 'parameter' | 'punct';

export interface SqlToken {
  kind: TokenKind;
  /** Source text of the token. */
  text: string;
  /** Text with ASCII letters upper-cased (as the servers fold keywords), for words, to compare with keywords. */
  upper: string;
  /** 0-based offsets into the SQL text: [start, end). */
  start: number;
  end: number;
}

export const UNSAFE_SQL_PREFIX = 'Model SQL must be a single read-only query';

function unsafe(reason: string, details?: Record<string, unknown>): DomainError {
  return new DomainError(ErrorCode.UnsafeSql, `${UNSAFE_SQL_PREFIX}: ${reason}`, details);
}

/** ASCII whitespace only: PostgreSQL's `space` class and MySQL's my_isspace (0x09–0x0D, 0x20). */
const isSpace = (c: string) => c === ' ' || (c >= '\t' && c <= '\r');
/** Letters, `_`, and every non-ASCII character (both servers treat bytes ≥ 0x80 as identifier characters). */
const isWordStart = (c: string) => /[A-Za-z_\u0080-\uffff]/.test(c);
/** MySQL: `--` opens a comment when followed by whitespace or a control character (my_iscntrl: ≤ 0x1F, 0x7F). */
const opensMysqlDashComment = (code: number) => Number.isNaN(code) || code <= 0x20 || code === 0x7f;
const isDigit = (c: string) => c >= '0' && c <= '9';

export function tokenizeSql(sql: string, dialect: SourceEngine): SqlToken[] {
  const tokens: SqlToken[] = [];
  const n = sql.length;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number) => {
    const text = sql.slice(start, end);
    // ASCII only: `ınto` (dotless i) is no keyword to the servers, so it must not become INTO here either
    const upper = kind === 'word' ? text.replace(/[a-z]+/g, (m) => m.toUpperCase()) : text;
    tokens.push({ kind, text, upper, start, end });
  };
  const pos = (at: number) => `position ${at + 1}`;

  // Reads a quoted run ending with `quote`; a doubled quote is an escaped quote; backslashes escape if asked.
  const readQuoted = (start: number, quote: string, backslashEscapes: boolean, what: string): number => {
    let j = start + 1;
    for (;;) {
      if (j >= n) throw unsafe(`unterminated ${what} starting at ${pos(start)}`, { position: start + 1 });
      const c = sql[j];
      if (backslashEscapes && c === '\\') {
        j += 2;
        continue;
      }
      if (c === quote) {
        if (sql[j + 1] === quote) {
          j += 2;
          continue;
        }
        return j + 1;
      }
      j++;
    }
  };

  const nul = sql.indexOf('\0');
  if (nul >= 0) throw unsafe(`a NUL character at ${pos(nul)} is not allowed`, { position: nul + 1 });

  while (i < n) {
    const c = sql[i];
    const next = sql[i + 1];
    if (isSpace(c)) {
      i++;
      continue;
    }
    // -- line comment: PostgreSQL ends it at \r or \n; MySQL only at \n, and only opens it before whitespace or
    // a control character (`1--1` is arithmetic there)
    if (c === '-' && next === '-') {
      if (dialect === 'postgres') {
        let j = i + 2;
        while (j < n && sql[j] !== '\n' && sql[j] !== '\r') j++;
        i = j;
        continue;
      }
      if (opensMysqlDashComment(sql.charCodeAt(i + 2))) {
        const nl = sql.indexOf('\n', i);
        i = nl < 0 ? n : nl + 1;
        continue;
      }
    }
    if (c === '#' && dialect === 'mysql') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      if (dialect === 'mysql' && (sql[i + 2] === '!' || (sql[i + 2] === 'M' && sql[i + 3] === '!'))) {
        // MySQL/MariaDB run the content of /*! … */ as SQL: not a comment at all
        throw unsafe(`executable comments (/*! … */) are not allowed (at ${pos(i)})`, { position: i + 1 });
      }
      // PostgreSQL block comments nest; MySQL's do not
      let depth = 1;
      let j = i + 2;
      while (depth > 0) {
        if (j >= n) throw unsafe(`unterminated comment starting at ${pos(i)}`, { position: i + 1 });
        if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else if (dialect === 'postgres' && sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else j++;
      }
      i = j;
      continue;
    }
    if (c === "'") {
      const prev = tokens[tokens.length - 1];
      // PostgreSQL: only E'…' strings treat backslash as an escape
      const escapeString = prev?.kind === 'word' && prev.end === i && prev.upper === 'E';
      const end = readQuoted(i, "'", dialect === 'mysql' || escapeString, 'string literal');
      push('string', i, end);
      i = end;
      continue;
    }
    if (c === '"') {
      const end = readQuoted(
        i,
        '"',
        false,
        dialect === 'postgres' ? 'quoted identifier' : 'double-quoted string',
      );
      if (dialect === 'mysql' && sql.slice(i, end).includes('\\')) {
        throw unsafe(
          `a backslash inside a double-quoted token at ${pos(i)} is ambiguous in MySQL (it depends on ANSI_QUOTES); use single quotes for strings`,
          { position: i + 1 },
        );
      }
      push(dialect === 'postgres' ? 'quoted-identifier' : 'string', i, end);
      i = end;
      continue;
    }
    if (c === '`' && dialect === 'mysql') {
      const end = readQuoted(i, '`', false, 'quoted identifier');
      push('quoted-identifier', i, end);
      i = end;
      continue;
    }
    if (c === '$' && dialect === 'postgres') {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        if (close < 0)
          throw unsafe(`unterminated dollar-quoted string starting at ${pos(i)}`, { position: i + 1 });
        push('string', i, close + tag[0].length);
        i = close + tag[0].length;
        continue;
      }
      const param = /^\$\d+/.exec(sql.slice(i));
      if (param) {
        push('parameter', i, i + param[0].length);
        i += param[0].length;
        continue;
      }
    }
    if (isDigit(c) || (c === '.' && isDigit(next ?? ''))) {
      // digits only: a word glued to a number (`1into`) becomes its own token, so keywords cannot hide
      let j = i;
      while (j < n && (isDigit(sql[j]) || sql[j] === '.')) j++;
      if ((sql[j] === 'e' || sql[j] === 'E') && /^[eE][+-]?\d/.test(sql.slice(j, j + 3))) {
        j += sql[j + 1] === '+' || sql[j + 1] === '-' ? 2 : 1;
        while (j < n && isDigit(sql[j])) j++;
      }
      push('number', i, j);
      i = j;
      continue;
    }
    if (isWordStart(c) || (c === '$' && dialect === 'mysql')) {
      let j = i + 1;
      while (j < n && (isWordStart(sql[j]) || isDigit(sql[j]) || sql[j] === '$')) j++;
      push('word', i, j);
      i = j;
      continue;
    }
    push('punct', i, i + 1);
    i++;
  }
  return tokens;
}
