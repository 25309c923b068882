import { Injectable } from '@nestjs/common';
import { CardEntity, CardRepository, PersistedInfoRepository } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import {
  modelReferences,
  quoteIdentifier,
  SourceEngine,
  substituteModelReferences,
} from '@model-persistence/source-db';

/** References deeper than this are refused (the api refuses cycles; this bounds a chain all the same). */
const MAX_DEPTH = 20;

/**
 * The SQL a model runs, with each `{{#id}}` reference replaced: by the upstream model's cache table when that
 * model is persisted with an active table, otherwise by the upstream's own SQL (expanded the same way) as a
 * subquery. The result is checked and run like any model SQL (the derived-table wrapper still applies).
 */
@Injectable()
export class ModelSqlResolver {
  constructor(
    private readonly cards: CardRepository,
    private readonly rows: PersistedInfoRepository,
  ) {}

  async resolve(card: CardEntity, engine: SourceEngine): Promise<string> {
    return this.expand(card.sql, card.databaseId, engine, [card.id]);
  }

  private async expand(
    sql: string,
    databaseId: number,
    engine: SourceEngine,
    path: number[],
  ): Promise<string> {
    const refs = modelReferences(sql);
    if (refs.length === 0) return sql;
    if (path.length > MAX_DEPTH)
      throw new DomainError(
        ErrorCode.InvalidModelReference,
        `models read each other more than ${MAX_DEPTH} deep`,
      );
    const parts = new Map<number, string>();
    for (const ref of refs) {
      if (path.includes(ref))
        throw new DomainError(
          ErrorCode.ModelReferenceCycle,
          `models read each other in a circle: ${[...path, ref].map((id) => `{{#${id}}}`).join(' → ')}`,
        );
      const up = await this.cards.findById(ref);
      if (!up || up.type !== 'model' || up.archived || up.databaseId !== databaseId)
        throw new DomainError(
          ErrorCode.InvalidModelReference,
          `{{#${ref}}} cannot be read: ${!up ? 'no such card exists' : up.databaseId !== databaseId ? 'it is on another database' : up.archived ? 'it is archived' : 'it is not a model'}`,
        );
      const row = await this.rows.findByCardId(ref);
      parts.set(
        ref,
        row?.active && row.state === 'persisted'
          ? `${quoteIdentifier(engine, row.schemaName)}.${quoteIdentifier(engine, row.tableName)}`
          : `(${await this.expand(up.sql, databaseId, engine, [...path, ref])}\n)`,
      );
    }
    return substituteModelReferences(sql, (id) => parts.get(id) ?? '');
  }
}
