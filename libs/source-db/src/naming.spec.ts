import {
  backupTableName,
  cacheSchemaName,
  cacheTableName,
  fitsIdentifierLimit,
  isRefreshLeftover,
  modelSlug,
  qualifiedName,
  quoteIdentifier,
  shortInstanceHash,
  tempTableGeneration,
  tempTableName,
} from './naming';
import fc from 'fast-check';

const uuid = '143dd8ce-e116-4c7f-8d6d-32e99eaefbbc';

describe('cache naming', () => {
  it('builds the schema name like the reference', () => {
    expect(shortInstanceHash(uuid)).toBe('1e483');
    expect(cacheSchemaName('mp', uuid, 7)).toBe('mp_cache_1e483_7');
    expect(cacheSchemaName('metabase', uuid, 123)).toBe('metabase_cache_1e483_123');
  });

  it('cuts a too-long prefix, never the hash or the database id', () => {
    const name = cacheSchemaName('p'.repeat(80), uuid, 987654321);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
    expect(name.endsWith('_cache_1e483_987654321')).toBe(true);
  });

  it('rejects bad ids and uuids', () => {
    expect(() => cacheSchemaName('mp', uuid, 0)).toThrow(/databaseId must be a positive integer/);
    expect(() => cacheSchemaName('mp', '"x-y', 1)).toThrow(/not a uuid/);
    expect(() => cacheSchemaName('', uuid, 1)).toThrow(/prefix/);
    expect(() => cacheTableName('postgres', 1.5, 'a')).toThrow(/cardId/);
  });

  it('slugs names: lower case, whitespace runs to _, accents dropped, ≤ 10 characters', () => {
    expect(modelSlug('Orders by day')).toBe('orders_by_');
    expect(modelSlug('  Ventes   été ')).toBe('ventes_ete');
    expect(modelSlug('Revenue "Q1"; DROP')).toBe('revenue_q1');
    expect(modelSlug('a`b"c')).toBe('abc');
    expect(modelSlug('月度销售额统计报表')).toBe('月度销售额统计报表');
    expect(modelSlug('sales 📈 up')).toBe('sales__up');
    expect(modelSlug('!!!')).toBe('');
  });

  it('names tables model_<card id>_<slug>', () => {
    expect(cacheTableName('postgres', 12, 'Orders by day')).toBe('model_12_orders_by_');
    expect(cacheTableName('mysql', 12, 'Orders by day')).toBe('model_12_orders_by_');
    expect(cacheTableName('postgres', 3, '???')).toBe('model_3');
  });

  it('keeps every name within engine limits and unique per card (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        (a, b, nameA, nameB) => {
          for (const engine of ['postgres', 'mysql'] as const) {
            const ta = cacheTableName(engine, a, nameA);
            const tb = cacheTableName(engine, b, nameB);
            for (const n of [ta, tempTableName(engine, ta), backupTableName(engine, ta)]) {
              expect(fitsIdentifierLimit(engine, n)).toBe(true);
            }
            if (a !== b) expect(ta).not.toBe(tb);
            expect(ta.startsWith(`model_${a}`)).toBe(true);
          }
        },
      ),
    );
  });

  it('derives temporary and backup names within limits, unique even when the readable part is cut', () => {
    const long = `model_1_${'é'.repeat(27)}`; // 8 + 54 bytes
    const tmp = tempTableName('postgres', long);
    expect(Buffer.byteLength(tmp)).toBeLessThanOrEqual(63);
    expect(tmp).toMatch(/^mp_tmp_[0-9a-f]{10}_model_1_é+$/);
    const other = tempTableName('postgres', `${long}x`);
    expect(other).not.toBe(tmp);
    expect(backupTableName('postgres', long)).toMatch(/^mp_old_/);
    expect(tempTableName('mysql', 'x'.repeat(64)).length).toBe(64);
    expect(isRefreshLeftover(tmp)).toBe(true);
    expect(isRefreshLeftover('model_1_x')).toBe(false);
    expect(tempTableName('postgres', 'model_1_a')).toBe(tempTableName('postgres', 'model_1_a'));
  });

  it('quotes identifiers per engine, escaping the quote character', () => {
    expect(quoteIdentifier('postgres', 'a"b')).toBe('"a""b"');
    expect(quoteIdentifier('mysql', 'a`b')).toBe('`a``b`');
    expect(quoteIdentifier('mysql', 'a"b')).toBe('`a"b`');
    expect(qualifiedName('postgres', 's', 't')).toBe('"s"."t"');
    expect(() => quoteIdentifier('postgres', '')).toThrow(/invalid identifier/);
    expect(() => quoteIdentifier('postgres', 'a\u0000b')).toThrow(/invalid identifier/);
    expect(() => quoteIdentifier('postgres', 'é'.repeat(32))).toThrow(/too long/);
    expect(quoteIdentifier('mysql', 'é'.repeat(32))).toBe(`\`${'é'.repeat(32)}\``);
  });
});

describe('tempTableGeneration', () => {
  it('reads the generation back from a temporary table name, and nothing from other names', () => {
    for (const engine of ['postgres', 'mysql'] as const) {
      const target = cacheTableName(engine, 12, 'a model with a rather long name '.repeat(3));
      expect(tempTableGeneration(tempTableName(engine, target, 2_000_000_001))).toBe(2_000_000_001);
      expect(tempTableGeneration(tempTableName(engine, target))).toBeUndefined();
      expect(tempTableGeneration(backupTableName(engine, target))).toBeUndefined();
      expect(tempTableGeneration(target)).toBeUndefined();
    }
  });
});
