import { hashToken } from '../src/auth/token.service';
import { ApiHarness } from './api-harness';

/** One-time console sign-in links (issue 15): real api and PostgreSQL, the guarantees enforced by the database. */
describe('api: console sign-in links (real api + PostgreSQL)', () => {
  let h: ApiHarness;

  beforeAll(async () => {
    h = await ApiHarness.start('signin');
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  }, 30_000);

  async function mint(body?: unknown): Promise<{ url: string; code: string; expires_at: string }> {
    const r = await h.request('POST', '/api/sign-in-links', body === undefined ? {} : { body });
    expect(r.status).toBe(201);
    return r.json;
  }
  const signIn = (code: string) => h.request('POST', '/api/sign-in', { token: null, body: { code } });

  it('a link works once: a session token that expires, then SIGN_IN_LINK_USED', async () => {
    const link = await mint();
    expect(link.code).toMatch(/^mps_[A-Za-z0-9_-]{43}$/);
    const lifetime = Date.parse(link.expires_at) - Date.now();
    expect(lifetime).toBeGreaterThan(14 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(15 * 60_000 + 5_000);
    // the code travels in the fragment only: the path and query a browser sends carry none of it
    const url = new URL(link.url);
    expect(`${url.pathname}${url.search}`).toBe('/admin/');
    expect(url.hash).toBe(`#signin=${link.code}`);
    const page = await h.request('GET', `${url.pathname}${url.search}`, { token: null });
    expect(page.status).toBe(200);
    // only the hash is stored
    expect(JSON.stringify(await h.query('select * from sign_in_code'))).not.toContain(link.code);

    const first = await signIn(link.code);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ kind: 'session', name: 'console session of bootstrap' });
    const session = Date.parse(first.json.expires_at) - Date.now();
    expect(session).toBeGreaterThan(11 * 3600_000);
    expect(session).toBeLessThanOrEqual(12 * 3600_000 + 5_000);
    expect((await h.request('GET', '/api/databases', { token: first.json.token })).status).toBe(200);

    const again = await signIn(link.code);
    expect(again.status).toBe(410);
    expect(again.json.error.code).toBe('SIGN_IN_LINK_USED');
    expect(again.text).not.toContain(first.json.token);

    const unknown = await signIn('mps_not-a-code');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('SIGN_IN_LINK_UNKNOWN');
    const malformed = await h.request('POST', '/api/sign-in', { token: null, body: { code: 'a b' } });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error.code).toBe('VALIDATION_FAILED');
    // minting needs a token
    expect((await h.request('POST', '/api/sign-in-links', { token: null })).status).toBe(401);
  });

  it('refuses an expired link, and an expired session', async () => {
    const link = await mint({ expires_in_seconds: 60 });
    await h.query(
      `update sign_in_code set created_at = now() - interval '2 minutes', expires_at = now() - interval '1 second'
        where code_hash = $1`,
      [hashToken(link.code)],
    );
    const r = await signIn(link.code);
    expect(r.status).toBe(410);
    expect(r.json.error.code).toBe('SIGN_IN_LINK_EXPIRED');
    expect(
      (await h.query('select used_at from sign_in_code where code_hash = $1', [hashToken(link.code)]))[0],
    ).toEqual({ used_at: null });

    const fresh = await signIn((await mint()).code);
    await h.query(`update api_token set expires_at = now() - interval '1 second' where token_hash = $1`, [
      hashToken(fresh.json.token),
    ]);
    const late = await h.request('GET', '/api/databases', { token: fresh.json.token });
    expect(late.status).toBe(401);
    const tooShort = await h.request('POST', '/api/sign-in-links', { body: { expires_in_seconds: 59 } });
    expect(tooShort.status).toBe(400);
  });

  it('concurrent exchanges of one code give exactly one session', async () => {
    const link = await mint();
    const results = await Promise.all(Array.from({ length: 8 }, () => signIn(link.code)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 410, 410, 410, 410, 410, 410, 410]);
    for (const r of results.filter((x) => x.status === 410))
      expect(r.json.error.code).toBe('SIGN_IN_LINK_USED');
    const rows = await h.query<{ session_token_id: number; kind: string }>(
      `select c.session_token_id, t.kind from sign_in_code c join api_token t on t.id = c.session_token_id
        where c.code_hash = $1`,
      [hashToken(link.code)],
    );
    expect(rows).toEqual([{ session_token_id: expect.any(Number), kind: 'session' }]);
    const winner = results.find((r) => r.status === 200)!;
    const [token] = await h.query<{ id: number }>('select id from api_token where token_hash = $1', [
      hashToken(winner.json.token),
    ]);
    expect(token.id).toBe(rows[0].session_token_id);
  });

  it('signing out revokes the session token at once, never an API token', async () => {
    const { json } = await signIn((await mint()).code);
    expect((await h.request('GET', '/api/settings', { token: json.token })).status).toBe(200);
    const out = await h.request('POST', '/api/sign-out', { token: json.token });
    expect(out.status).toBe(200);
    expect(out.json).toEqual({ signed_out: true, session_revoked: true });
    const after = await h.request('GET', '/api/settings', { token: json.token });
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('UNAUTHORIZED');
    // the bootstrap token signing out keeps working
    expect((await h.request('POST', '/api/sign-out')).json).toEqual({
      signed_out: true,
      session_revoked: false,
    });
    expect((await h.request('GET', '/api/settings')).status).toBe(200);
  });
});
