import { ApiHarness } from './api-harness';

describe('api HTTP edges: auth, health, docs, malformed input (real PostgreSQL + Kafka)', () => {
  let h: ApiHarness;

  beforeAll(async () => {
    h = await ApiHarness.start('apiedges');
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  }, 30_000);

  it('serves /health without a token and /ready (with a token) with both dependencies up', async () => {
    const health = await h.request('GET', '/health', { token: null });
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ status: 'ok' });
    expect((await h.request('GET', '/ready', { token: null })).status).toBe(401);
    const ready = await h.request('GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ok', checks: { database: 'ok', kafka: 'ok' } });
  });

  it('answers 401 with the error body without or with a wrong token, on every endpoint', async () => {
    const cases: [string, string][] = [
      ['GET', '/api/model-persistence'],
      ['POST', '/api/model-persistence/enable'],
      ['POST', '/api/model-persistence/card/1/refresh'],
      ['GET', '/api/databases'],
      ['DELETE', '/api/cards/1'],
      ['GET', '/api/task-history'],
      ['PUT', '/api/settings/admin-email'],
      ['GET', '/api/no-such-route'],
      ['GET', '/ready'],
      ['GET', '/api/docsx'],
    ];
    for (const [method, path] of cases) {
      const variants: Record<string, string>[] = [
        {},
        { authorization: 'Bearer wrong-token-000000000000' },
        { authorization: `Basic ${h.token}` },
        { authorization: `Bearer ${h.token}x` },
        { authorization: `bearer ${h.token.toUpperCase()}` },
        { authorization: 'Bearer' },
      ];
      for (const headers of variants) {
        const r = await h.request(method, path, { token: null, headers });
        expect({ method, path, headers, status: r.status }).toEqual({ method, path, headers, status: 401 });
        expect(r.json.error.code).toBe('UNAUTHORIZED');
        expect(typeof r.json.error.message).toBe('string');
      }
    }
    const ok = await h.request('GET', '/api/databases');
    expect(ok.status).toBe(200);
  });

  it('stores only the SHA-256 hash of the bootstrap token', async () => {
    const rows = await h.query<{ name: string; token_hash: string }>(
      'select name, token_hash from api_token',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].name).toBe('bootstrap');
    expect(rows[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows)).not.toContain(h.token);
  });

  it('publishes an OpenAPI document at /api/docs-json and the UI at /api/docs', async () => {
    const json = await h.request('GET', '/api/docs-json', { token: null });
    expect(json.status).toBe(200);
    expect(json.json.openapi).toMatch(/^3\./);
    expect(Object.keys(json.json.paths)).toEqual(
      expect.arrayContaining([
        '/api/model-persistence',
        '/api/model-persistence/enable',
        '/api/model-persistence/card/{cardId}/refresh',
        '/api/databases/{id}',
        '/api/cards',
        '/api/task-history',
        '/health',
        '/ready',
      ]),
    );
    const ui = await h.request('GET', '/api/docs', { token: null });
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
  });

  it('rejects malformed JSON (400), a non-JSON body (415) and an oversized body (413) with the error body', async () => {
    const before = await h.snapshot();
    const bad = await h.request('POST', '/api/cards', {
      raw: '{"name": "x",',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('VALIDATION_FAILED');
    expect(bad.json.error.message).toMatch(/not valid JSON/);

    const text = await h.request('POST', '/api/model-persistence/set-refresh-schedule', {
      raw: 'cron=0 0 * * * ? *',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(text.status).toBe(415);
    expect(text.json.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');

    const big = await h.request('POST', '/api/cards', {
      body: { name: 'x', database_id: 1, sql: `select '${'x'.repeat(70_000)}'` },
    });
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('PAYLOAD_TOO_LARGE');

    const primitive = await h.request('POST', '/api/model-persistence/enable', {
      raw: '"true"',
      headers: { 'content-type': 'application/json' },
    });
    expect(primitive.status).toBe(400);
    expect(await h.snapshot()).toBe(before);
  });

  it('rejects ids that are not plain positive integers with 400 and unknown routes with 404', async () => {
    for (const id of ['..%2F1', '1e3', '-1', '0', '1.5', '01', '%20', 'abc', '99999999999', '2147483648']) {
      const r = await h.request('GET', `/api/databases/${id}`);
      expect({ id, status: r.status, code: r.json?.error?.code }).toEqual({
        id,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
    const dotted = await h.request('POST', '/api/model-persistence/card/..%2F1/persist');
    expect(dotted.status).toBe(400);
    const missing = await h.request('GET', '/api/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: { code: 'NOT_FOUND', message: 'Not found.' } });
  });

  it('rejects unknown fields and unknown query parameters', async () => {
    const r = await h.request('POST', '/api/model-persistence/set-refresh-schedule', {
      body: { cron: '0 0 * * * ? *', extra: 1 },
    });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/extra/);
    const q = await h.request('GET', '/api/model-persistence?limit=5&order_by=id');
    expect(q.status).toBe(400);
    expect(q.json.error.message).toMatch(/order_by/);
    const dup = await h.request('GET', '/api/model-persistence?limit=5&limit=6');
    expect(dup.status).toBe(400);
  });
});
