import { Injectable } from '@nestjs/common';
import { CardRepository } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { findReferenceCycle, modelReferences } from '@model-persistence/source-db';

/**
 * Save-time check of a model's `{{#id}}` references: each names an existing, unarchived model of the same
 * database, and no model ends up reading itself through others (422 naming the cycle).
 */
@Injectable()
export class ModelReferenceCheck {
  constructor(private readonly cards: CardRepository) {}

  /** `cardId`: the card being saved (null while it is created: nothing can reference it yet). */
  async assertValid(cardId: number | null, databaseId: number, sql: string): Promise<void> {
    const refs = modelReferences(sql);
    if (refs.length === 0) return;
    const models = new Map((await this.cards.findModelsOfDatabase(databaseId)).map((c) => [c.id, c]));
    for (const ref of refs) {
      if (ref === cardId)
        throw new DomainError(
          ErrorCode.ModelReferenceCycle,
          `model ${ref} cannot read itself ({{#${ref}}})`,
          {
            cycle: [ref, ref],
          },
        );
      if (models.get(ref)?.archived === false) continue;
      const card = await this.cards.findById(ref);
      const why = !card
        ? 'no such card exists'
        : card.databaseId !== databaseId
          ? `it is on database ${card.databaseId}; a model can only read models of its own database (${databaseId})`
          : card.type !== 'model'
            ? 'it is a question, not a model'
            : 'it is archived';
      throw new DomainError(ErrorCode.InvalidModelReference, `{{#${ref}}} cannot be read: ${why}`, {
        reference: ref,
      });
    }
    if (cardId === null) return;
    const refsOf = (id: number) => (id === cardId ? refs : modelReferences(models.get(id)?.sql ?? ''));
    const cycle = findReferenceCycle(cardId, refsOf);
    if (cycle)
      throw new DomainError(
        ErrorCode.ModelReferenceCycle,
        `models would read each other in a circle: ${cycle.map((id) => `{{#${id}}}`).join(' → ')}`,
        { cycle },
      );
  }
}
