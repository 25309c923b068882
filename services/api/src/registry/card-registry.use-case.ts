import { Inject, Injectable } from '@nestjs/common';
import { validateQuartzCron } from '@model-persistence/cron';
import {
  CardEntity,
  CardRepository,
  CardType,
  canTransition,
  IncrementalSettings,
  ModelIndex,
  isLive,
  PersistedInfoRepository,
  SettingKey,
  SettingRepository,
  SourceDatabaseRepository,
  UnitOfWork,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { OutgoingEvent } from '@model-persistence/messaging';
import { Actor } from '../common/actor';
import { ChangeNotifier } from '../common/change-notifier';
import {
  checkWithModelReferences,
  parseLookback,
  SOURCE_DB,
  SourceDbPort,
} from '@model-persistence/source-db';
import { ModelReferenceCheck } from './model-reference-check';

export interface CardInput {
  name: string;
  databaseId: number;
  sql: string;
  type?: CardType;
  archived?: boolean;
  refreshCron?: string | null;
  indexes?: ModelIndex[] | null;
  incremental?: IncrementalSettings | null;
  /** Freshness target in seconds (validated at the edge; the CHECK constraint enforces the bounds). */
  maxStalenessSeconds?: number | null;
  /** Change detection: the model's own change query, validated like model SQL (null: table statistics). */
  refreshKey?: string | null;
}

export type CardPatch = Partial<Omit<CardInput, 'databaseId'>>;

/** Checks what zod cannot: the full-rebuild cron and the lookback (undefined/null pass through). */
function validIncremental(
  settings: IncrementalSettings | null | undefined,
): IncrementalSettings | null | undefined {
  if (!settings) return settings;
  parseLookback(settings.lookback);
  return {
    ...settings,
    fullRebuildCron: settings.fullRebuildCron ? validateQuartzCron(settings.fullRebuildCron) : null,
  };
}

/**
 * Cards (saved queries). SQL must be a single read query; a changed SQL puts the model's row back to
 * `creating` (cache no longer active) and requests a refresh; archiving, turning into a question or deleting
 * marks the row deletable and requests a prune (the prune drops tables of archived/deleted models at once).
 */
@Injectable()
export class CardRegistryUseCase {
  constructor(
    @Inject(SOURCE_DB) private readonly sourceDb: SourceDbPort,
    private readonly uow: UnitOfWork,
    private readonly cards: CardRepository,
    private readonly databases: SourceDatabaseRepository,
    private readonly persistedInfo: PersistedInfoRepository,
    private readonly settings: SettingRepository,
    private readonly notifier: ChangeNotifier,
    private readonly references: ModelReferenceCheck,
  ) {}

  async get(id: number): Promise<CardEntity> {
    const card = await this.cards.findById(id);
    if (!card) throw new DomainError(ErrorCode.NotFound, `Card ${id} not found.`);
    return card;
  }

  list(): Promise<CardEntity[]> {
    return this.cards.repo().find({ order: { id: 'ASC' } });
  }

  async create(input: CardInput): Promise<CardEntity> {
    const refreshCron = input.refreshCron ? validateQuartzCron(input.refreshCron) : null;
    const incremental = validIncremental(input.incremental);
    const db = await this.databases.findById(input.databaseId);
    if (!db) throw new DomainError(ErrorCode.UnknownDatabase, `Database ${input.databaseId} not found.`);
    const sql = checkWithModelReferences(input.sql, (s) => this.sourceDb.assertSafeModelSql(s, db.engine));
    await this.references.assertValid(null, input.databaseId, sql);
    const card = await this.cards.create({
      name: input.name,
      databaseId: input.databaseId,
      sql,
      type: input.type ?? 'model',
      archived: input.archived ?? false,
      refreshCron,
      indexes: input.indexes ?? null,
      incremental: incremental ?? null,
      maxStalenessSeconds: input.maxStalenessSeconds ?? null,
      refreshKey: input.refreshKey ? this.sourceDb.assertSafeModelSql(input.refreshKey, db.engine) : null,
    });
    await this.notifier.send(this.notifier.configChanged('card', card.id, 'created'));
    return card;
  }

  async update(id: number, patch: CardPatch, actor: Actor): Promise<CardEntity> {
    // validate everything before writing anything
    const refreshCron =
      patch.refreshCron === undefined
        ? undefined
        : patch.refreshCron && validateQuartzCron(patch.refreshCron);
    const incremental = validIncremental(patch.incremental);
    const before = await this.get(id);
    const sql = patch.sql !== undefined ? await this.checkedSql(patch.sql, before) : undefined;
    if (sql !== undefined) await this.references.assertValid(id, before.databaseId, sql);
    const changes: Partial<CardEntity> = {};
    if (patch.name !== undefined) changes.name = patch.name;
    if (sql !== undefined) changes.sql = sql;
    if (patch.type !== undefined) changes.type = patch.type;
    if (patch.archived !== undefined) changes.archived = patch.archived;
    if (refreshCron !== undefined) changes.refreshCron = refreshCron || null;
    if (patch.indexes !== undefined) changes.indexes = patch.indexes;
    if (incremental !== undefined) changes.incremental = incremental;
    // the scheduler hears it through the ConfigurationChanged below and re-plans the model's top-ups
    if (patch.maxStalenessSeconds !== undefined) changes.maxStalenessSeconds = patch.maxStalenessSeconds;
    if (patch.refreshKey !== undefined)
      changes.refreshKey = await this.checkedRefreshKey(patch.refreshKey, before);
    const after = { ...before, ...changes };
    // the columns are known once the model was built with this SQL: refuse names it does not return
    if (sql === undefined || sql === before.sql) await this.checkColumnsKnown(after);
    const retired = after.type !== 'model' || after.archived;
    const sqlChanged = sql !== undefined && sql !== before.sql;

    const effect = await this.uow.run(async (m) => {
      if (Object.keys(changes).length > 0) await this.cards.update(id, changes, m);
      const row = await this.persistedInfo.findByCardId(id, m);
      if (!row || !isLive(row.state)) return 'none' as const;
      if (retired) {
        await this.persistedInfo.transition(row.id, 'disable', { active: false }, m);
        return 'prune' as const;
      }
      if (sqlChanged) {
        await this.persistedInfo.transition(
          row.id,
          'rebuild',
          { active: false, refreshBegin: new Date() },
          m,
        );
        return 'rebuild' as const;
      }
      return 'none' as const;
    });

    const events: OutgoingEvent[] = [this.notifier.configChanged('card', id, 'updated')];
    if (effect === 'prune') events.push(this.notifier.pruneRequested('manual', actor.name));
    if (effect === 'rebuild' && (await this.refreshable(after.databaseId))) {
      events.push(this.notifier.refreshRequested(after.databaseId, id, actor.name));
    }
    await this.notifier.send(...events);
    return this.get(id);
  }

  /** The row becomes deletable and loses its card (card_id → null); prune then drops the table and row. */
  async delete(id: number, actor: Actor): Promise<void> {
    await this.get(id);
    const hadRow = await this.uow.run(async (m) => {
      const row = await this.persistedInfo.findByCardId(id, m);
      if (row && canTransition('delete', row.state)) {
        await this.persistedInfo.transition(row.id, 'delete', { active: false }, m);
      }
      await this.cards.delete(id, m);
      return row !== null;
    });
    const events: OutgoingEvent[] = [this.notifier.configChanged('card', id, 'deleted')];
    if (hadRow) events.push(this.notifier.pruneRequested('manual', actor.name));
    await this.notifier.send(...events);
  }

  /** A refresh_key is checked like model SQL, for its database's engine; null/'' clears it. */
  private async checkedRefreshKey(key: string | null, card: CardEntity): Promise<string | null> {
    if (!key) return null;
    const db = await this.databases.findById(card.databaseId);
    return this.sourceDb.assertSafeModelSql(key, db?.engine);
  }

  /** Index, key and checkpoint columns against the last built table's columns (when built from this SQL). */
  private async checkColumnsKnown(card: CardEntity): Promise<void> {
    const row = await this.persistedInfo.findByCardId(card.id);
    const returned = row?.definition?.fieldDefinitions.map((f) => f.fieldName);
    if (!returned || returned.length === 0) return;
    const wanted = [
      ...(card.indexes ?? []).flatMap((i) => i.columns),
      ...(card.incremental ? [card.incremental.checkpointColumn, ...card.incremental.uniqueKey] : []),
    ];
    const missing = [...new Set(wanted.filter((c) => !returned.includes(c)))];
    if (missing.length > 0) {
      throw new DomainError(
        ErrorCode.ModelIndexColumn,
        `Card ${card.id}: column(s) ${missing.map((c) => JSON.stringify(c)).join(', ')} are not returned by the model's query (it returns ${returned.map((c) => JSON.stringify(c)).join(', ')}).`,
        { missingColumns: missing },
      );
    }
  }

  private async checkedSql(sql: string, card: CardEntity): Promise<string> {
    const engine = (await this.databases.findById(card.databaseId))?.engine;
    return checkWithModelReferences(sql, (s) => this.sourceDb.assertSafeModelSql(s, engine));
  }

  private async refreshable(databaseId: number): Promise<boolean> {
    const db = await this.databases.findById(databaseId);
    return !!db?.persistModelsEnabled && (await this.settings.getBoolean(SettingKey.PersistedModelsEnabled));
  }
}
