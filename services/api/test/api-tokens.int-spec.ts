import { randomBytes } from 'node:crypto';
import { NestExpressApplication } from '@nestjs/platform-express';
import { TEST_BROKERS } from '@model-persistence/testing';
import { createApiApp } from '../src/app.factory';
import { hashToken } from '../src/auth/token.service';
import { loadApiConfig } from '../src/config';
import { ApiHarness } from './api-harness';

describe('api tokens: create, list, revoke, bootstrap rotation (real api + PostgreSQL)', () => {
  let h: ApiHarness;
  const others: NestExpressApplication[] = [];

  beforeAll(async () => {
    h = await ApiHarness.start('apitokens');
  }, 60_000);

  afterAll(async () => {
    for (const app of others) await app.close().catch(() => undefined);
    await h?.close();
  }, 30_000);

  /** A second api app on the same app database with another API_BOOTSTRAP_TOKEN (a restart after rotation). */
  async function startWithBootstrap(token: string): Promise<void> {
    const config = loadApiConfig({
      NODE_ENV: 'test',
      DATABASE_URL: h.db.url,
      DATABASE_POOL_SIZE: '3',
      KAFKA_BROKERS: TEST_BROKERS.join(','),
      KAFKA_TOPIC_PREFIX: h.prefix,
      KAFKA_TOPIC_PARTITIONS: '3',
      API_PORT: '0',
      API_BOOTSTRAP_TOKEN: token,
      LOG_LEVEL: 'error',
    });
    const app = await createApiApp(config, { logger: false });
    await app.init();
    others.push(app);
  }

  it('a new token is shown once, stored as a hash, listed without secrets, and works', async () => {
    const created = await h.request('POST', '/api/tokens', { body: { name: 'ci pipeline' } });
    expect(created.status).toBe(201);
    const token = created.json.token as string;
    expect(token).toMatch(/^mpt_[A-Za-z0-9_-]{43}$/);
    expect(created.json).toMatchObject({
      name: 'ci pipeline',
      kind: 'user',
      created_by: 'bootstrap',
      active: true,
    });

    // at rest: the SHA-256 only, never the token
    const rows = await h.query<{ token_hash: string }>('select token_hash from api_token where id = $1', [
      created.json.id,
    ]);
    expect(rows[0].token_hash).toBe(hashToken(token));
    const dump = JSON.stringify(await h.query('select * from api_token'));
    expect(dump).not.toContain(token);

    // it authenticates, and its use is recorded
    const asNew = await h.request('GET', '/api/databases', { token });
    expect(asNew.status).toBe(200);
    const list = await h.request('GET', '/api/tokens');
    expect(list.status).toBe(200);
    const listed = (list.json.data as { id: number; last_used_at: string | null }[]).find(
      (t) => t.id === created.json.id,
    );
    expect(listed).toBeDefined();
    expect(list.text).not.toContain(token);
    expect(list.text).not.toContain(hashToken(token));
    expect(list.text).not.toContain(h.token);
    for (const t of list.json.data as Record<string, unknown>[]) {
      expect(Object.keys(t).sort()).toEqual(
        [
          'active',
          'created_at',
          'created_by',
          'expires_at',
          'id',
          'kind',
          'last_used_at',
          'name',
          'revoked_at',
        ].sort(),
      );
    }
    // last-used is written asynchronously after the request
    let lastUsed: string | null = null;
    for (let i = 0; i < 50 && !lastUsed; i++) {
      const r = await h.query<{ last_used_at: Date | null }>(
        'select last_used_at from api_token where id = $1',
        [created.json.id],
      );
      lastUsed = r[0].last_used_at ? r[0].last_used_at.toISOString() : null;
      if (!lastUsed) await new Promise((res) => setTimeout(res, 100));
    }
    expect(lastUsed).not.toBeNull();
  });

  it('a revoked token stops authenticating at once and stays listed as revoked', async () => {
    const created = await h.request('POST', '/api/tokens', { body: { name: 'to revoke' } });
    const token = created.json.token as string;
    expect((await h.request('GET', '/api/tokens', { token })).status).toBe(200);

    const revoked = await h.request('DELETE', `/api/tokens/${created.json.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ id: created.json.id, active: false });
    expect(revoked.json.revoked_at).toEqual(expect.any(String));
    expect(revoked.json.token).toBeUndefined();

    const after = await h.request('GET', '/api/tokens', { token });
    expect(after.status).toBe(401);
    expect((await h.request('DELETE', '/api/tokens/999999')).status).toBe(404);
  });

  it('rejects bad names and unknown fields', async () => {
    expect((await h.request('POST', '/api/tokens', { body: {} })).status).toBe(400);
    expect((await h.request('POST', '/api/tokens', { body: { name: '' } })).status).toBe(400);
    expect((await h.request('POST', '/api/tokens', { body: { name: 'x', token: 'mine' } })).status).toBe(400);
    expect((await h.request('GET', '/api/tokens', { token: null })).status).toBe(401);
  });

  it('a new API_BOOTSTRAP_TOKEN revokes the previous bootstrap token at start-up', async () => {
    const previous = h.token;
    const next = `tok-${randomBytes(16).toString('hex')}`;
    // the previous bootstrap token works until the api starts with a new one
    expect((await h.request('GET', '/api/databases', { token: previous })).status).toBe(200);
    await startWithBootstrap(next);

    const rows = await h.query<{ token_hash: string; kind: string; revoked_at: Date | null }>(
      `select token_hash, kind, revoked_at from api_token where kind = 'bootstrap' order by id`,
    );
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.token_hash === hashToken(previous))?.revoked_at).not.toBeNull();
    expect(rows.find((r) => r.token_hash === hashToken(next))?.revoked_at).toBeNull();

    // the running harness app still caches the previous token for a few seconds; a fresh lookup refuses it
    await new Promise((res) => setTimeout(res, 10_500));
    expect((await h.request('GET', '/api/databases', { token: previous })).status).toBe(401);
    expect((await h.request('GET', '/api/databases', { token: next })).status).toBe(200);

    // starting again with the same token changes nothing (no duplicate, still active)
    await startWithBootstrap(next);
    const again = await h.query<{ n: string }>(
      `select count(*) as n from api_token where kind = 'bootstrap' and revoked_at is null`,
    );
    expect(again[0].n).toBe('1');
  }, 60_000);
});
