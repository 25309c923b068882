import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import {
  CardEntity,
  CardRepository,
  canTransition,
  isInactive,
  PersistedInfoEntity,
  PersistedInfoRepository,
  SettingKey,
  SettingRepository,
  SourceDatabaseRepository,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { ApiConfig } from '../config';
import { Actor } from '../common/actor';
import { ChangeNotifier } from '../common/change-notifier';
import { isUniqueViolation } from '../common/pg-errors';
import { SOURCE_DB, SourceDbPort } from '@model-persistence/source-db';

/** Persist, unpersist and refresh one model. */
@Injectable()
export class CardPersistenceUseCase {
  constructor(
    @Inject(APP_CONFIG) private readonly config: ApiConfig,
    @Inject(SOURCE_DB) private readonly sourceDb: SourceDbPort,
    private readonly cards: CardRepository,
    private readonly databases: SourceDatabaseRepository,
    private readonly persistedInfo: PersistedInfoRepository,
    private readonly settings: SettingRepository,
    private readonly notifier: ChangeNotifier,
  ) {}

  /** Row → `creating` (new, or again from off/deletable), then a manual refresh of the model is requested. */
  async persist(cardId: number, actor: Actor): Promise<void> {
    const card = await this.modelCard(cardId);
    if (!(await this.settings.getBoolean(SettingKey.PersistedModelsEnabled))) {
      throw new DomainError(ErrorCode.PersistenceDisabled, 'Persisting models is not enabled.');
    }
    const db = await this.databases.findById(card.databaseId);
    if (!db?.persistModelsEnabled) {
      throw new DomainError(
        ErrorCode.PersistenceDisabled,
        `Persisting models is not enabled for database ${card.databaseId}.`,
      );
    }
    const row = await this.persistedInfo.findByCardId(card.id);
    if (!row) await this.createRow(card, db.engine, actor);
    else if (canTransition('persist', row.state)) {
      await this.persistedInfo.transition(row.id, 'persist', {
        active: false,
        refreshBegin: new Date(),
        refreshEnd: null,
        error: null,
      });
    }
    await this.notifier.send(
      this.notifier.refreshRequested(card.databaseId, card.id, actor.name),
      this.notifier.configChanged('card', card.id, 'updated'),
    );
  }

  /**
   * Row → `off` (prune drops the table, the row stays); idempotent. Wins over a refresh in flight: its lease is
   * cleared, so the build is cancelled and cannot write `persisted` back.
   */
  async unpersist(cardId: number): Promise<void> {
    const card = await this.findCard(cardId);
    const row = await this.persistedInfo.findByCardId(card.id);
    if (row && canTransition('unpersist', row.state)) {
      await this.persistedInfo.transition(row.id, 'unpersist', { active: false });
    }
    await this.notifier.send(this.notifier.configChanged('card', card.id, 'updated'));
  }

  /** Publishes a manual RefreshRequested; resolves with its event id once the broker acknowledged it. */
  async refresh(
    cardId: number,
    actor: Actor,
    full = false,
    downstream = false,
    ifChanged = false,
  ): Promise<string> {
    const card = await this.modelCard(cardId);
    const row = await this.persistedInfo.findByCardId(card.id);
    if (!row) throw new DomainError(ErrorCode.NotFound, `Model ${card.id} is not persisted.`);
    if (isInactive(row.state)) {
      throw new DomainError(
        ErrorCode.PersistenceDisabled,
        `Model ${card.id} is not persisted (state ${row.state}); persist it first.`,
      );
    }
    const out = this.notifier.refreshRequested(
      card.databaseId,
      card.id,
      actor.name,
      full,
      downstream,
      ifChanged,
    );
    await this.notifier.send(out);
    return out.event.eventId;
  }

  private async findCard(cardId: number): Promise<CardEntity> {
    const card = await this.cards.findById(cardId);
    if (!card) throw new DomainError(ErrorCode.NotFound, `Card ${cardId} not found.`);
    return card;
  }

  /** 404 unknown, 400 for a question or an archived model. */
  private async modelCard(cardId: number): Promise<CardEntity> {
    const card = await this.findCard(cardId);
    if (card.type !== 'model') throw new DomainError(ErrorCode.NotAModel, `Card ${cardId} is not a model.`);
    if (card.archived) throw new DomainError(ErrorCode.ArchivedModel, `Model ${cardId} is archived.`);
    return card;
  }

  private async createRow(card: CardEntity, engine: 'postgres' | 'mysql', actor: Actor): Promise<void> {
    const instanceUuid = await this.settings.get(SettingKey.InstanceUuid);
    const values: Partial<PersistedInfoEntity> = {
      databaseId: card.databaseId,
      cardId: card.id,
      questionSlug: this.sourceDb.modelSlug(card.name),
      schemaName: this.sourceDb.cacheSchemaName(
        this.config.cache.schemaPrefix,
        instanceUuid,
        card.databaseId,
      ),
      tableName: this.sourceDb.cacheTableName(engine, card.id, card.name),
      state: 'creating',
      active: false,
      refreshBegin: new Date(),
      creator: actor.name,
    };
    try {
      await this.persistedInfo.create(values);
    } catch (e) {
      // a concurrent persist of the same card created it first: that row is just as good
      if (!isUniqueViolation(e)) throw e;
    }
  }
}
