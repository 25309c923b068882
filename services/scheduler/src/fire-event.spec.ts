import { parseEvent, Topics } from '@model-persistence/contracts';
import { buildFireEvent, fireEventId } from './fire-event';

const t = Date.parse('2026-11-29T12:00:03Z');

describe('fire events', () => {
  it('derives the same valid UUID from the same schedule and fire time only', () => {
    const a = fireEventId('database:1', t);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(fireEventId('database:1', t)).toBe(a);
    expect(fireEventId('database:1', t + 1000)).not.toBe(a);
    expect(fireEventId('database:2', t)).not.toBe(a);
  });

  it('builds valid events per kind, keyed for their topic', () => {
    const db = buildFireEvent(
      { key: 'database:7', kind: 'database', cron: 'x', timeZone: 'UTC', databaseId: 7 },
      t,
    )!;
    expect(db).toMatchObject({ topic: Topics.RefreshRequested, key: '7' });
    expect(db.event).toMatchObject({
      databaseId: 7,
      trigger: 'scheduled',
      occurredAt: '2026-11-29T12:00:03.000Z',
    });
    expect('cardId' in db.event).toBe(false);
    const model = buildFireEvent(
      { key: 'model:9', kind: 'model', cron: 'x', timeZone: 'UTC', databaseId: 7, cardId: 9 },
      t,
    )!;
    expect(model.event).toMatchObject({ databaseId: 7, cardId: 9, trigger: 'scheduled' });
    const prune = buildFireEvent({ key: 'prune', kind: 'prune', cron: 'x', timeZone: 'UTC' }, t)!;
    expect(prune).toMatchObject({
      topic: Topics.PruneRequested,
      key: 'prune',
      event: { trigger: 'scheduled' },
    });
    const disable = buildFireEvent(
      { key: 'prune-disable', kind: 'prune-disable', at: t, timeZone: 'UTC' },
      t,
    )!;
    expect(disable.event).toMatchObject({ type: 'PruneRequested', trigger: 'disable' });
    for (const e of [db, model, prune, disable]) expect(parseEvent(e.event).ok).toBe(true);
    expect(
      buildFireEvent({ key: 'claim-cleanup', kind: 'claim-cleanup', cron: 'x', timeZone: 'UTC' }, t),
    ).toBeNull();
  });
});
