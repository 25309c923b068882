import { DomainError, ErrorCode } from '@model-persistence/errors';
import type { SourceEngine } from './types';

/**
 * A small SQL lexer, just enough to tell where statements, strings, quoted identifiers and comments begin and
 * end in PostgreSQL and MySQL/MariaDB dialects. Comments and whitespace produce no tokens.
 *
 * Assumptions (enforced by the drivers at execution time where possible):
 * - PostgreSQL: standard_conforming_strings = on (backslashes escape only in E'…' strings).
 * - MySQL: backslash escapes in strings are on (no NO_BACKSLASH_ESCAPES); a backslash inside a "…" token is
 *   rejected because its meaning depends on ANSI_QUOTES.
 */
export type TokenKind = 'word' | 'quoted-identifier' | 'string' | 'number' | 'parameter' | 'punct';

export interface SqlToken {
  kind: TokenKind;
  /** Source text of the token. */
  text: string;
  /** Upper-cased text for words, to compare with keywords. */
  upper: string;
  /** 0-based offsets into the SQL text: [start, end). */
  start: number;
  end: number;
}

export const UNSAFE_SQL_PREFIX = 'Model SQL must be a single read-only query';

function unsafe(reason: string, details?: Record<string, unknown>): DomainError {
  return new DomainError(ErrorCode.UnsafeSql, `${UNSAFE_SQL_PREFIX}: ${reason}`, details);
}

const isSpace = (c: string) => /\s/.test(c);
const isWordStart = (c: string) => /[A-Za-z_\u0080-\uffff]/.test(c);
const isDigit = (c: string) => c >= '0' && c <= '9';

export function tokenizeSql(sql: string, dialect: SourceEngine): SqlToken[] {
  const tokens: SqlToken[] = [];
  const n = sql.length;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number) => {
    const text = sql.slice(start, end);
    tokens.push({ kind, text, upper: kind === 'word' ? text.toUpperCase() : text, start, end });
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

  while (i < n) {
    const c = sql[i];
    const next = sql[i + 1];
    if (isSpace(c)) {
      i++;
      continue;
    }
    // -- line comment (MySQL only when followed by whitespace/control: `1--1` is arithmetic there)
    if (
      c === '-' &&
      next === '-' &&
      (dialect === 'postgres' || (i + 2 < n && sql.charCodeAt(i + 2) <= 0x20))
    ) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      continue;
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
