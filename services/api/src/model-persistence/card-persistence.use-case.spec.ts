import { CardEntity, PersistedInfoEntity } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { ApiConfig } from '../config';
import { SourceDbPort } from '@model-persistence/source-db';
import { recordingNotifier } from '../../test/fakes';
import { CardPersistenceUseCase } from './card-persistence.use-case';

const config = { cache: { schemaPrefix: 'mp' } } as ApiConfig;
const sourceDb = {
  modelSlug: (n: string) => n.toLowerCase().replace(/\s+/g, '_').slice(0, 10),
  cacheSchemaName: (p: string, _u: string, id: number) => `${p}_cache_x_${id}`,
  cacheTableName: (_e: string, id: number, n: string) =>
    `model_${id}_${n.toLowerCase().replace(/\s+/g, '_').slice(0, 10)}`,
} as unknown as SourceDbPort;

function setup(opts: {
  card?: Partial<CardEntity> | null;
  row?: Partial<PersistedInfoEntity> | null;
  enabled?: boolean;
  dbEnabled?: boolean;
  publishFails?: boolean;
}) {
  const card =
    opts.card === null
      ? null
      : ({
          id: 5,
          name: 'Sales Per Month',
          databaseId: 2,
          type: 'model',
          archived: false,
          ...opts.card,
        } as CardEntity);
  const row = opts.row ? ({ id: 9, state: 'persisted', ...opts.row } as PersistedInfoEntity) : null;
  const persistedInfo = {
    findByCardId: async () => row,
    create: jest.fn(async (v: unknown) => v),
    transition: jest.fn(async () => undefined),
  };
  const rec = recordingNotifier(
    opts.publishFails ? new DomainError(ErrorCode.BrokerUnavailable, 'no broker') : undefined,
  );
  const useCase = new CardPersistenceUseCase(
    config,
    sourceDb,
    { findById: async () => card } as never,
    {
      findById: async () => ({ id: 2, engine: 'postgres', persistModelsEnabled: opts.dbEnabled ?? true }),
    } as never,
    persistedInfo as never,
    { getBoolean: async () => opts.enabled ?? true, get: async () => 'uuid' } as never,
    rec.notifier,
  );
  return { useCase, persistedInfo, rec };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: DomainError) => e.code,
  );
const actor = { name: 'ops' };

describe('CardPersistenceUseCase', () => {
  it('rejects unknown cards (404), questions and archived models (400) and disabled persistence (400)', async () => {
    expect(await codeOf(setup({ card: null }).useCase.persist(5, actor))).toBe(ErrorCode.NotFound);
    expect(await codeOf(setup({ card: { type: 'question' } }).useCase.persist(5, actor))).toBe(
      ErrorCode.NotAModel,
    );
    expect(await codeOf(setup({ card: { archived: true } }).useCase.refresh(5, actor))).toBe(
      ErrorCode.ArchivedModel,
    );
    expect(await codeOf(setup({ enabled: false }).useCase.persist(5, actor))).toBe(
      ErrorCode.PersistenceDisabled,
    );
    expect(await codeOf(setup({ dbEnabled: false }).useCase.persist(5, actor))).toBe(
      ErrorCode.PersistenceDisabled,
    );
  });

  it('creates a creating row with the cache names and requests a manual refresh', async () => {
    const s = setup({});
    await s.useCase.persist(5, actor);
    expect(s.persistedInfo.create).toHaveBeenCalledWith(
      expect.objectContaining({
        databaseId: 2,
        cardId: 5,
        questionSlug: 'sales_per_',
        schemaName: 'mp_cache_x_2',
        tableName: 'model_5_sales_per_',
        state: 'creating',
        active: false,
        creator: 'ops',
      }),
    );
    expect(s.rec.sent[0].map((o) => [o.topic, o.key])).toEqual([
      ['refresh.requested', '2'],
      ['config.changed', 'card'],
    ]);
    expect(s.rec.events()[0]).toMatchObject({
      databaseId: 2,
      cardId: 5,
      trigger: 'manual',
      requestedBy: 'ops',
    });
  });

  it('turns an off or deletable row back to creating, and leaves a live row alone', async () => {
    const off = setup({ row: { state: 'off' } });
    await off.useCase.persist(5, actor);
    expect(off.persistedInfo.transition).toHaveBeenCalledWith(
      9,
      'persist',
      expect.objectContaining({ active: false }),
    );
    expect(off.persistedInfo.create).not.toHaveBeenCalled();
    const live = setup({ row: { state: 'refreshing' } });
    await live.useCase.persist(5, actor);
    expect(live.persistedInfo.transition).not.toHaveBeenCalled();
  });

  it('unpersist turns the row off; refresh returns the acknowledged event id', async () => {
    const s = setup({ row: { state: 'persisted' } });
    await s.useCase.unpersist(5);
    expect(s.persistedInfo.transition).toHaveBeenCalledWith(9, 'unpersist', { active: false });
    const requestId = await s.useCase.refresh(5, actor);
    expect(s.rec.events().at(-1)).toMatchObject({ type: 'RefreshRequested', eventId: requestId, cardId: 5 });
  });

  it('refresh: 404 without a row, 400 for an off row, 503 when the broker does not acknowledge', async () => {
    expect(await codeOf(setup({}).useCase.refresh(5, actor))).toBe(ErrorCode.NotFound);
    expect(await codeOf(setup({ row: { state: 'off' } }).useCase.refresh(5, actor))).toBe(
      ErrorCode.PersistenceDisabled,
    );
    expect(
      await codeOf(setup({ row: { state: 'error' }, publishFails: true }).useCase.refresh(5, actor)),
    ).toBe(ErrorCode.BrokerUnavailable);
  });
});
