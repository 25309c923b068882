import { CardEntity } from '@model-persistence/database';
import { ErrorCode } from '@model-persistence/errors';
import { ModelReferenceCheck } from './model-reference-check';

const card = (id: number, sql: string, over: Partial<CardEntity> = {}) =>
  ({
    id,
    name: `m${id}`,
    databaseId: 1,
    sql,
    type: 'model',
    archived: false,
    refreshCron: null,
    ...over,
  }) as CardEntity;

function check(cards: CardEntity[]) {
  const repo = {
    findModelsOfDatabase: async (db: number) =>
      cards.filter((c) => c.databaseId === db && c.type === 'model' && !c.archived),
    findById: async (id: number) => cards.find((c) => c.id === id) ?? null,
  };
  return new ModelReferenceCheck(repo as never);
}

describe('ModelReferenceCheck', () => {
  const cards = [
    card(1, 'select 1 as a'),
    card(2, 'select * from {{#1}} x'),
    card(3, 'select * from {{#2-orders}} y'),
    card(4, 'select 1', { databaseId: 2 }),
    card(5, 'select 1', { type: 'question' }),
    card(6, 'select 1', { archived: true }),
  ];

  it('accepts SQL without references and references to models of the same database', async () => {
    await expect(check(cards).assertValid(null, 1, 'select 1')).resolves.toBeUndefined();
    await expect(
      check(cards).assertValid(null, 1, 'select * from {{#3}} a join {{#1}} b on true'),
    ).resolves.toBeUndefined();
    await expect(check(cards).assertValid(1, 1, 'select 2 as a')).resolves.toBeUndefined();
  });

  it.each([
    [99, /no such card/],
    [4, /on database 2/],
    [5, /question/],
    [6, /archived/],
  ])('refuses a reference to card %s', async (ref, message) => {
    await expect(check(cards).assertValid(null, 1, `select * from {{#${ref}}} t`)).rejects.toMatchObject({
      code: ErrorCode.InvalidModelReference,
      message: expect.stringMatching(message) as unknown,
    });
  });

  it('refuses a cycle, naming it, and a model reading itself', async () => {
    await expect(check(cards).assertValid(1, 1, 'select * from {{#3}} t')).rejects.toMatchObject({
      code: ErrorCode.ModelReferenceCycle,
      message: expect.stringContaining('{{#1}} → {{#3}} → {{#2}} → {{#1}}') as unknown,
      details: { cycle: [1, 3, 2, 1] },
    });
    await expect(check(cards).assertValid(2, 1, 'select * from {{#2}} t')).rejects.toMatchObject({
      code: ErrorCode.ModelReferenceCycle,
    });
  });
});
