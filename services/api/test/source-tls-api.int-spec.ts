import { PrivatePostgres } from '@model-persistence/testing';
import { ApiHarness } from './api-harness';

/** TLS settings of a source database through the API, against a private TLS-only PostgreSQL. */
describe('database TLS settings and privilege warning through the API (real api + private TLS PostgreSQL)', () => {
  let h: ApiHarness;
  let pg: PrivatePostgres;

  beforeAll(async () => {
    pg = await PrivatePostgres.create('tls', { tls: true });
    h = await ApiHarness.start('apitls');
    expect((await h.request('POST', '/api/model-persistence/enable')).status).toBe(204);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    await pg?.destroy();
  }, 60_000);

  const body = (extra: Record<string, unknown>) => ({
    name: `tls ${Math.random()}`,
    engine: 'postgres',
    host: '127.0.0.1',
    port: pg.port,
    db_name: 'postgres',
    user: 'postgres',
    ...extra,
  });

  it('validates the settings (400 with the reason)', async () => {
    const badMode = await h.request('POST', '/api/databases', { body: body({ tls_mode: 'prefer' }) });
    expect(badMode.status).toBe(400);
    expect(badMode.json.error.message).toMatch(/tls_mode/);
    const notPem = await h.request('POST', '/api/databases', {
      body: body({ tls_mode: 'verify-full', tls_ca_cert: 'not a certificate' }),
    });
    expect(notPem.status).toBe(400);
    expect(notPem.json.error.message).toMatch(/tls_ca_cert: must be one or more PEM certificates/);
    const unused = await h.request('POST', '/api/databases', {
      body: body({ tls_mode: 'require', tls_ca_cert: pg.requireTls().caCert }),
    });
    expect(unused.status).toBe(400);
    expect(unused.json.error.message).toMatch(/only used with tls_mode verify-ca or verify-full/);
  });

  it('verify-full with the right CA passes the check; a wrong CA fails it with the TLS reason', async () => {
    const created = await h.request('POST', '/api/databases', {
      body: body({ tls_mode: 'verify-full', tls_ca_cert: pg.requireTls().caCert }),
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ tls_mode: 'verify-full', tls_ca_cert: pg.requireTls().caCert });
    const id = created.json.id as number;

    const ok = await h.request('POST', `/api/model-persistence/database/${id}/persist`);
    expect(ok.status).toBe(200);
    // connected as the cluster's superuser: warned, not refused
    expect(ok.json).toMatchObject({ database_id: id, persist_models_enabled: true });
    expect(ok.json.privilege_warning.examples[0]).toEqual({ privilege: 'SUPERUSER', on: 'the server' });
    const details = await h.request('GET', `/api/databases/${id}`);
    expect(details.json.privilege_warning).toEqual(ok.json.privilege_warning);
    expect(details.json.privilege_checked_at).toEqual(expect.any(String));
    expect(details.json.cache_schema).toMatch(new RegExp(`^mp_cache_[a-z0-9]+_${id}$`));

    const wrong = await h.request('PATCH', `/api/databases/${id}`, {
      body: { tls_ca_cert: pg.requireTls().otherCaCert },
    });
    expect(wrong.status).toBe(200);
    const refused = await h.request('POST', `/api/model-persistence/database/${id}/persist`);
    expect(refused.status).toBe(422);
    expect(refused.json.error.message).toMatch(/TLS failed: .*certificate/);

    // without TLS this server refuses the connection
    const plain = await h.request('PATCH', `/api/databases/${id}`, {
      body: { tls_mode: 'disable', tls_ca_cert: null },
    });
    expect(plain.json).toMatchObject({ tls_mode: 'disable', tls_ca_cert: null });
    expect((await h.request('POST', `/api/model-persistence/database/${id}/persist`)).status).toBe(422);
  });

  it('describes the new fields and endpoints in OpenAPI', async () => {
    const doc = await h.request('GET', '/api/docs-json', { token: null });
    expect(doc.status).toBe(200);
    expect(doc.text).toContain('tls_mode');
    expect(doc.text).toContain('tls_ca_cert');
    expect(Object.keys(doc.json.paths)).toEqual(expect.arrayContaining(['/api/tokens', '/api/tokens/{id}']));
  });
});
