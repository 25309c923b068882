import { randomBytes } from 'node:crypto';
import { createEvent, Topics } from '@model-persistence/contracts';
import { DeadLetterPublisher, EventPublisher } from '@model-persistence/messaging';
import { createTestSourceDatabase, TestSourceDatabase } from '@model-persistence/testing';
import { ApiHarness } from './api-harness';

/** The endpoints the admin console added (issue 15), against real PostgreSQL and Kafka. */
describe('api: console endpoints (real PostgreSQL and Kafka)', () => {
  let h: ApiHarness;
  let source: TestSourceDatabase;
  let dbId: number;
  const role = `mp_console_ro_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    h = await ApiHarness.start('apiconsole');
    source = await createTestSourceDatabase('postgres', 'console');
    await source.query(`create role ${role} login`);
    dbId = (
      await h.request('POST', '/api/databases', {
        body: {
          name: 'Shop',
          engine: 'postgres',
          host: '127.0.0.1',
          port: 5432,
          db_name: source.name,
          user: 'postgres',
        },
      })
    ).json.id;
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    await source?.query(`drop owned by ${role}`).catch(() => undefined);
    await source?.drop();
    await source?.query(`drop role if exists ${role}`).catch(() => undefined);
  }, 30_000);

  it('serves the console at /admin without a token, and /admin redirects to /admin/', async () => {
    const index = await h.request('GET', '/admin/', { token: null });
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toMatch(/text\/html/);
    expect(index.text).toContain('<div id="app">');
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    const redirect = await h.request('GET', '/admin', { token: null });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('/admin/');
    // the data stays behind the token
    expect((await h.request('GET', '/api/model-persistence', { token: null })).status).toBe(401);
    expect((await h.request('GET', '/admin/nope.js', { token: null })).status).toBe(404);
    // the alert emails link to the reference's paths: they open the console's pages
    const model = await h.request('GET', '/admin/models/12', { token: null });
    expect(model.status).toBe(302);
    expect(model.headers.location).toBe('/admin/#/cards/12');
    expect((await h.request('GET', '/admin/tools/model-caching', { token: null })).headers.location).toBe(
      '/admin/#/models',
    );
  });

  it('lists next fire times with the expression in words, in the configured time zone', async () => {
    await h.request('PUT', '/api/settings/persisted-model-schedule-timezone', {
      body: { value: 'Europe/Berlin' },
    });
    const r = await h.request(
      'GET',
      `/api/cron/next-fire-times?cron=${encodeURIComponent('0 30 2 * * ? *')}`,
    );
    expect(r.status).toBe(200);
    expect(r.json.time_zone).toBe('Europe/Berlin');
    expect(r.json.description).toBe('At 02:30:00, every day');
    expect(r.json.next_fire_times).toHaveLength(5);
    const times = (r.json.next_fire_times as string[]).map((t) => new Date(t));
    for (const t of times) {
      const berlin = new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Berlin',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }).format(t);
      expect(berlin).toBe('02:30');
    }
    for (let i = 1; i < times.length; i++) expect(times[i].getTime()).toBeGreaterThan(times[i - 1].getTime());
  });

  it('rejects an invalid expression with the reason (400), like set-refresh-schedule', async () => {
    const bad = await h.request('GET', `/api/cron/next-fire-times?cron=${encodeURIComponent('0 0 * * * ?')}`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('INVALID_CRON');
    expect(bad.json.error.message).toMatch(/cron/i);
    const year = await h.request(
      'GET',
      `/api/cron/next-fire-times?cron=${encodeURIComponent('0 0 * * * ? 2030')}`,
    );
    expect(year.status).toBe(400);
    const zone = await h.request(
      'GET',
      `/api/cron/next-fire-times?cron=${encodeURIComponent('0 0 * * * ? *')}&time_zone=Mars/Olympus`,
    );
    expect(zone.status).toBe(400);
    expect(zone.json.error.message).toMatch(/time zone/);
  });

  it('runs the can-persist check step by step without persisting the database', async () => {
    const ok = await h.request('POST', `/api/databases/${dbId}/can-persist-check`);
    expect(ok.status).toBe(200);
    expect(ok.json.ok).toBe(true);
    expect(ok.json.steps.map((s: { status: string }) => s.status)).toEqual(Array(5).fill('passed'));
    expect((await h.request('GET', `/api/databases/${dbId}`)).json.persist_models_enabled).toBe(false);

    const locked = (
      await h.request('POST', '/api/databases', {
        body: {
          name: 'No create',
          engine: 'postgres',
          host: '127.0.0.1',
          port: 5432,
          db_name: source.name,
          user: role,
        },
      })
    ).json.id;
    await source.query(`revoke create on database "${source.name}" from public`);
    const failed = await h.request('POST', `/api/databases/${locked}/can-persist-check`);
    expect(failed.status).toBe(200);
    expect(failed.json.ok).toBe(false);
    expect(failed.json.steps[0]).toMatchObject({ step: 'create-schema', status: 'failed' });
    expect(failed.json.steps[0].message).toMatch(/permission/i);
    expect(failed.json.steps.slice(1).map((s: { status: string }) => s.status)).toEqual(
      Array(4).fill('not-run'),
    );
    expect((await h.request('POST', '/api/databases/999999/can-persist-check')).status).toBe(404);
  });

  it('searches, filters and sorts the persisted models list', async () => {
    expect((await h.request('POST', '/api/model-persistence/enable')).status).toBe(204);
    expect((await h.request('POST', `/api/model-persistence/database/${dbId}/persist`)).status).toBe(200);
    const names = ['Revenue by day', 'Top customers', 'Orders by status'];
    for (const name of names) {
      const card = await h.request('POST', '/api/cards', {
        body: { name, database_id: dbId, sql: 'select 1 as n' },
      });
      expect((await h.request('POST', `/api/model-persistence/card/${card.json.id}/persist`)).status).toBe(
        204,
      );
    }
    const list = (qs: string) => h.request('GET', `/api/model-persistence?${qs}`);
    const byName = await list('sort=name&direction=asc');
    expect(byName.json.data.map((d: { card_name: string }) => d.card_name)).toEqual([
      'Orders by status',
      'Revenue by day',
      'Top customers',
    ]);
    const desc = await list('sort=name&direction=desc&limit=2');
    expect(desc.json.total).toBe(3);
    expect(desc.json.data.map((d: { card_name: string }) => d.card_name)).toEqual([
      'Top customers',
      'Revenue by day',
    ]);
    const search = await list('q=CUSTOMER');
    expect(search.json.total).toBe(1);
    expect(search.json.data[0].card_name).toBe('Top customers');
    // a search term is text, never SQL or a pattern
    expect((await list(`q=${encodeURIComponent("%' or 1=1 --")}`)).json.total).toBe(0);
    expect((await list('q=_')).json.total).toBe(0);
    expect((await list('sort=nope')).status).toBe(400);
    expect((await list(`state=creating&database_id=${dbId}&sort=database`)).json.total).toBe(3);
  });

  it('pages the dead-letter topic newest first, with reason and payload, filtered by source topic', async () => {
    const dlq = h.app.get(DeadLetterPublisher);
    for (let i = 0; i < 3; i++) {
      await dlq.publish({
        topic: `${h.prefix}${i === 2 ? Topics.ConfigChanged : Topics.RefreshRequested}`,
        partition: 0,
        offset: String(10 + i),
        key: '7',
        value: Buffer.from(`{"broken": ${i}`),
        consumerGroup: 'refresher',
        reason: `payload ${i} is not JSON`,
        errorCode: 'INVALID_EVENT',
      });
      await new Promise((r) => setTimeout(r, 5)); // distinct dead-letter times
    }
    const first = await h.request('GET', '/api/dead-letters?limit=2');
    expect(first.status).toBe(200);
    expect(first.json.total).toBe(3);
    expect(first.json.data.map((d: { reason: string }) => d.reason)).toEqual([
      'payload 2 is not JSON',
      'payload 1 is not JSON',
    ]);
    expect(first.json.data[1]).toMatchObject({
      topic: `${h.prefix}${Topics.RefreshRequested}`,
      offset: '11',
      key: '7',
      error_code: 'INVALID_EVENT',
      payload: '{"broken": 1',
      consumer_group: 'refresher',
    });
    const second = await h.request('GET', '/api/dead-letters?limit=2&offset=2');
    expect(second.json.data.map((d: { payload: string }) => d.payload)).toEqual(['{"broken": 0']);
    const filtered = await h.request(
      'GET',
      `/api/dead-letters?topic=${encodeURIComponent(`${h.prefix}${Topics.ConfigChanged}`)}`,
    );
    expect(filtered.json.total).toBe(1);
    expect((await h.request('GET', '/api/dead-letters?limit=0')).status).toBe(400);
  });

  it('reports the last build of each model (rows, duration) from the refresh results', async () => {
    const publisher = h.app.get(EventPublisher);
    const runId = '7b0d8d3e-2c1f-4f4e-9f55-1f0e6a1b2c3d';
    const base = {
      runId,
      databaseId: dbId,
      cardId: 1,
      persistedInfoId: 41,
      trigger: 'manual' as const,
      attempts: 1,
    };
    await publisher.publish({
      topic: Topics.RefreshSucceeded,
      key: String(dbId),
      event: createEvent('RefreshSucceeded', {
        ...base,
        startedAt: '2026-01-01T00:00:00.000Z',
        endedAt: '2026-01-01T00:00:02.000Z',
        durationMs: 2000,
        schemaName: 's',
        tableName: 't',
        rows: 1234,
      }),
    });
    // an older event arriving later never replaces the newer build
    await publisher.publish({
      topic: Topics.RefreshSucceeded,
      key: String(dbId),
      event: createEvent('RefreshSucceeded', {
        ...base,
        startedAt: '2025-12-31T00:00:00.000Z',
        endedAt: '2025-12-31T00:00:01.000Z',
        durationMs: 1000,
        schemaName: 's',
        tableName: 't',
        rows: 1,
      }),
    });
    const r = await h.request('GET', '/api/model-persistence-builds');
    expect(r.status).toBe(200);
    expect(r.json.data).toEqual([
      expect.objectContaining({ persisted_info_id: 41, outcome: 'success', rows: 1234, duration_ms: 2000 }),
    ]);
  });

  it('does not serve caught mails outside development (DEV_MAIL_DIR unset)', async () => {
    expect((await h.request('GET', '/api/dev/mail')).status).toBe(404);
  });
});
