import fc from 'fast-check';
import { ApiHarness, ApiResponse } from './api-harness';

/**
 * Property: thousands of malformed or unauthenticated requests against the real app get a 4xx with the
 * error body, never a 5xx, and change nothing (table snapshot compared after every request, events checked
 * with a sentinel at the end).
 */
describe('api: malformed requests are rejected with 4xx and change nothing (fast-check, real PostgreSQL + Kafka)', () => {
  let h: ApiHarness;
  let snapshot: string;
  let dbId: number;
  let cardId: number;
  let adminId: number;

  beforeAll(async () => {
    h = await ApiHarness.start('apifuzz');
    dbId = (
      await h.request('POST', '/api/databases', {
        body: {
          name: 'fuzz',
          engine: 'postgres',
          host: '127.0.0.1',
          port: 5432,
          db_name: 'x',
          user: 'postgres',
        },
      })
    ).json.id;
    cardId = (
      await h.request('POST', '/api/cards', {
        body: { name: 'fuzz model', database_id: dbId, sql: 'select 1' },
      })
    ).json.id;
    adminId = (await h.request('POST', '/api/admins', { body: { email: 'fuzz@example.com' } })).json.id;
    // persistence on, with a persisted row, so an accepted disable/unpersist would visibly change state
    await h.query(`update setting set value = 'true' where key = 'persisted-models-enabled'`);
    await h.query(
      `insert into setting (key, value) values ('persisted-models-enabled', 'true') on conflict do nothing`,
    );
    await h.query(`update "database" set persist_models_enabled = true where id = $1`, [dbId]);
    await h.query(
      `insert into persisted_info (database_id, card_id, question_slug, schema_name, table_name, state, active)
       values ($1, $2, 'fuzz_model', 'mp_cache_x_1', 'model_1_fuzz', 'persisted', true)`,
      [dbId, cardId],
    );
    snapshot = await h.snapshot();
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  }, 30_000);

  const expectRejected = async (r: ApiResponse, what: unknown) => {
    if (r.status < 400 || r.status >= 500 || typeof r.json?.error?.code !== 'string') {
      throw new Error(`not a clean 4xx for ${JSON.stringify(what)}: ${r.status} ${r.text.slice(0, 300)}`);
    }
    const now = await h.snapshot();
    if (now !== snapshot) throw new Error(`state changed after ${JSON.stringify(what)}`);
  };

  const idRoutes = (id: string): [string, string][] => [
    ['GET', `/api/databases/${id}`],
    ['PATCH', `/api/databases/${id}`],
    ['DELETE', `/api/databases/${id}`],
    ['GET', `/api/cards/${id}`],
    ['PATCH', `/api/cards/${id}`],
    ['DELETE', `/api/cards/${id}`],
    ['DELETE', `/api/admins/${id}`],
    ['GET', `/api/model-persistence/${id}`],
    ['GET', `/api/model-persistence/card/${id}`],
    ['POST', `/api/model-persistence/database/${id}/persist`],
    ['POST', `/api/model-persistence/database/${id}/unpersist`],
    ['POST', `/api/model-persistence/card/${id}/persist`],
    ['POST', `/api/model-persistence/card/${id}/unpersist`],
    ['POST', `/api/model-persistence/card/${id}/refresh`],
  ];

  const bodyRoutes = (): [string, string][] => [
    ['POST', '/api/databases'],
    ['PATCH', `/api/databases/${dbId}`],
    ['POST', '/api/cards'],
    ['PATCH', `/api/cards/${cardId}`],
    ['POST', '/api/admins'],
    ['PUT', '/api/settings/admin-email'],
    ['PUT', '/api/settings/persisted-model-schedule-timezone'],
    ['POST', '/api/model-persistence/enable'],
    ['POST', '/api/model-persistence/disable'],
    ['POST', '/api/model-persistence/set-refresh-schedule'],
    ['POST', `/api/model-persistence/database/${dbId}/unpersist`],
    ['POST', `/api/model-persistence/card/${cardId}/unpersist`],
    ['POST', `/api/model-persistence/card/${cardId}/persist`],
  ];

  const encodeSegment = (s: string) => encodeURIComponent(s).replace(/\./g, '%2E');
  const badId = fc.oneof(
    fc.constantFrom(
      '..%2F1',
      '1e3',
      '-1',
      '0',
      '01',
      '1.0',
      '%00',
      '0x10',
      '2147483648',
      '+1',
      '1%20',
      '%2E%2E',
    ),
    fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((s) => !/^[1-9][0-9]{0,9}$/.test(s))
      .map(encodeSegment),
  );

  it('rejects ids that are not plain positive integers on every id route', async () => {
    await fc.assert(
      fc.asyncProperty(badId, fc.nat(), async (id, pick) => {
        const routes = idRoutes(id);
        const [method, path] = routes[pick % routes.length];
        const r = await h.request(method, path, method === 'PATCH' ? { body: { name: 'renamed' } } : {});
        await expectRejected(r, { method, path });
      }),
      { numRuns: 500 },
    );
  }, 120_000);

  it('rejects bodies with an unknown field, whatever the other fields hold', async () => {
    const known = [
      'name',
      'engine',
      'host',
      'port',
      'db_name',
      'user',
      'sql',
      'database_id',
      'cron',
      'value',
      'email',
    ];
    const unknownKey = fc
      .string({ minLength: 1, maxLength: 12 })
      .filter(
        (k) =>
          !known.includes(k) &&
          ![
            'password',
            'statement_timeout_ms',
            'type',
            'archived',
            'refresh_cron',
            'indexes',
            'incremental',
            'full',
            'downstream',
            'active',
            '__proto__',
          ].includes(k),
      );
    const body = fc
      .tuple(
        fc.dictionary(fc.constantFrom(...known), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
        unknownKey,
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map(([base, k, v]) => ({ ...base, [k]: v }));
    await fc.assert(
      fc.asyncProperty(body, fc.nat(), async (b, pick) => {
        const routes = bodyRoutes();
        const [method, path] = routes[pick % routes.length];
        const r = await h.request(method, path, { body: b });
        await expectRejected(r, { method, path, body: b });
      }),
      { numRuns: 600 },
    );
  }, 120_000);

  it('rejects text that is not JSON and bodies that are not JSON at all', async () => {
    const notJson = fc.string({ minLength: 1, maxLength: 200 }).filter((s) => {
      if (s.trim() === '') return false;
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    });
    const contentType = fc.constantFrom(
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/jsonx',
    );
    await fc.assert(
      fc.asyncProperty(notJson, contentType, fc.nat(), async (raw, type, pick) => {
        const routes = bodyRoutes();
        const [method, path] = routes[pick % routes.length];
        const r = await h.request(method, path, { raw, headers: { 'content-type': type } });
        await expectRejected(r, { method, path, raw, type });
      }),
      { numRuns: 400 },
    );
  }, 120_000);

  it('rejects cron strings that are not 7 fields and query parameters out of their domain', async () => {
    const notSevenFields = fc
      .string({ maxLength: 60 })
      .filter((s) => s.trim() === '' || s.trim().split(/\s+/).length !== 7);
    await fc.assert(
      fc.asyncProperty(notSevenFields, async (cron) => {
        const r = await h.request('POST', '/api/model-persistence/set-refresh-schedule', { body: { cron } });
        await expectRejected(r, { cron });
      }),
      { numRuns: 200 },
    );
    const badParam = fc.tuple(
      fc.constantFrom('limit', 'offset', 'state', 'database_id', 'db_id', 'status', 'sort', ''),
      fc.string({ maxLength: 12 }),
    );
    await fc.assert(
      fc.asyncProperty(badParam, fc.boolean(), async ([name, value], history) => {
        const valid =
          (name === 'limit' && /^(0|[1-9][0-9]{0,9})$/.test(value) && +value >= 1 && +value <= 1000) ||
          (['offset'].includes(name) && /^(0|[1-9][0-9]{0,9})$/.test(value) && +value <= 2147483647) ||
          (['database_id', 'db_id'].includes(name) &&
            /^[1-9][0-9]{0,9}$/.test(value) &&
            +value <= 2147483647) ||
          (name === 'state' &&
            ['creating', 'refreshing', 'persisted', 'error', 'deletable', 'off'].includes(value)) ||
          (name === 'status' && ['started', 'success', 'failed', 'unknown'].includes(value));
        fc.pre(!valid);
        const path = history ? '/api/task-history' : '/api/model-persistence';
        const query = `${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
        const r = await h.request('GET', `${path}?${query}`);
        // the two endpoints accept different parameters; a parameter valid on one is unknown on the other
        if (r.status === 200) {
          const acceptedElsewhere =
            (history && ['db_id', 'status', 'limit', 'offset'].includes(name)) ||
            (!history && ['database_id', 'state', 'limit', 'offset'].includes(name));
          if (!acceptedElsewhere) throw new Error(`accepted ${path}?${query}`);
          return;
        }
        await expectRejected(r, { path, query });
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  it('rejects every state-changing request without a valid token (401) and publishes nothing', async () => {
    const token = fc.oneof(
      fc.constant(null),
      fc.string({ maxLength: 40 }),
      fc.constant(h.token.slice(0, -1)),
      fc.constant(`${h.token}0`),
    );
    const scheme = fc.constantFrom('Bearer ', 'bearer ', 'Basic ', '', 'Bearer  ');
    await fc.assert(
      fc.asyncProperty(token, scheme, fc.nat(), async (t, s, pick) => {
        const routes: [string, string, unknown][] = [
          ['POST', '/api/model-persistence/disable', undefined],
          ['POST', `/api/model-persistence/database/${dbId}/unpersist`, undefined],
          ['POST', `/api/model-persistence/card/${cardId}/unpersist`, undefined],
          ['DELETE', `/api/cards/${cardId}`, undefined],
          ['DELETE', `/api/admins/${adminId}`, undefined],
          ['PUT', '/api/settings/admin-email', { value: 'x@example.com' }],
          ['POST', '/api/model-persistence/set-refresh-schedule', { cron: '0 0 * * * ? *' }],
        ];
        const [method, path, body] = routes[pick % routes.length];
        const headers: Record<string, string> = {};
        const value = t === null ? undefined : `${s}${t}`;
        if (value !== undefined && /^[\x20-\x7e]*$/.test(value)) headers.authorization = value;
        const r = await h.request(method, path, { body, headers, token: null });
        if (r.status !== 401) throw new Error(`expected 401 for ${JSON.stringify(headers)}: ${r.status}`);
        await expectRejected(r, { method, path, headers });
      }),
      { numRuns: 400 },
    );

    // config.changed has one partition: once this sentinel arrives, any earlier event would have too
    expect(
      (await h.request('PUT', '/api/settings/persisted-model-schedule-timezone', { body: { value: 'UTC' } }))
        .status,
    ).toBe(204);
    await h.recorder.waitFor(
      (m) =>
        m.event?.type === 'ConfigurationChanged' && m.event.entityId === 'persisted-model-schedule-timezone',
    );
    const changes = h.recorder.events('ConfigurationChanged').map((e) => `${e.entity}:${e.change}`);
    // only the set-up (database and card created) and the sentinel
    expect(changes.sort()).toEqual(['card:created', 'database:created', 'setting:updated']);
    expect(h.recorder.events('PruneRequested')).toEqual([]);
    expect(h.recorder.events('RefreshRequested')).toEqual([]);
  }, 120_000);
});
