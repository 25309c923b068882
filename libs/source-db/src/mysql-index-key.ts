import { ErrorCode } from '@model-persistence/errors';
import { quoteIdentifier } from './naming';
import { SourceError } from './source-error';

/**
 * The key of a managed index on MySQL/MariaDB. InnoDB keys hold at most 3072 bytes (DYNAMIC rows, the default)
 * and a TEXT/BLOB column cannot be a key part without a length: a plain index on such columns is built on
 * prefixes (derived from the column types, within the limit), which keeps it usable for lookups and sorts; a
 * unique index must stay exact, so it is never built on prefixes: MariaDB ≥ 10.4 builds it as a long unique
 * index (`USING HASH`, full values compared), elsewhere it is refused with a clear error.
 */

/** A column of the table the index is built on, as information_schema.COLUMNS describes it. */
export interface MysqlColumnInfo {
  name: string;
  /** DATA_TYPE: `int`, `varchar`, `text`, `mediumblob`, … */
  dataType: string;
  /** CHARACTER_OCTET_LENGTH (null: not a string type). */
  octets: number | null;
  /** Most bytes one character takes (the character set's MAXLEN; 1 for binary strings). */
  bytesPerChar: number;
}

export const MYSQL_MAX_KEY_BYTES = 3072;
/** Longest prefix given to one column (bytes), so several long columns can share the key. */
const MAX_PREFIX_BYTES = 1024;
/** Bytes a key part of a non-string column is counted for (numbers, dates: at most ~30). */
const FIXED_PART_BYTES = 32;

const LOB = /^(tiny|medium|long)?(text|blob)$/i;

export interface MysqlIndexKey {
  /** `(`a`, `b`(255))` */
  parts: string;
  /** Built as a long unique index (MariaDB: a hidden hash, full values compared). */
  usingHash: boolean;
  /** Some column is indexed on a prefix only. */
  prefixed: boolean;
}

/** Why a unique index cannot be built exactly on this server: null when it can. */
export function uniqueKeyProblem(
  columns: string[],
  info: ReadonlyMap<string, MysqlColumnInfo>,
  longUnique: boolean,
): string | null {
  if (!needsShortening(columns, info) || longUnique) return null;
  return 'a unique index on TEXT/BLOB or long string columns needs MariaDB 10.4 or later (long unique indexes); index a shorter column or make the index non-unique';
}

function needsShortening(columns: string[], info: ReadonlyMap<string, MysqlColumnInfo>): boolean {
  let total = 0;
  for (const c of columns) {
    const col = info.get(c);
    if (!col) continue;
    if (LOB.test(col.dataType)) return true;
    total += col.octets ?? FIXED_PART_BYTES;
  }
  return total > MYSQL_MAX_KEY_BYTES;
}

/**
 * The key of an index on `columns`. Unique: exact (`USING HASH` when the columns are too long and the server
 * has long unique indexes; otherwise a SourceError, see uniqueKeyProblem). Plain: TEXT/BLOB columns, and long
 * strings when the whole key would exceed the limit, get a prefix length sharing what the other parts leave.
 */
export function mysqlIndexKey(
  label: string,
  indexName: string,
  columns: string[],
  info: ReadonlyMap<string, MysqlColumnInfo>,
  unique: boolean,
  longUnique: boolean,
): MysqlIndexKey {
  const q = (name: string) => quoteIdentifier('mysql', name);
  const plain = `(${columns.map(q).join(', ')})`;
  if (!needsShortening(columns, info)) return { parts: plain, usingHash: false, prefixed: false };
  if (unique) {
    const problem = uniqueKeyProblem(columns, info, longUnique);
    if (problem) throw indexKeyError(label, indexName, problem);
    return { parts: plain, usingHash: true, prefixed: false };
  }
  // water-filling: every string column wants up to MAX_PREFIX_BYTES (or its full length); the room left by the
  // fixed-size parts is shared, short columns keep their full length and leave the rest to the long ones
  const strings = columns.filter((c) => {
    const col = info.get(c);
    return !!col && (LOB.test(col.dataType) || col.octets !== null);
  });
  let room =
    MYSQL_MAX_KEY_BYTES -
    columns
      .filter((c) => !strings.includes(c))
      .reduce((n, c) => n + (info.get(c)?.octets ?? FIXED_PART_BYTES), 0);
  const want = new Map(
    strings.map((c) => {
      const col = info.get(c) as MysqlColumnInfo;
      return [c, Math.min(col.octets ?? MAX_PREFIX_BYTES, MAX_PREFIX_BYTES)];
    }),
  );
  const given = new Map<string, number>();
  let open = [...strings].sort((a, b) => (want.get(a) ?? 0) - (want.get(b) ?? 0));
  while (open.length > 0) {
    const share = Math.floor(room / open.length);
    const c = open[0];
    const bytes = Math.min(want.get(c) ?? 0, share);
    given.set(c, bytes);
    room -= bytes;
    open = open.slice(1);
  }
  const parts = columns.map((c) => {
    const col = info.get(c);
    const bytes = given.get(c);
    if (!col || bytes === undefined) return q(c);
    const full = !LOB.test(col.dataType) && col.octets !== null && bytes >= col.octets;
    if (full) return q(c);
    // prefix lengths count characters for character types, bytes for binary ones
    const length = Math.floor(bytes / Math.max(1, col.bytesPerChar));
    if (length < 1) {
      throw indexKeyError(label, indexName, `column ${JSON.stringify(c)} leaves no room in the key`);
    }
    return `${q(c)}(${length})`;
  });
  return { parts: `(${parts.join(', ')})`, usingHash: false, prefixed: true };
}

/** A managed index that cannot be built on this server as declared: the refresh fails, nothing is swapped. */
export function indexKeyError(label: string, indexName: string, why: string): SourceError {
  return new SourceError(
    'invalid',
    `Managed index ${indexName} of ${label} cannot be built: ${why}`,
    { index: indexName },
    { code: ErrorCode.ModelIndexColumn },
  );
}
