import { Injectable } from '@nestjs/common';
import { DataSource, EntityMetadata } from 'typeorm';
import { CardEntity, PersistedInfoEntity, SourceDatabaseEntity } from '../entities';
import { SETTING_DEFAULTS, SettingKey } from '../settings';

/** What an individual refresh run (one model) checks before it starts. */
export interface IndividualRunReads {
  /** The request is already in the consumer's inbox (a redelivery): nothing to do. */
  processed: boolean;
  db: SourceDatabaseEntity | null;
  card: CardEntity | null;
  /** The model's persisted_info row, if it has one. */
  info: PersistedInfoEntity | null;
  /** The instance-wide switch (setting `persisted-models-enabled`). */
  enabled: boolean;
}

/**
 * The reads of an individual run's start in ONE statement (one round trip, one snapshot) instead of an inbox check
 * and four entity look-ups: on the path of a single-model request they were the largest share of its app-database
 * time (issue 13, target 4). Read-only; each table keeps its own repository for writes.
 */
@Injectable()
export class IndividualRunReadsRepository {
  constructor(private readonly ds: DataSource) {}

  async read(q: {
    databaseId: number;
    cardId: number;
    inbox: { consumer: string; eventId: string };
  }): Promise<IndividualRunReads> {
    const tables = [
      { alias: 'd', entity: SourceDatabaseEntity },
      { alias: 'c', entity: CardEntity },
      { alias: 'p', entity: PersistedInfoEntity },
    ].map((t) => ({ ...t, meta: this.ds.getMetadata(t.entity) }));
    const columns = tables.flatMap(({ alias, meta }) =>
      meta.columns.map((c) => `${alias}."${c.databaseName}" AS "${alias}__${c.databaseName}"`),
    );
    const [raw] = await this.ds.query<Record<string, unknown>[]>(
      `SELECT EXISTS (SELECT 1 FROM inbox WHERE consumer = $3 AND event_id = $4) AS mp_processed,
              (SELECT value FROM setting WHERE key = $5) AS mp_enabled,
              ${columns.join(',\n              ')}
         FROM (VALUES (1)) AS one
         LEFT JOIN "database" d ON d.id = $1
         LEFT JOIN card c ON c.id = $2
         LEFT JOIN persisted_info p ON p.card_id = $2`,
      [q.databaseId, q.cardId, q.inbox.consumer, q.inbox.eventId, SettingKey.PersistedModelsEnabled],
    );
    const [db, card, info] = tables.map(({ alias, meta }) => entityOf(meta, alias, raw));
    const enabled = (raw.mp_enabled ?? SETTING_DEFAULTS[SettingKey.PersistedModelsEnabled]) === 'true';
    return {
      processed: raw.mp_processed === true,
      db: db as SourceDatabaseEntity | null,
      card: card as CardEntity | null,
      info: info as PersistedInfoEntity | null,
      enabled,
    };
  }
}

/** The entity of one joined table from its aliased columns; null when the join found no row. */
function entityOf(meta: EntityMetadata, alias: string, raw: Record<string, unknown>): unknown {
  const primary = meta.primaryColumns[0];
  if (raw[`${alias}__${primary.databaseName}`] === null) return null;
  const entity = meta.create() as Record<string, unknown>;
  for (const c of meta.columns) entity[c.propertyName] = raw[`${alias}__${c.databaseName}`];
  return entity;
}
