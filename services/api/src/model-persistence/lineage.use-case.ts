import { Injectable } from '@nestjs/common';
import { CardRepository, PersistedInfoRepository, PersistedState } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { downstreamOf, modelReferences, upstreamOf } from '@model-persistence/source-db';

export interface LineageNode {
  cardId: number;
  name: string;
  /** Steps away from the model asked about (1 = read directly). */
  depth: number;
  /** Its persisted-info state; null when it is not persisted. */
  state: PersistedState | null;
  lastSuccessAt: Date | null;
}

export interface Lineage {
  cardId: number;
  name: string;
  state: PersistedState | null;
  /** Models this one reads through `{{#id}}`, directly or through others. */
  upstream: LineageNode[];
  /** Models that read this one, directly or through others. */
  downstream: LineageNode[];
}

/** Upstream and downstream models of one model (`{{#id}}` references among a database's models), with states. */
@Injectable()
export class LineageUseCase {
  constructor(
    private readonly cards: CardRepository,
    private readonly rows: PersistedInfoRepository,
  ) {}

  async lineage(cardId: number): Promise<Lineage> {
    const card = await this.cards.findById(cardId);
    if (!card) throw new DomainError(ErrorCode.NotFound, `Card ${cardId} not found.`);
    const models = await this.cards.findModelsOfDatabase(card.databaseId);
    const byId = new Map(models.map((m) => [m.id, m]));
    byId.set(card.id, card);
    const refs = new Map([...byId.values()].map((m) => [m.id, modelReferences(m.sql)]));
    const rows = new Map((await this.rows.findByDatabase(card.databaseId)).map((r) => [r.cardId, r]));
    const node = ({ id, depth }: { id: number; depth: number }): LineageNode => ({
      cardId: id,
      name: byId.get(id)?.name ?? `card ${id}`,
      depth,
      state: rows.get(id)?.state ?? null,
      lastSuccessAt: rows.get(id)?.lastSuccessAt ?? null,
    });
    return {
      cardId,
      name: card.name,
      state: rows.get(cardId)?.state ?? null,
      upstream: upstreamOf(cardId, (id) => refs.get(id) ?? []).map(node),
      downstream: downstreamOf(
        cardId,
        models.map((m) => ({ id: m.id, refs: refs.get(m.id) ?? [] })),
      ).map(node),
    };
  }
}
