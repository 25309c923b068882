import { CardEntity, PersistedInfoEntity } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { SourceDbPort } from '@model-persistence/source-db';
import { fakeUnitOfWork, recordingNotifier } from '../../test/fakes';
import { CardRegistryUseCase } from './card-registry.use-case';
import { ModelReferenceCheck } from './model-reference-check';

const sourceDb = {
  assertSafeModelSql: (sql: string) => {
    if (!/^\s*select/i.test(sql)) throw new DomainError(ErrorCode.UnsafeSql, 'not a read query');
    return sql.trim().replace(/;$/, '');
  },
} as unknown as SourceDbPort;

function setup(opts: { row?: Partial<PersistedInfoEntity> | null; persistOn?: boolean } = {}) {
  let card = {
    id: 5,
    name: 'm',
    databaseId: 2,
    sql: 'select 1',
    type: 'model',
    archived: false,
    refreshCron: null,
  } as CardEntity;
  const row = opts.row === null ? null : ({ id: 9, state: 'persisted', ...opts.row } as PersistedInfoEntity);
  const cards = {
    findById: async () => card,
    create: jest.fn(async (v: Partial<CardEntity>) => ({ ...card, ...v })),
    update: jest.fn(async (_id: number, v: Partial<CardEntity>) => {
      card = { ...card, ...v };
    }),
    delete: jest.fn(async () => true),
    findModelsOfDatabase: async () => [],
  };
  const persistedInfo = {
    findByCardId: async () => row,
    transition: jest.fn(async () => undefined),
  };
  const rec = recordingNotifier();
  const useCase = new CardRegistryUseCase(
    sourceDb,
    fakeUnitOfWork(),
    cards as never,
    {
      findById: async (id: number) =>
        id === 2 ? { id: 2, engine: 'postgres', persistModelsEnabled: opts.persistOn ?? true } : null,
    } as never,
    persistedInfo as never,
    { getBoolean: async () => true } as never,
    rec.notifier,
    new ModelReferenceCheck(cards as never),
  );
  return { useCase, cards, persistedInfo, rec };
}

const types = (rec: ReturnType<typeof recordingNotifier>) => rec.events().map((e) => e.type);

describe('CardRegistryUseCase', () => {
  it('rejects unsafe SQL, a bad cron and an unknown database before writing', async () => {
    const s = setup();
    await expect(s.useCase.create({ name: 'x', databaseId: 2, sql: 'drop table t' })).rejects.toMatchObject({
      code: ErrorCode.UnsafeSql,
    });
    await expect(
      s.useCase.create({ name: 'x', databaseId: 2, sql: 'select 1', refreshCron: '* * *' }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidCron });
    await expect(s.useCase.create({ name: 'x', databaseId: 3, sql: 'select 1' })).rejects.toMatchObject({
      code: ErrorCode.UnknownDatabase,
    });
    await expect(s.useCase.update(5, { sql: 'delete from t' }, { name: 'a' })).rejects.toMatchObject({
      code: ErrorCode.UnsafeSql,
    });
    expect(s.cards.create).not.toHaveBeenCalled();
    expect(s.cards.update).not.toHaveBeenCalled();
    expect(s.rec.sent).toEqual([]);
  });

  it('a changed SQL puts the row back to creating and requests a refresh', async () => {
    const s = setup();
    await s.useCase.update(5, { sql: 'select 2;' }, { name: 'a' });
    expect(s.cards.update).toHaveBeenCalledWith(5, { sql: 'select 2' }, expect.anything());
    expect(s.persistedInfo.transition).toHaveBeenCalledWith(
      9,
      'rebuild',
      expect.objectContaining({ active: false }),
      expect.anything(),
    );
    expect(types(s.rec)).toEqual(['ConfigurationChanged', 'RefreshRequested']);
  });

  it('the same SQL, or a rename, does not rebuild; with the database off no refresh is requested', async () => {
    const same = setup();
    await same.useCase.update(5, { sql: 'select 1', name: 'n' }, { name: 'a' });
    expect(same.persistedInfo.transition).not.toHaveBeenCalled();
    expect(types(same.rec)).toEqual(['ConfigurationChanged']);
    const off = setup({ persistOn: false });
    await off.useCase.update(5, { sql: 'select 3' }, { name: 'a' });
    expect(off.persistedInfo.transition).toHaveBeenCalled();
    expect(types(off.rec)).toEqual(['ConfigurationChanged']);
  });

  it('archiving or turning into a question marks the row deletable and requests a prune', async () => {
    for (const patch of [{ archived: true }, { type: 'question' as const }]) {
      const s = setup();
      await s.useCase.update(5, patch, { name: 'a' });
      expect(s.persistedInfo.transition).toHaveBeenCalledWith(
        9,
        'disable',
        { active: false },
        expect.anything(),
      );
      expect(types(s.rec)).toEqual(['ConfigurationChanged', 'PruneRequested']);
    }
  });

  it('deleting marks the row deletable in the same transaction and requests a prune', async () => {
    const s = setup({ row: { state: 'off' } });
    await s.useCase.delete(5, { name: 'a' });
    expect(s.persistedInfo.transition).toHaveBeenCalledWith(
      9,
      'delete',
      { active: false },
      expect.anything(),
    );
    expect(s.cards.delete).toHaveBeenCalledWith(5, expect.anything());
    expect(types(s.rec)).toEqual(['ConfigurationChanged', 'PruneRequested']);
    const none = setup({ row: null });
    await none.useCase.delete(5, { name: 'a' });
    expect(types(none.rec)).toEqual(['ConfigurationChanged']);
  });
});
