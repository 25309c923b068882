import { SecretBox } from '@model-persistence/database';
import { ApiHarness } from './api-harness';

const PG_SOURCE = {
  name: 'pg source',
  engine: 'postgres',
  host: '127.0.0.1',
  port: 5432,
  db_name: 'mp_source_test',
  user: 'postgres',
  password: 's3cret-pass',
};

describe('api registry: databases, cards, admins, settings, task history (real PostgreSQL + Kafka)', () => {
  let h: ApiHarness;

  beforeAll(async () => {
    h = await ApiHarness.start('apiregistry');
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  }, 30_000);

  const configChanged = (entity: string, id: number | string, change: string) =>
    h.recorder.waitFor(
      (m) =>
        m.event?.type === 'ConfigurationChanged' &&
        m.event.entity === entity &&
        m.event.entityId === id &&
        m.event.change === change,
    );

  it('creates, reads, updates and deletes a database; the password is encrypted and never returned', async () => {
    const created = await h.request('POST', '/api/databases', { body: PG_SOURCE });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      name: 'pg source',
      engine: 'postgres',
      db_name: 'mp_source_test',
      user: 'postgres',
      has_password: true,
      statement_timeout_ms: 600000,
      persist_models_enabled: false,
    });
    expect(created.text).not.toContain('s3cret');
    const id = created.json.id as number;
    const [row] = await h.query<{ password_encrypted: string }>(
      'select password_encrypted from "database" where id = $1',
      [id],
    );
    expect(row.password_encrypted).not.toContain('s3cret');
    expect(new SecretBox(h.config.secretsKey).decrypt(row.password_encrypted)).toBe('s3cret-pass');
    await configChanged('database', id, 'created');

    const list = await h.request('GET', '/api/databases');
    expect(list.json.data.map((d: { id: number }) => d.id)).toContain(id);
    expect(list.text).not.toContain('password_encrypted');

    const dup = await h.request('POST', '/api/databases', { body: PG_SOURCE });
    expect(dup.status).toBe(409);
    expect(dup.json.error.code).toBe('CONFLICT');

    const patched = await h.request('PATCH', `/api/databases/${id}`, {
      body: { statement_timeout_ms: 30000, password: null },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ statement_timeout_ms: 30000, has_password: false });
    await configChanged('database', id, 'updated');

    for (const body of [
      {},
      { port: 0 },
      { engine: 'oracle' },
      { host: 'a b' },
      { password_encrypted: 'x' },
    ]) {
      const r = await h.request('PATCH', `/api/databases/${id}`, { body });
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
    }
    expect((await h.request('PATCH', '/api/databases/999999', { body: { port: 1 } })).status).toBe(404);

    const del = await h.request('DELETE', `/api/databases/${id}`);
    expect(del.status).toBe(204);
    expect((await h.request('GET', `/api/databases/${id}`)).status).toBe(404);
    expect((await h.request('DELETE', `/api/databases/${id}`)).status).toBe(404);
    await configChanged('database', id, 'deleted');
  });

  it('rejects invalid database bodies with 400 and a reason, writing nothing', async () => {
    const before = await h.snapshot();
    const bad: unknown[] = [
      { ...PG_SOURCE, port: '5432' },
      { ...PG_SOURCE, engine: 'sqlite' },
      { ...PG_SOURCE, name: '' },
      { ...PG_SOURCE, extra: true },
      { ...PG_SOURCE, statement_timeout_ms: 1.5 },
      [PG_SOURCE],
      { name: 'only a name' },
    ];
    for (const body of bad) {
      const r = await h.request('POST', '/api/databases', { body });
      expect(r.status).toBe(400);
      expect(r.json.error.code).toBe('VALIDATION_FAILED');
      expect(r.json.error.message.length).toBeGreaterThan(5);
    }
    expect(await h.snapshot()).toBe(before);
  });

  it('manages cards: SQL safety, cron override validation, 404 for an unknown database', async () => {
    const db = (await h.request('POST', '/api/databases', { body: { ...PG_SOURCE, name: 'cards db' } })).json;
    const created = await h.request('POST', '/api/cards', {
      body: {
        name: 'Orders by day',
        database_id: db.id,
        sql: 'select 1 as n;',
        refresh_cron: '0 0 * * * ? *',
      },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      name: 'Orders by day',
      database_id: db.id,
      type: 'model',
      archived: false,
      refresh_cron: '0 0 * * * ? *',
    });
    expect(created.json.sql).not.toMatch(/;\s*$/);
    await configChanged('card', created.json.id, 'created');

    const before = await h.snapshot();
    const unsafe = await h.request('POST', '/api/cards', {
      body: { name: 'evil', database_id: db.id, sql: 'drop table users' },
    });
    expect(unsafe.status).toBe(400);
    expect(unsafe.json.error.code).toBe('UNSAFE_SQL');
    const twoStatements = await h.request('POST', '/api/cards', {
      body: { name: 'evil', database_id: db.id, sql: 'select 1; delete from users' },
    });
    expect(twoStatements.json.error.code).toBe('UNSAFE_SQL');
    const cron = await h.request('POST', '/api/cards', {
      body: { name: 'c', database_id: db.id, sql: 'select 1', refresh_cron: '0 0 * * *' },
    });
    expect(cron.status).toBe(400);
    expect(cron.json.error.code).toBe('INVALID_CRON');
    const unknownDb = await h.request('POST', '/api/cards', {
      body: { name: 'c', database_id: 999999, sql: 'select 1' },
    });
    expect(unknownDb.status).toBe(404);
    const patchUnsafe = await h.request('PATCH', `/api/cards/${created.json.id}`, {
      body: { sql: 'update t set a = 1' },
    });
    expect(patchUnsafe.json.error.code).toBe('UNSAFE_SQL');
    const patchDb = await h.request('PATCH', `/api/cards/${created.json.id}`, { body: { database_id: 2 } });
    expect(patchDb.status).toBe(400);
    expect(await h.snapshot()).toBe(before);

    const renamed = await h.request('PATCH', `/api/cards/${created.json.id}`, {
      body: { name: 'Orders per day', refresh_cron: null },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({ name: 'Orders per day', refresh_cron: null });
    const list = await h.request('GET', '/api/cards');
    expect(list.json.data.map((c: { id: number }) => c.id)).toContain(created.json.id);
    expect((await h.request('DELETE', `/api/cards/${created.json.id}`)).status).toBe(204);
    expect((await h.request('GET', `/api/cards/${created.json.id}`)).status).toBe(404);
  });

  it('manages admin recipients and the admin-email and time-zone settings', async () => {
    const a = await h.request('POST', '/api/admins', { body: { email: 'Ops@Example.com', name: 'Ops' } });
    expect(a.status).toBe(201);
    expect(a.json).toMatchObject({ email: 'Ops@Example.com', name: 'Ops', active: true });
    const dup = await h.request('POST', '/api/admins', { body: { email: 'ops@example.com' } });
    expect(dup.status).toBe(409);
    expect((await h.request('POST', '/api/admins', { body: { email: 'not-an-email' } })).status).toBe(400);
    expect((await h.request('GET', '/api/admins')).json.data).toHaveLength(1);
    expect((await h.request('GET', `/api/admins/${a.json.id}`)).json.email).toBe('Ops@Example.com');
    expect((await h.request('DELETE', `/api/admins/${a.json.id}`)).status).toBe(204);
    expect((await h.request('DELETE', `/api/admins/${a.json.id}`)).status).toBe(404);

    expect(
      (await h.request('PUT', '/api/settings/admin-email', { body: { value: 'alerts@example.com' } })).status,
    ).toBe(204);
    const bad = await h.request('PUT', '/api/settings/admin-email', { body: { value: 'nope' } });
    expect(bad.status).toBe(400);
    expect((await h.request('PUT', '/api/settings/instance-uuid', { body: { value: 'x' } })).status).toBe(
      400,
    );
    const tz = await h.request('PUT', '/api/settings/persisted-model-schedule-timezone', {
      body: { value: 'Mars/Olympus' },
    });
    expect(tz.status).toBe(400);
    expect(tz.json.error.message).toMatch(/time zone/);
    expect(
      (
        await h.request('PUT', '/api/settings/persisted-model-schedule-timezone', {
          body: { value: 'Europe/Berlin' },
        })
      ).status,
    ).toBe(204);
    await configChanged('setting', 'persisted-model-schedule-timezone', 'updated');
    const settings = await h.request('GET', '/api/settings');
    expect(settings.json).toEqual({
      'persisted-models-enabled': 'false',
      'persisted-model-refresh-cron-schedule': '0 0 0/6 * * ? *',
      'persisted-model-schedule-timezone': 'Europe/Berlin',
      'admin-email': 'alerts@example.com',
    });
  });

  it('pages task history newest first with filters', async () => {
    const runs = [
      ['persist-refresh', 1, 'success', '2026-01-01T00:00:00Z'],
      ['persist-refresh', 2, 'failed', '2026-01-02T00:00:00Z'],
      ['unpersist-tables', null, 'success', '2026-01-03T00:00:00Z'],
    ] as const;
    for (const [task, db, status, at] of runs) {
      await h.query(
        `insert into task_history (task, db_id, started_at, ended_at, duration, status, task_details, run_id)
         values ($1, $2, $3, $3, 10, $4, '{"success": 1}', gen_random_uuid())`,
        [task, db, at, status],
      );
    }
    const all = await h.request('GET', '/api/task-history');
    expect(all.status).toBe(200);
    expect(all.json.total).toBe(3);
    expect(all.json.data.map((t: { task: string }) => t.task)).toEqual([
      'unpersist-tables',
      'persist-refresh',
      'persist-refresh',
    ]);
    expect(all.json.data[0]).toMatchObject({ db_id: null, status: 'success', duration: 10 });
    const failed = await h.request('GET', '/api/task-history?task=persist-refresh&status=failed');
    expect(failed.json.data).toHaveLength(1);
    expect(failed.json.data[0].db_id).toBe(2);
    const byDb = await h.request('GET', '/api/task-history?db_id=1&limit=1&offset=0');
    expect(byDb.json).toMatchObject({ total: 1, limit: 1, offset: 0 });
    expect((await h.request('GET', '/api/task-history?status=weird')).status).toBe(400);
    expect((await h.request('GET', '/api/task-history?limit=0')).status).toBe(400);
    expect((await h.request('GET', '/api/task-history?limit=1001')).status).toBe(400);
  });
});
