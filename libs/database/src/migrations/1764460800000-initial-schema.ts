import { MigrationInterface, QueryRunner } from 'typeorm';

/** The application schema: sources, models, persisted-info, task history, settings, inbox, tokens, claims. */
export class InitialSchema1764460800000 implements MigrationInterface {
  name = 'InitialSchema1764460800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "database" (
        id serial PRIMARY KEY,
        name text NOT NULL,
        engine text NOT NULL CHECK (engine IN ('postgres', 'mysql')),
        host text NOT NULL,
        port int NOT NULL CHECK (port BETWEEN 1 AND 65535),
        db_name text NOT NULL,
        user_name text NOT NULL,
        password_encrypted text,
        statement_timeout_ms int NOT NULL DEFAULT 600000 CHECK (statement_timeout_ms > 0),
        persist_models_enabled boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX database_name_key ON "database" (name)`);
    await q.query(
      `CREATE INDEX database_persist_enabled_idx ON "database" (id) WHERE persist_models_enabled`,
    );

    await q.query(`
      CREATE TABLE card (
        id serial PRIMARY KEY,
        name text NOT NULL,
        database_id int NOT NULL REFERENCES "database"(id) ON DELETE CASCADE,
        query_sql text NOT NULL,
        type text NOT NULL DEFAULT 'model' CHECK (type IN ('model', 'question')),
        archived boolean NOT NULL DEFAULT false,
        refresh_cron text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE INDEX card_database_idx ON card (database_id) WHERE type = 'model' AND NOT archived`,
    );
    await q.query(`CREATE INDEX card_refresh_cron_idx ON card (id) WHERE refresh_cron IS NOT NULL`);

    await q.query(`
      CREATE TABLE persisted_info (
        id serial PRIMARY KEY,
        database_id int NOT NULL REFERENCES "database"(id) ON DELETE CASCADE,
        card_id int REFERENCES card(id) ON DELETE SET NULL,
        question_slug text NOT NULL,
        schema_name text NOT NULL,
        table_name text NOT NULL,
        definition jsonb,
        query_hash text,
        active boolean NOT NULL DEFAULT false,
        state text NOT NULL CHECK (state IN ('creating', 'refreshing', 'persisted', 'error', 'deletable', 'off')),
        refresh_begin timestamptz,
        refresh_end timestamptz,
        state_change_at timestamptz,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        creator text,
        last_success_at timestamptz,
        lease_owner text,
        lease_expires_at timestamptz,
        last_run_id uuid
      )`);
    await q.query(
      `CREATE UNIQUE INDEX persisted_info_card_key ON persisted_info (card_id) WHERE card_id IS NOT NULL`,
    );
    await q.query(`CREATE INDEX persisted_info_database_state_idx ON persisted_info (database_id, state)`);
    await q.query(`CREATE INDEX persisted_info_state_idx ON persisted_info (state, state_change_at)`);
    await q.query(
      `CREATE UNIQUE INDEX persisted_info_table_key ON persisted_info (database_id, schema_name, table_name)`,
    );

    await q.query(`
      CREATE TABLE task_history (
        id bigserial PRIMARY KEY,
        task text NOT NULL,
        db_id int,
        started_at timestamptz NOT NULL,
        ended_at timestamptz,
        duration int,
        status text NOT NULL CHECK (status IN ('started', 'success', 'failed', 'unknown')),
        task_details jsonb,
        run_id uuid NOT NULL
      )`);
    await q.query(`CREATE UNIQUE INDEX task_history_task_run_key ON task_history (task, run_id)`);
    await q.query(`CREATE INDEX task_history_started_idx ON task_history (started_at DESC, id DESC)`);
    await q.query(`CREATE INDEX task_history_db_started_idx ON task_history (db_id, started_at DESC)`);
    await q.query(`CREATE INDEX task_history_open_idx ON task_history (started_at) WHERE status = 'started'`);

    await q.query(`
      CREATE TABLE setting (
        key text PRIMARY KEY,
        value text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO setting (key, value) VALUES ('instance-uuid', gen_random_uuid()::text)`);

    await q.query(`
      CREATE TABLE inbox (
        consumer text NOT NULL,
        event_id uuid NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, event_id)
      )`);
    await q.query(`CREATE INDEX inbox_processed_idx ON inbox (processed_at)`);

    await q.query(`
      CREATE TABLE api_token (
        id serial PRIMARY KEY,
        name text NOT NULL,
        token_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX api_token_hash_key ON api_token (token_hash)`);

    await q.query(`
      CREATE TABLE admin_user (
        id serial PRIMARY KEY,
        email text NOT NULL,
        name text,
        active boolean NOT NULL DEFAULT true
      )`);
    await q.query(`CREATE UNIQUE INDEX admin_user_email_key ON admin_user (lower(email))`);

    await q.query(`
      CREATE TABLE schedule_claim (
        schedule_key text NOT NULL,
        fire_time timestamptz NOT NULL,
        claimed_by text NOT NULL,
        claimed_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        PRIMARY KEY (schedule_key, fire_time)
      )`);
    await q.query(`CREATE INDEX schedule_claim_claimed_idx ON schedule_claim (claimed_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'schedule_claim',
      'admin_user',
      'api_token',
      'inbox',
      'setting',
      'task_history',
      'persisted_info',
      'card',
      '"database"',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${t}`);
    }
  }
}
