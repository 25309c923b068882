import { randomBytes } from 'node:crypto';
import { QUARTZ_FORMAT_MESSAGE, QUARTZ_YEAR_MESSAGE } from '@model-persistence/cron';
import { ReceivedMessage } from '@model-persistence/testing';
import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import { ApiHarness } from './api-harness';

const SOURCE_PG_URL = 'postgres://postgres@127.0.0.1:5432/mp_source_test';

const isEvent = (type: string, match: Record<string, unknown>) => (m: ReceivedMessage) =>
  m.event?.type === type &&
  Object.entries(match).every(([k, v]) => (m.event as Record<string, unknown>)[k] === v);

describe('api /api/model-persistence (real PostgreSQL, MariaDB and Kafka)', () => {
  let h: ApiHarness;
  let source: Client;
  const role = `mp_api_ro_${randomBytes(4).toString('hex')}`;
  const cacheSchemas: string[] = [];
  const cacheDatabases: string[] = [];
  let pgDb: number;
  let mysqlDb: number;
  let lockedDb: number;

  const post = (path: string, body?: unknown) => h.request('POST', `/api/model-persistence${path}`, { body });
  const createCard = async (body: Record<string, unknown>) => {
    const r = await h.request('POST', '/api/cards', { body: { sql: 'select 1 as n', ...body } });
    expect(r.status).toBe(201);
    return r.json.id as number;
  };
  const row = async (cardId: number) =>
    (await h.query<Record<string, unknown>>('select * from persisted_info where card_id = $1', [cardId]))[0];

  beforeAll(async () => {
    h = await ApiHarness.start('apimp');
    source = new Client({ connectionString: SOURCE_PG_URL });
    await source.connect();
    await source.query(`create role ${role} login`);
    const db = (body: Record<string, unknown>) =>
      h.request('POST', '/api/databases', {
        body: { host: '127.0.0.1', statement_timeout_ms: 60000, ...body },
      });
    pgDb = (
      await db({ name: 'pg', engine: 'postgres', port: 5432, db_name: 'mp_source_test', user: 'postgres' })
    ).json.id;
    mysqlDb = (
      await db({ name: 'maria', engine: 'mysql', port: 3306, db_name: 'mp_source_test', user: 'root' })
    ).json.id;
    lockedDb = (
      await db({ name: 'no-create', engine: 'postgres', port: 5432, db_name: 'mp_source_test', user: role })
    ).json.id;
  }, 60_000);

  afterAll(async () => {
    for (const s of cacheSchemas)
      await source?.query(`drop schema if exists "${s}" cascade`).catch(() => undefined);
    await source?.query(`drop role if exists ${role}`).catch(() => undefined);
    await source?.end();
    if (cacheDatabases.length) {
      const maria = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
      for (const d of cacheDatabases) await maria.query(`drop database if exists \`${d}\``);
      await maria.end();
    }
    await h?.close();
  }, 30_000);

  it('refuses to persist a database while persistence is globally disabled (400)', async () => {
    const r = await post(`/database/${pgDb}/persist`);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('PERSISTENCE_DISABLED');
  });

  it('enables persistence globally and announces it', async () => {
    expect((await post('/enable')).status).toBe(204);
    expect((await h.request('GET', '/api/settings')).json['persisted-models-enabled']).toBe('true');
    await h.recorder.waitFor(
      isEvent('ConfigurationChanged', { entity: 'setting', entityId: 'persisted-models-enabled' }),
    );
  });

  it('validates the refresh schedule like the reference and stores a valid one', async () => {
    const six = await post('/set-refresh-schedule', { cron: '0 0 * * * ?' });
    expect(six.status).toBe(400);
    expect(six.json.error).toEqual({ code: 'INVALID_CRON', message: QUARTZ_FORMAT_MESSAGE });
    const year = await post('/set-refresh-schedule', { cron: '0 0 * * * ? 2030' });
    expect(year.json.error).toEqual({ code: 'INVALID_CRON', message: QUARTZ_YEAR_MESSAGE });
    expect((await post('/set-refresh-schedule', { cron: 42 })).status).toBe(400);
    expect((await post('/set-refresh-schedule', {})).status).toBe(400);
    expect((await post('/set-refresh-schedule', { cron: '0 0 0/4 * * ? *' })).status).toBe(204);
    expect((await h.request('GET', '/api/settings')).json['persisted-model-refresh-cron-schedule']).toBe(
      '0 0 0/4 * * ? *',
    );
    await h.recorder.waitFor(
      isEvent('ConfigurationChanged', {
        entity: 'setting',
        entityId: 'persisted-model-refresh-cron-schedule',
      }),
    );
  });

  it('persists a PostgreSQL and a MariaDB database after the can-persist check', async () => {
    const uuid = (
      await h.query<{ value: string }>(`select value from setting where key = 'instance-uuid'`)
    )[0].value;
    const short = uuid
      .split('-')
      .map((p) => p[0])
      .join('');
    cacheSchemas.push(`mp_cache_${short}_${pgDb}`);
    cacheDatabases.push(`mp_cache_${short}_${mysqlDb}`);

    expect((await post(`/database/${pgDb}/persist`)).status).toBe(200);
    const info = await source.query(`select key, value from "mp_cache_${short}_${pgDb}".cache_info`);
    expect(info.rows).toEqual(expect.arrayContaining([{ key: 'instance-uuid', value: uuid }]));
    expect((await h.request('GET', `/api/databases/${pgDb}`)).json.persist_models_enabled).toBe(true);
    await h.recorder.waitFor(
      isEvent('ConfigurationChanged', { entity: 'database', entityId: pgDb, change: 'updated' }),
    );

    expect((await post(`/database/${mysqlDb}/persist`)).status).toBe(200);
    expect((await h.request('GET', `/api/databases/${mysqlDb}`)).json.persist_models_enabled).toBe(true);
  });

  it('answers 422 with the failing step when the check fails, 404 for an unknown database', async () => {
    const before = await h.snapshot();
    const r = await post(`/database/${lockedDb}/persist`);
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe('CAN_PERSIST_CHECK_FAILED');
    expect(r.json.error.message).toMatch(/create .*schema/);
    expect(await h.snapshot()).toBe(before);
    const down = (
      await h.request('POST', '/api/databases', {
        body: {
          name: 'down',
          engine: 'postgres',
          host: '127.0.0.1',
          port: 1,
          db_name: 'x',
          user: 'postgres',
        },
      })
    ).json.id;
    const unreachable = await post(`/database/${down}/persist`);
    expect(unreachable.status).toBe(422);
    expect(unreachable.json.error.message.length).toBeGreaterThan(10);
    expect((await h.request('GET', `/api/databases/${down}`)).json.persist_models_enabled).toBe(false);
    const missing = await post('/database/999999/persist');
    expect(missing.status).toBe(404);
    expect((await post('/database/999999/unpersist')).status).toBe(404);
  });

  it('persists a model: row creating with cache names, RefreshRequested acknowledged', async () => {
    const cardId = await createCard({ name: 'Revenue by Region', database_id: pgDb });
    expect((await post(`/card/${cardId}/persist`)).status).toBe(204);
    const r = await row(cardId);
    expect(r).toMatchObject({ state: 'creating', active: false, database_id: pgDb, creator: 'bootstrap' });
    expect(r.schema_name).toBe(cacheSchemas[0]);
    expect(r.table_name).toMatch(new RegExp(`^model_${cardId}_`));
    const [msg] = await h.recorder.waitFor(isEvent('RefreshRequested', { cardId, trigger: 'manual' }));
    expect(msg.key).toBe(String(pgDb));
    expect(msg.event).toMatchObject({ databaseId: pgDb, requestedBy: 'bootstrap' });
    await h.recorder.waitFor(isEvent('ConfigurationChanged', { entity: 'card', entityId: cardId }));

    // idempotent: persisting again keeps the one row
    expect((await post(`/card/${cardId}/persist`)).status).toBe(204);
    expect(await h.query('select id from persisted_info where card_id = $1', [cardId])).toHaveLength(1);
  });

  it('refuses to persist or refresh questions, archived models, unknown cards and unpersisted databases', async () => {
    const question = await createCard({ name: 'Q', database_id: pgDb, type: 'question' });
    const archived = await createCard({ name: 'Old', database_id: pgDb, archived: true });
    const offDb = (
      await h.request('POST', '/api/databases', {
        body: {
          name: 'off',
          engine: 'postgres',
          host: '127.0.0.1',
          port: 5432,
          db_name: 'x',
          user: 'postgres',
        },
      })
    ).json.id;
    const onOffDb = await createCard({ name: 'Elsewhere', database_id: offDb });
    const before = await h.snapshot();
    for (const action of ['persist', 'refresh']) {
      const q = await post(`/card/${question}/${action}`);
      expect([q.status, q.json.error.code]).toEqual([400, 'NOT_A_MODEL']);
      const a = await post(`/card/${archived}/${action}`);
      expect([a.status, a.json.error.code]).toEqual([400, 'ARCHIVED_MODEL']);
      expect((await post(`/card/999999/${action}`)).status).toBe(404);
    }
    const off = await post(`/card/${onOffDb}/persist`);
    expect([off.status, off.json.error.code]).toEqual([400, 'PERSISTENCE_DISABLED']);
    const notPersisted = await post(`/card/${onOffDb}/refresh`);
    expect(notPersisted.status).toBe(404);
    expect(await h.snapshot()).toBe(before);
  });

  it('requests a refresh: 202 with the id of the acknowledged RefreshRequested', async () => {
    const cardId = await createCard({ name: 'Refresh me', database_id: mysqlDb });
    expect((await post(`/card/${cardId}/persist`)).status).toBe(204);
    expect((await row(cardId)).table_name).toMatch(new RegExp(`^model_${cardId}_refresh_me`));
    const r = await post(`/card/${cardId}/refresh`);
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const [msg] = await h.recorder.waitFor(isEvent('RefreshRequested', { eventId: r.json.requestId }));
    expect(msg.event).toMatchObject({ databaseId: mysqlDb, cardId, trigger: 'manual' });
  });

  it('incremental models and managed indexes: stored and shown, validated (400 / 422 on known columns), {"full": true} on the wire', async () => {
    const incremental = {
      checkpoint_column: 'updated_at',
      unique_key: ['id'],
      lookback: '2 hours',
      full_rebuild_cron: '0 0 3 * * ? *',
    };
    const indexes = [{ columns: ['n'] }, { columns: ['id'], unique: true }];
    const cardId = await createCard({ name: 'Incremental', database_id: pgDb, indexes, incremental });
    const shown = await h.request('GET', `/api/cards/${cardId}`);
    expect(shown.json).toMatchObject({ indexes, incremental });
    const bad = async (body: Record<string, unknown>) =>
      (await h.request('PATCH', `/api/cards/${cardId}`, { body })).json.error as {
        code: string;
        message: string;
      };
    expect((await bad({ indexes: [{ columns: [] }] })).code).toBe('VALIDATION_FAILED');
    expect((await bad({ indexes: [{ columns: ['a', 'a'] }] })).code).toBe('VALIDATION_FAILED');
    expect((await bad({ incremental: { ...incremental, lookback: 'two hours' } })).code).toBe(
      'VALIDATION_FAILED',
    );
    expect((await bad({ incremental: { ...incremental, unique_key: [] } })).code).toBe('VALIDATION_FAILED');
    expect((await bad({ incremental: { ...incremental, full_rebuild_cron: '* * *' } })).code).toBe(
      'INVALID_CRON',
    );
    // once built, the columns are known: an index on a column the query does not return is refused at save
    expect((await post(`/card/${cardId}/persist`)).status).toBe(204);
    await h.query(
      `update persisted_info set definition = '{"tableName": "t", "fieldDefinitions": [{"fieldName": "id", "baseType": "int"}, {"fieldName": "n", "baseType": "int"}, {"fieldName": "updated_at", "baseType": "timestamp"}]}'
        where card_id = $1`,
      [cardId],
    );
    const unknown = await h.request('PATCH', `/api/cards/${cardId}`, {
      body: { indexes: [{ columns: ['nope'] }] },
    });
    expect(unknown.status).toBe(422);
    expect(unknown.json.error.code).toBe('MODEL_INDEX_COLUMN');
    expect(
      (await h.request('PATCH', `/api/cards/${cardId}`, { body: { indexes: null } })).json.indexes,
    ).toBeNull();

    const r = await post(`/card/${cardId}/refresh`, { full: true });
    expect(r.status).toBe(202);
    const [msg] = await h.recorder.waitFor(isEvent('RefreshRequested', { eventId: r.json.requestId }));
    expect(msg.event).toMatchObject({ cardId, trigger: 'manual', full: true });
    expect((await post(`/card/${cardId}/refresh`, { full: 'yes' })).status).toBe(400);
  });

  it('lists persisted models with names, next fire time and staleness; filters and 404s', async () => {
    const cardId = await createCard({ name: 'Listed', database_id: pgDb, refresh_cron: '0 30 1 * * ? *' });
    expect((await post(`/card/${cardId}/persist`)).status).toBe(204);
    await h.query(
      `update persisted_info set state = 'persisted', active = true, last_success_at = now() - interval '125 seconds'
       where card_id = $1`,
      [cardId],
    );
    const list = await h.request('GET', '/api/model-persistence?limit=50');
    expect(list.status).toBe(200);
    expect(list.json).toMatchObject({ limit: 50, offset: 0 });
    expect(list.json.total).toBe(list.json.data.length);
    const item = list.json.data.find((i: { card_id: number }) => i.card_id === cardId);
    expect(item).toMatchObject({
      card_name: 'Listed',
      database_name: 'pg',
      database_id: pgDb,
      schema_name: cacheSchemas[0],
      state: 'persisted',
      refresh_cron: '0 30 1 * * ? *',
    });
    for (const t of ['created_at', 'state_change_at', 'refresh_begin', 'last_success_at']) {
      expect(new Date(item[t]).toISOString()).toBe(item[t]);
    }
    const [dbRow] = await h.query<{ last_success_at: Date }>(
      'select last_success_at from persisted_info where id = $1',
      [item.id],
    );
    expect(item.last_success_at).toBe(dbRow.last_success_at.toISOString());
    expect(item.staleness_seconds).toBeGreaterThanOrEqual(125);
    expect(item.staleness_seconds).toBeLessThan(3600);
    const next = new Date(item.next_fire_time);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    // the override fires at 01:30 UTC (the time zone setting is UTC here)
    expect([next.getUTCHours(), next.getUTCMinutes()]).toEqual([1, 30]);
    const other = list.json.data.find((i: { card_id: number; database_id: number }) => i.card_id !== cardId);
    expect(other.next_fire_time).not.toBeNull();
    expect(other.staleness_seconds).toBeNull();

    const persisted = await h.request('GET', '/api/model-persistence?state=persisted');
    expect(persisted.json.data.map((i: { card_id: number }) => i.card_id)).toEqual([cardId]);
    const byDb = await h.request(`GET`, `/api/model-persistence?database_id=${mysqlDb}&limit=1`);
    expect(byDb.json.data.every((i: { database_id: number }) => i.database_id === mysqlDb)).toBe(true);
    const past = await h.request('GET', '/api/model-persistence?offset=1000');
    expect(past.json).toMatchObject({ data: [], total: list.json.total, offset: 1000 });

    expect((await h.request('GET', `/api/model-persistence/${item.id}`)).json.card_id).toBe(cardId);
    expect((await h.request('GET', `/api/model-persistence/card/${cardId}`)).json.id).toBe(item.id);
    const nf = await h.request('GET', '/api/model-persistence/999999');
    expect(nf.status).toBe(404);
    expect(nf.json.error.code).toBe('NOT_FOUND');
    expect((await h.request('GET', '/api/model-persistence/card/999999')).status).toBe(404);
    for (const q of ['state=gone', 'limit=-1', 'limit=1e3', 'database_id=0', 'offset=x']) {
      expect((await h.request('GET', `/api/model-persistence?${q}`)).status).toBe(400);
    }
  });

  it('rebuilds the cache when the SQL changes and prunes when a model is archived or deleted', async () => {
    const cardId = await createCard({ name: 'Changing', database_id: pgDb });
    expect((await post(`/card/${cardId}/persist`)).status).toBe(204);
    await h.query(`update persisted_info set state = 'persisted', active = true where card_id = $1`, [
      cardId,
    ]);
    const sqlChange = await h.request('PATCH', `/api/cards/${cardId}`, { body: { sql: 'select 2 as n' } });
    expect(sqlChange.status).toBe(200);
    expect(await row(cardId)).toMatchObject({ state: 'creating', active: false });
    await h.recorder.waitFor(isEvent('RefreshRequested', { cardId }), 2);

    const archive = await h.request('PATCH', `/api/cards/${cardId}`, { body: { archived: true } });
    expect(archive.status).toBe(200);
    expect((await row(cardId)).state).toBe('deletable');
    await h.recorder.waitFor(isEvent('PruneRequested', { trigger: 'manual' }));

    const other = await createCard({ name: 'Deleted', database_id: pgDb });
    expect((await post(`/card/${other}/persist`)).status).toBe(204);
    const id = (await row(other)).id;
    expect((await h.request('DELETE', `/api/cards/${other}`)).status).toBe(204);
    const [orphan] = await h.query<Record<string, unknown>>('select * from persisted_info where id = $1', [
      id,
    ]);
    expect(orphan).toMatchObject({ card_id: null, state: 'deletable' });
    await h.recorder.waitFor(
      isEvent('ConfigurationChanged', { entity: 'card', entityId: other, change: 'deleted' }),
    );
  });

  it('models on models: refuses bad references and cycles (422 naming them), reports lineage', async () => {
    const base = await createCard({ name: 'Lineage base', database_id: pgDb });
    const mid = await createCard({
      name: 'Lineage mid',
      database_id: pgDb,
      sql: `select * from {{#${base}}} b`,
    });
    const top = await createCard({
      name: 'Lineage top',
      database_id: pgDb,
      sql: `select * from {{#${mid}-mid}} m`,
    });
    const card = (body: Record<string, unknown>) => h.request('POST', '/api/cards', { body });
    const missing = await card({ name: 'x', database_id: pgDb, sql: 'select * from {{#987654}} t' });
    expect(missing.status).toBe(422);
    expect(missing.json.error).toMatchObject({
      code: 'INVALID_MODEL_REFERENCE',
      message: expect.stringMatching(/no such card/),
    });
    const otherDb = await card({ name: 'x', database_id: mysqlDb, sql: `select * from {{#${base}}} t` });
    expect(otherDb.status).toBe(422);
    expect(otherDb.json.error.message).toMatch(/own database/);
    const before = await h.query('select query_sql from card where id = $1', [base]);
    const cycle = await h.request('PATCH', `/api/cards/${base}`, {
      body: { sql: `select * from {{#${top}}} t` },
    });
    expect(cycle.status).toBe(422);
    expect(cycle.json.error).toMatchObject({
      code: 'MODEL_REFERENCE_CYCLE',
      message: expect.stringContaining(`{{#${base}}} → {{#${top}}} → {{#${mid}}} → {{#${base}}}`),
    });
    // nothing was written
    expect(await h.query('select query_sql from card where id = $1', [base])).toEqual(before);

    expect((await post(`/card/${top}/persist`)).status).toBe(204);
    const lineage = await h.request('GET', `/api/model-persistence/card/${mid}/lineage`);
    expect(lineage.status).toBe(200);
    expect(lineage.json).toMatchObject({
      card_id: mid,
      upstream: [{ card_id: base, name: 'Lineage base', depth: 1, state: null }],
      downstream: [{ card_id: top, name: 'Lineage top', depth: 1, state: 'creating' }],
    });
    expect((await h.request('GET', '/api/model-persistence/card/987654/lineage')).status).toBe(404);
    // to MySQL `#` starts a comment: the reference must survive the MySQL lexer's normalization
    const mBase = await createCard({ name: 'Maria base', database_id: mysqlDb });
    const mMid = await createCard({
      name: 'Maria mid',
      database_id: mysqlDb,
      sql: `select * from {{#${mBase}}} b;`,
    });
    expect(await h.query('select query_sql from card where id = $1', [mMid])).toEqual([
      { query_sql: `select * from {{#${mBase}}} b` },
    ]);
  });

  it('unpersists a model (off) and a database (rows deletable, flag cleared)', async () => {
    const cardId = await createCard({ name: 'Unpersisted', database_id: mysqlDb });
    expect((await post(`/card/${cardId}/persist`)).status).toBe(204);
    expect((await post(`/card/${cardId}/unpersist`)).status).toBe(204);
    expect(await row(cardId)).toMatchObject({ state: 'off', active: false });
    expect((await post(`/card/${cardId}/refresh`)).json.error.code).toBe('PERSISTENCE_DISABLED');
    expect((await post(`/card/${cardId}/unpersist`)).status).toBe(204);

    expect((await post(`/database/${mysqlDb}/unpersist`)).status).toBe(204);
    const states = await h.query<{ state: string }>(
      'select distinct state from persisted_info where database_id = $1 order by state',
      [mysqlDb],
    );
    expect(states.map((s) => s.state)).toEqual(['deletable', 'off']);
    expect((await h.request('GET', `/api/databases/${mysqlDb}`)).json.persist_models_enabled).toBe(false);
    // deleting a database with cache tables left would orphan them
    const del = await h.request('DELETE', `/api/databases/${mysqlDb}`);
    expect(del.status).toBe(409);
  });

  it('rolls the whole disable back when a step fails, then disables for real', async () => {
    await h.query(`create function mp_refuse() returns trigger language plpgsql as $$
      begin raise exception 'refused by test'; end $$`);
    await h.query(`create trigger mp_refuse before update or insert on setting for each row
      when (new.key = 'persisted-models-enabled' and new.value = 'false') execute function mp_refuse()`);
    const before = await h.snapshot();
    const failed = await post('/disable');
    expect(failed.status).toBe(500);
    expect(failed.json.error.code).toBe('INTERNAL');
    expect(await h.snapshot()).toBe(before);
    await h.query('drop trigger mp_refuse on setting');
    await h.query('drop function mp_refuse()');

    const prunesBefore = h.recorder.events('PruneRequested').filter((e) => e.trigger === 'disable').length;
    expect(prunesBefore).toBe(0);
    expect((await post('/disable')).status).toBe(204);
    const states = await h.query<{ state: string }>(
      'select distinct state from persisted_info order by state',
    );
    expect(states.map((s) => s.state).every((s) => s === 'deletable' || s === 'off')).toBe(true);
    expect(await h.query('select id from "database" where persist_models_enabled')).toEqual([]);
    expect((await h.request('GET', '/api/settings')).json['persisted-models-enabled']).toBe('false');
    const [prune] = await h.recorder.waitFor(isEvent('PruneRequested', { trigger: 'disable' }));
    expect(prune.key).toBe('prune');
    // with persistence off nothing is scheduled
    const list = await h.request('GET', '/api/model-persistence');
    expect(list.json.data.every((i: { next_fire_time: unknown }) => i.next_fire_time === null)).toBe(true);
  });
});
