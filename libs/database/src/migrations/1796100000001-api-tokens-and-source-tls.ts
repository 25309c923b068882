import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 11 (API security):
 * - api_token: `kind` (bootstrap | user) so a new bootstrap token revokes the previous one, `revoked_at` so a
 *   token can be revoked without losing its history, `created_by`.
 * - database: TLS settings of the source connection (mode + CA certificate; a CA is public, stored as is) and
 *   the last least-privilege report of the can-persist check; a trigger drops the stored password when the
 *   connection target (engine, host, port, user) changes without a new password.
 */
export class ApiTokensAndSourceTls1796100000001 implements MigrationInterface {
  name = 'ApiTokensAndSourceTls1796100000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_token ADD COLUMN kind text NOT NULL DEFAULT 'user'`);
    await q.query(
      `ALTER TABLE api_token ADD CONSTRAINT api_token_kind_check CHECK (kind IN ('bootstrap', 'user'))`,
    );
    await q.query(`UPDATE api_token SET kind = 'bootstrap' WHERE name = 'bootstrap'`);
    await q.query(`ALTER TABLE api_token ADD COLUMN revoked_at timestamptz`);
    await q.query(`ALTER TABLE api_token ADD COLUMN created_by text`);
    await q.query(`ALTER TABLE database ADD COLUMN tls_mode text NOT NULL DEFAULT 'disable'`);
    await q.query(
      `ALTER TABLE database ADD CONSTRAINT database_tls_mode_check
         CHECK (tls_mode IN ('disable', 'require', 'verify-ca', 'verify-full'))`,
    );
    await q.query(`ALTER TABLE database ADD COLUMN tls_ca_cert text`);
    await q.query(`ALTER TABLE database ADD COLUMN privilege_warning jsonb`);
    await q.query(`ALTER TABLE database ADD COLUMN privilege_checked_at timestamptz`);
    // a stored password never follows the connection to another server or account, whoever updates the row
    await q.query(`
      CREATE FUNCTION database_password_follows_target() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (NEW.engine, NEW.host, NEW.port, NEW.user_name) IS DISTINCT FROM (OLD.engine, OLD.host, OLD.port, OLD.user_name)
           AND NEW.password_encrypted IS NOT DISTINCT FROM OLD.password_encrypted THEN
          NEW.password_encrypted := NULL;
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER database_password_follows_target BEFORE UPDATE ON database
        FOR EACH ROW EXECUTE FUNCTION database_password_follows_target()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS database_password_follows_target ON database`);
    await q.query(`DROP FUNCTION IF EXISTS database_password_follows_target()`);
    await q.query(`ALTER TABLE database DROP COLUMN IF EXISTS privilege_checked_at`);
    await q.query(`ALTER TABLE database DROP COLUMN IF EXISTS privilege_warning`);
    await q.query(`ALTER TABLE database DROP COLUMN IF EXISTS tls_ca_cert`);
    await q.query(`ALTER TABLE database DROP CONSTRAINT IF EXISTS database_tls_mode_check`);
    await q.query(`ALTER TABLE database DROP COLUMN IF EXISTS tls_mode`);
    await q.query(`ALTER TABLE api_token DROP COLUMN IF EXISTS created_by`);
    await q.query(`ALTER TABLE api_token DROP COLUMN IF EXISTS revoked_at`);
    await q.query(`ALTER TABLE api_token DROP CONSTRAINT IF EXISTS api_token_kind_check`);
    await q.query(`ALTER TABLE api_token DROP COLUMN IF EXISTS kind`);
  }
}
