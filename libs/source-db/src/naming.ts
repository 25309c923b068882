import { createHash } from 'node:crypto';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import type { SourceEngine } from './types';

/**
 * Cache schema and table names. Every name stays within the engine's identifier limit (PostgreSQL: 63 bytes
 * of UTF-8; MySQL/MariaDB: 64 characters) and stays unique: when something must be cut, it is the slug or the
 * prefix, never the card id, database id or hash that makes the name unique.
 */
export const PG_IDENTIFIER_MAX_BYTES = 63;
export const MYSQL_IDENTIFIER_MAX_CHARS = 64;

export const TEMP_TABLE_PREFIX = 'mp_tmp_';
export const BACKUP_TABLE_PREFIX = 'mp_old_';
export const CACHE_INFO_TABLE = 'cache_info';
/** Newest build generation swapped in per cache table (see RefreshTableRequest.fence). */
export const FENCE_TABLE = 'cache_fence';
export const CHECK_TABLE_PREFIX = 'persistence_check_';

const SLUG_MAX_CHARS = 10;

/** Does `name` fit the identifier limit of `engine`? */
export function fitsIdentifierLimit(engine: SourceEngine, name: string): boolean {
  return engine === 'postgres'
    ? Buffer.byteLength(name, 'utf8') <= PG_IDENTIFIER_MAX_BYTES
    : [...name].length <= MYSQL_IDENTIFIER_MAX_CHARS;
}

/** Cuts `text` (at a character boundary) so that `fixed + text` fits the limit of `engine`. */
function cutToFit(engine: SourceEngine, text: string, build: (part: string) => string): string {
  const chars = [...text];
  while (chars.length > 0 && !fitsIdentifierLimit(engine, build(chars.join('')))) chars.pop();
  return build(chars.join(''));
}

function requireId(what: string, id: number): void {
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new DomainError(
      ErrorCode.ValidationFailed,
      `${what} must be a positive integer, got ${String(id)}`,
    );
  }
}

/** First character of each dash-separated part of the instance uuid, as the reference does. */
export function shortInstanceHash(instanceUuid: string): string {
  return instanceUuid
    .trim()
    .toLowerCase()
    .split('-')
    .map((part) => part.charAt(0))
    .join('');
}

/**
 * `<prefix>_cache_<short instance hash>_<database id>`, e.g. `mp_cache_1e483_7`. Both engines' limits are
 * honoured (the same schema name is used whatever the engine): a too-long prefix is cut, nothing else.
 */
export function cacheSchemaName(prefix: string, instanceUuid: string, databaseId: number): string {
  requireId('databaseId', databaseId);
  const hash = shortInstanceHash(instanceUuid);
  if (!/^[0-9a-z]+$/.test(hash)) {
    throw new DomainError(
      ErrorCode.ValidationFailed,
      `instance uuid ${JSON.stringify(instanceUuid)} is not a uuid`,
    );
  }
  const build = (p: string) => `${p}_cache_${hash}_${databaseId}`;
  const cleanPrefix = prefix.trim();
  if (cleanPrefix === '')
    throw new DomainError(ErrorCode.ValidationFailed, 'cache schema prefix must not be empty');
  // 63 UTF-8 bytes (PostgreSQL) is the stricter limit: a name within it also fits MySQL's 64 characters
  return cutToFit('postgres', cleanPrefix, build);
}

/**
 * Slug of a model name: lower case, accents removed, whitespace runs → `_`, only letters, digits and `_` kept
 * (characters outside the Basic Multilingual Plane are dropped: MySQL identifiers cannot hold them), at most
 * 10 characters.
 */
export function modelSlug(name: string): string {
  const cleaned = name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .trim()
    .replace(/\s+/gu, '_')
    .replace(/[^\p{L}\p{N}_]/gu, '');
  return [...cleaned]
    .filter((ch) => ch.codePointAt(0)! <= 0xffff)
    .slice(0, SLUG_MAX_CHARS)
    .join('');
}

/**
 * `model_<card id>_<slug>` within the engine's limit. The card id alone makes it unique in its schema (the id
 * is followed by `_` or the end of the name), so only the slug is ever cut.
 */
export function cacheTableName(engine: SourceEngine, cardId: number, cardName: string): string {
  requireId('cardId', cardId);
  const slug = modelSlug(cardName);
  if (slug === '') return `model_${cardId}`;
  return cutToFit(engine, slug, (s) => (s === '' ? `model_${cardId}` : `model_${cardId}_${s}`));
}

function derivedName(engine: SourceEngine, prefix: string, target: string, build = ''): string {
  // the hash of the full target keeps derived names unique even when the readable part has to be cut
  const hash = createHash('sha256').update(target).digest('hex').slice(0, 10);
  return cutToFit(engine, target, (t) => `${prefix}${hash}_${build}${t}`);
}

/**
 * The name a refresh builds the new table under before swapping it in: `mp_tmp_<hash>_<target>`, or with the
 * build's generation `mp_tmp_<hash>_g<generation>_<target>`, so one build never drops another's.
 */
export function tempTableName(engine: SourceEngine, target: string, generation?: number): string {
  if (generation !== undefined && (!Number.isSafeInteger(generation) || generation < 0)) {
    throw new DomainError(ErrorCode.ValidationFailed, `invalid build generation ${String(generation)}`);
  }
  return derivedName(engine, TEMP_TABLE_PREFIX, target, generation === undefined ? '' : `g${generation}_`);
}

/** The build generation a temporary table's name carries (`mp_tmp_<hash>_g<generation>_…`), if any. */
export function tempTableGeneration(name: string): number | undefined {
  const m = /^mp_tmp_[0-9a-f]{10}_g(\d+)_/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The name the previous table briefly holds during the swap (`mp_old_<hash>_<target>`). */
export function backupTableName(engine: SourceEngine, target: string): string {
  return derivedName(engine, BACKUP_TABLE_PREFIX, target);
}

/** Is `name` a temporary or backup table of some refresh? */
export function isRefreshLeftover(name: string): boolean {
  return name.startsWith(TEMP_TABLE_PREFIX) || name.startsWith(BACKUP_TABLE_PREFIX);
}

/** Quotes one identifier for `engine` (pg: `"a""b"`, mysql: `` `a``b` ``). */
export function quoteIdentifier(engine: SourceEngine, name: string): string {
  if (name === '' || name.includes('\u0000')) {
    throw new DomainError(ErrorCode.ValidationFailed, `invalid identifier ${JSON.stringify(name)}`);
  }
  if (!fitsIdentifierLimit(engine, name)) {
    throw new DomainError(ErrorCode.ValidationFailed, `identifier too long for ${engine}: ${name}`);
  }
  return engine === 'postgres' ? `"${name.replace(/"/g, '""')}"` : `\`${name.replace(/`/g, '``')}\``;
}

/** `schema.table`, both parts quoted. */
export function qualifiedName(engine: SourceEngine, schema: string, table: string): string {
  return `${quoteIdentifier(engine, schema)}.${quoteIdentifier(engine, table)}`;
}

/**
 * Stable name of a managed index: `mpi_<card id>_<hash of card id, uniqueness and columns>`. Short enough
 * for both engines whatever the columns; the same definition always gets the same name.
 */
export function managedIndexName(cardId: number, columns: string[], unique: boolean): string {
  requireId('cardId', cardId);
  const hash = createHash('sha256')
    .update(JSON.stringify([cardId, unique, columns]))
    .digest('hex')
    .slice(0, 12);
  return `mpi_${cardId}_${hash}`;
}
