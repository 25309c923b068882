import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 15 (console sign-in links):
 * - api_token: kind `session` (a console session, granted by a sign-in link) and `expires_at` (sessions end on
 *   their own; API and bootstrap tokens keep NULL, no expiry).
 * - sign_in_code: one-time sign-in codes, stored as SHA-256 hashes. A code is redeemed by one guarded UPDATE
 *   (`used_at IS NULL AND expires_at > now()`), so it grants at most one session even under races; the session it
 *   granted is recorded (`session_token_id`) for the audit trail.
 */
export class SignInLinks1796200000100 implements MigrationInterface {
  name = 'SignInLinks1796200000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_token DROP CONSTRAINT api_token_kind_check`);
    await q.query(
      `ALTER TABLE api_token ADD CONSTRAINT api_token_kind_check CHECK (kind IN ('bootstrap', 'user', 'session'))`,
    );
    await q.query(`ALTER TABLE api_token ADD COLUMN expires_at timestamptz`);
    // a session without an end would be an API token by another name
    await q.query(
      `ALTER TABLE api_token ADD CONSTRAINT api_token_session_expires_check
         CHECK ((kind = 'session') = (expires_at IS NOT NULL))`,
    );
    await q.query(`
      CREATE TABLE sign_in_code (
        id serial PRIMARY KEY,
        code_hash text NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        session_token_id integer REFERENCES api_token (id) ON DELETE SET NULL,
        CONSTRAINT sign_in_code_hash_key UNIQUE (code_hash),
        CONSTRAINT sign_in_code_expiry_check CHECK (expires_at > created_at),
        CONSTRAINT sign_in_code_session_check CHECK (session_token_id IS NULL OR used_at IS NOT NULL)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS sign_in_code`);
    await q.query(`DELETE FROM api_token WHERE kind = 'session'`);
    await q.query(`ALTER TABLE api_token DROP CONSTRAINT IF EXISTS api_token_session_expires_check`);
    await q.query(`ALTER TABLE api_token DROP COLUMN IF EXISTS expires_at`);
    await q.query(`ALTER TABLE api_token DROP CONSTRAINT IF EXISTS api_token_kind_check`);
    await q.query(
      `ALTER TABLE api_token ADD CONSTRAINT api_token_kind_check CHECK (kind IN ('bootstrap', 'user'))`,
    );
  }
}
