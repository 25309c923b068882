import { SourceError } from './source-error';
import { MysqlColumnInfo, mysqlIndexKey, uniqueKeyProblem } from './mysql-index-key';

const info = new Map<string, MysqlColumnInfo>(
  [
    { name: 'id', dataType: 'int', octets: null, bytesPerChar: 1 },
    { name: 'body', dataType: 'text', octets: 65535, bytesPerChar: 4 },
    { name: 'bin', dataType: 'blob', octets: 65535, bytesPerChar: 1 },
    { name: 'lv', dataType: 'varchar', octets: 8000, bytesPerChar: 4 },
    { name: 'short', dataType: 'varchar', octets: 80, bytesPerChar: 4 },
  ].map((c) => [c.name, c]),
);
const key = (columns: string[], unique = false, longUnique = true) =>
  mysqlIndexKey('s.t', 'mpi_x', columns, info, unique, longUnique);

describe('mysqlIndexKey', () => {
  it('leaves short keys as they are', () => {
    expect(key(['id', 'short'])).toEqual({ parts: '(`id`, `short`)', usingHash: false, prefixed: false });
    expect(key(['short'], true)).toEqual({ parts: '(`short`)', usingHash: false, prefixed: false });
  });

  it('gives TEXT/BLOB and long strings of a plain index prefixes (characters, or bytes for binary) within 3072 bytes', () => {
    expect(key(['body']).parts).toBe('(`body`(256))');
    expect(key(['bin']).parts).toBe('(`bin`(1024))');
    const k = key(['body', 'bin', 'lv', 'short', 'id']);
    expect(k.parts).toBe('(`body`(246), `bin`(987), `lv`(246), `short`, `id`)');
    expect(246 * 4 + 987 + 246 * 4 + 80 + 32).toBeLessThanOrEqual(3072);
  });

  it('builds an exact unique index on long columns as a hash (MariaDB ≥ 10.4), refuses it elsewhere', () => {
    expect(key(['body', 'id'], true)).toEqual({ parts: '(`body`, `id`)', usingHash: true, prefixed: false });
    expect(uniqueKeyProblem(['body'], info, false)).toMatch(/MariaDB 10\.4/);
    expect(uniqueKeyProblem(['short', 'id'], info, false)).toBeNull();
    const error = (() => {
      try {
        key(['body'], true, false);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).code).toBe('MODEL_INDEX_COLUMN');
    expect((error as SourceError).message).toMatch(/mpi_x of s\.t cannot be built/);
  });
});
