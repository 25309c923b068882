import { ReceivedMessage } from '@model-persistence/testing';
import { ApiHarness } from './api-harness';

/*
 * Freshness targets through the API (real PostgreSQL and Kafka): `max_staleness` on cards (validated, stored,
 * cleared, announced to the scheduler), and the `stale` flag and filter of GET /api/model-persistence against
 * rows whose last success is set in the past.
 */
describe('api freshness targets (max_staleness, ?stale=)', () => {
  let h: ApiHarness;
  let db: number;

  const createCard = async (body: Record<string, unknown>) =>
    h.request('POST', '/api/cards', {
      body: { name: 'm', database_id: db, sql: 'select 1 as n', ...body },
    });
  const persisted = async (
    cardId: number,
    state: string,
    ageSeconds: number | null,
    createdAgeSeconds = 60,
  ) =>
    h.query(
      `insert into persisted_info (database_id, card_id, question_slug, schema_name, table_name, active, state,
                                   last_success_at, created_at)
       values ($1, $2, $3, 's', $3, true, $4,
               case when $5::int is null then null else now() - $5::int * interval '1 second' end,
               now() - $6::int * interval '1 second')`,
      [db, cardId, `model_${cardId}`, state, ageSeconds, createdAgeSeconds],
    );

  beforeAll(async () => {
    h = await ApiHarness.start('apifresh');
    db = (
      await h.request('POST', '/api/databases', {
        body: {
          name: 'pg',
          engine: 'postgres',
          host: '127.0.0.1',
          port: 5432,
          db_name: 'mp_source_test',
          user: 'postgres',
        },
      })
    ).json.id;
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  }, 30_000);

  it('sets, shows, changes and clears max_staleness (ISO-8601), announcing each change to the scheduler', async () => {
    const created = await createCard({ name: 'targeted', max_staleness: 'PT30M' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ max_staleness: 'PT30M', max_staleness_seconds: 1800 });
    const id = created.json.id as number;
    const patched = await h.request('PATCH', `/api/cards/${id}`, { body: { max_staleness: 'p1dt12h' } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ max_staleness: 'P1DT12H', max_staleness_seconds: 129_600 });
    await h.recorder.waitFor(
      (m: ReceivedMessage) =>
        m.event?.type === 'ConfigurationChanged' && m.event.entity === 'card' && m.event.entityId === id,
      2,
    );
    const cleared = await h.request('PATCH', `/api/cards/${id}`, { body: { max_staleness: null } });
    expect(cleared.json).toMatchObject({ max_staleness: null, max_staleness_seconds: null });
    expect((await h.query(`select max_staleness_seconds from card where id = $1`, [id]))[0]).toEqual({
      max_staleness_seconds: null,
    });
  });

  it.each([
    ['PT30S', /between PT1M and P365D/],
    ['P366D', /between PT1M and P365D/],
    ['P1Y', /ISO-8601 duration/],
    ['30 minutes', /ISO-8601 duration/],
    ['PT', /ISO-8601 duration/],
    [1800, /string/i],
  ])('refuses max_staleness %p with 400 and the reason', async (value, reason) => {
    const r = await createCard({ name: 'bad', max_staleness: value });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json.error)).toMatch(reason);
  });

  it('the database refuses a target out of bounds too (CHECK constraint)', async () => {
    const id = (await createCard({ name: 'check' })).json.id as number;
    await expect(h.query(`update card set max_staleness_seconds = 10 where id = $1`, [id])).rejects.toThrow(
      /card_max_staleness_seconds_check/,
    );
  });

  it('marks and filters stale models: beyond max_staleness when set, else twice the schedule interval', async () => {
    // global schedule every 6 hours (the default): without a target a model is stale after 12 hours
    const card = async (name: string, target?: string) =>
      (await createCard({ name, ...(target ? { max_staleness: target } : {}) })).json.id as number;
    const targetMissed = await card('5 min old, 1 min target', 'PT1M');
    const targetMet = await card('5 min old, 1 h target', 'PT1H');
    const scheduleMissed = await card('2 days old, 6-hourly');
    const scheduleMet = await card('1 h old, 6-hourly');
    const turnedOff = await card('2 days old, off');
    const neverBuilt = await card('never built, created 20 min ago, 10 min target', 'PT10M');
    await persisted(targetMissed, 'persisted', 300);
    await persisted(targetMet, 'persisted', 300);
    await persisted(scheduleMissed, 'error', 2 * 86_400);
    await persisted(scheduleMet, 'persisted', 3600);
    await persisted(turnedOff, 'off', 2 * 86_400);
    await persisted(neverBuilt, 'creating', null, 1200);

    const list = async (query: string) => {
      const r = await h.request('GET', `/api/model-persistence?limit=1000${query}`);
      expect(r.status).toBe(200);
      return r.json as { data: Record<string, unknown>[]; total: number };
    };
    const stale = await list('&stale=true');
    expect(stale.data.map((i) => i.card_id).sort()).toEqual(
      [targetMissed, scheduleMissed, neverBuilt].sort(),
    );
    expect(stale.total).toBe(3);
    expect(stale.data.every((i) => i.stale === true)).toBe(true);
    const fresh = await list('&stale=false');
    expect(fresh.data.map((i) => i.card_id).sort()).toEqual([targetMet, scheduleMet, turnedOff].sort());
    expect(fresh.data.every((i) => i.stale === false)).toBe(true);
    // the unfiltered list carries the same flags
    const all = await list('');
    const byCard = new Map(all.data.map((i) => [i.card_id, i]));
    expect(byCard.get(targetMissed)).toMatchObject({
      stale: true,
      max_staleness: 'PT1M',
      max_staleness_seconds: 60,
      staleness_limit_seconds: 60,
      staleness_limit_source: 'max_staleness',
    });
    expect(byCard.get(scheduleMissed)).toMatchObject({
      stale: true,
      max_staleness: null,
      staleness_limit_seconds: 12 * 3600,
      staleness_limit_source: 'schedule_interval',
    });
    expect(byCard.get(targetMet)).toMatchObject({
      stale: false,
      staleness_limit_seconds: 3600,
      staleness_limit_source: 'max_staleness',
    });
    expect(byCard.get(scheduleMet)).toMatchObject({
      stale: false,
      staleness_limit_seconds: 12 * 3600,
      staleness_limit_source: 'schedule_interval',
    });
    // filters combine
    const staleErrors = await list('&stale=true&state=error');
    expect(staleErrors.data.map((i) => i.card_id)).toEqual([scheduleMissed]);
    // and the detail shows it
    const detail = await h.request('GET', `/api/model-persistence/card/${neverBuilt}`);
    expect(detail.json).toMatchObject({
      stale: true,
      max_staleness: 'PT10M',
      staleness_limit_source: 'max_staleness',
      staleness_seconds: null,
    });
  });

  it('has no staleness limit (source null) when the model has neither a target nor a schedule', async () => {
    // its own schedule never fires (a 31st of February): no interval, so no limit, however old it is
    const id = (await createCard({ name: 'unscheduled', refresh_cron: '0 0 0 31 2 ? *' })).json.id as number;
    await persisted(id, 'persisted', 3 * 86_400);
    const detail = await h.request('GET', `/api/model-persistence/card/${id}`);
    expect(detail.json).toMatchObject({
      stale: false,
      staleness_limit_seconds: null,
      staleness_limit_source: null,
    });
  });

  it('documents staleness_limit_source in the OpenAPI document of the list', async () => {
    const doc = (await h.request('GET', '/api/docs-json', { token: null })).json as {
      paths: Record<string, Record<string, { description?: string }>>;
    };
    expect(doc.paths['/api/model-persistence'].get.description).toMatch(
      /staleness_limit_source.*max_staleness.*schedule_interval/s,
    );
  });

  it('refuses a stale filter that is not true or false (400)', async () => {
    const r = await h.request('GET', '/api/model-persistence?stale=yes');
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json.error)).toMatch(/stale/);
  });
});
