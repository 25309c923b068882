import { ErrorClass, RefreshRequested } from '@model-persistence/contracts';
import {
  CardEntity,
  IndividualRunReads,
  isInactive,
  PersistedInfoEntity,
  PersistedInfoRepository,
  SettingKey,
  SettingRepository,
  SourceDatabaseEntity,
} from '@model-persistence/database';
import { ErrorCode } from '@model-persistence/errors';
import { SourceDbPort } from '@model-persistence/source-db';
import { SourceDrivers } from './source-drivers.service';

/** A request that cannot run, reported as a failed model with a clear reason. */
export class Rejection {
  constructor(
    readonly outcome: 'error' | 'skipped',
    readonly errorClass: ErrorClass,
    readonly code: ErrorCode,
    readonly message: string,
    readonly persistedInfoId: number | null = null,
  ) {}
}

/**
 * Decides whether an individual run (one card) may run: the database, the card, a model, not archived,
 * persistence on, the row not turned off; creates the row when the model has none yet.
 */
export class IndividualRunGuard {
  constructor(
    private readonly api: Pick<SourceDbPort, 'modelSlug' | 'cacheTableName'>,
    private readonly rows: PersistedInfoRepository,
    private readonly settings: SettingRepository,
    private readonly drivers: Pick<SourceDrivers, 'schemaName'>,
  ) {}

  /** `found`: the run's reads (IndividualRunReadsRepository, one statement). */
  async prepare(
    request: RefreshRequested,
    cardId: number,
    found: Pick<IndividualRunReads, 'db' | 'card' | 'info' | 'enabled'>,
  ): Promise<Rejection | { db: SourceDatabaseEntity; card: CardEntity; info: PersistedInfoEntity }> {
    const { db, card, enabled } = found;
    if (!db)
      return new Rejection(
        'error',
        'invalid',
        ErrorCode.UnknownDatabase,
        `database ${request.databaseId} does not exist`,
      );
    if (!card)
      return new Rejection('error', 'invalid', ErrorCode.UnknownCard, `card ${cardId} does not exist`);
    if (card.databaseId !== db.id)
      return new Rejection(
        'error',
        'invalid',
        ErrorCode.ValidationFailed,
        `card ${cardId} belongs to database ${card.databaseId}, not ${db.id}`,
      );
    let info = found.info;
    if (card.type !== 'model')
      return new Rejection(
        'error',
        'invalid',
        ErrorCode.NotAModel,
        `card ${cardId} is a ${card.type}, not a model; only models are persisted`,
        info?.id ?? null,
      );
    if (card.archived)
      return new Rejection(
        'error',
        'invalid',
        ErrorCode.ArchivedModel,
        `model ${cardId} is archived`,
        info?.id ?? null,
      );
    if (!(db.persistModelsEnabled && enabled))
      return new Rejection(
        'skipped',
        'invalid',
        ErrorCode.PersistenceDisabled,
        `model persistence is disabled for database ${db.id}`,
        info?.id ?? null,
      );
    if (info && isInactive(info.state))
      return new Rejection(
        'skipped',
        'invalid',
        ErrorCode.Conflict,
        `model ${cardId} is not persisted (state ${info.state}); persist it first`,
        info.id,
      );
    info ??= await this.rows.createIfMissing(
      newPersistedRow(this.api, db, card, await this.drivers.schemaName(db.id)),
    );
    return { db, card, info };
  }

  async persistenceEnabled(db: SourceDatabaseEntity): Promise<boolean> {
    return db.persistModelsEnabled && (await this.settings.getBoolean(SettingKey.PersistedModelsEnabled));
  }
}

/** A new `creating` row for a model (written by the refresher when the model has none yet). */
export function newPersistedRow(
  api: Pick<SourceDbPort, 'modelSlug' | 'cacheTableName'>,
  db: SourceDatabaseEntity,
  card: CardEntity,
  schemaName: string,
) {
  return {
    databaseId: db.id,
    cardId: card.id,
    questionSlug: api.modelSlug(card.name),
    schemaName,
    tableName: api.cacheTableName(db.engine, card.id, card.name),
    state: 'creating' as const,
    active: false,
    refreshBegin: new Date(),
    creator: 'refresher',
  };
}
