import { createTestAppDatabase, TestAppDatabase } from '@model-persistence/testing';
import { Client } from 'pg';
import { MIGRATIONS, revertAllMigrations, runMigrations } from '../src/index';

async function tables(url: string): Promise<string[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ t: string }>(
      `select table_name as t from information_schema.tables where table_schema = 'public' order by 1`,
    );
    return r.rows.map((x) => x.t);
  } finally {
    await c.end();
  }
}

describe('migrations (real PostgreSQL)', () => {
  let db: TestAppDatabase;
  beforeAll(async () => {
    db = await createTestAppDatabase('migrations', false);
  });
  afterAll(async () => db?.drop());

  it('run up and down cleanly on an empty database, and up again', async () => {
    expect(await tables(db.url)).toEqual([]);
    const applied = await runMigrations(db.url);
    expect(applied).toHaveLength(MIGRATIONS.length);
    const up = await tables(db.url);
    for (const t of [
      'database',
      'card',
      'persisted_info',
      'task_history',
      'setting',
      'inbox',
      'api_token',
      'admin_user',
      'schedule_claim',
    ]) {
      expect(up).toContain(t);
    }
    // idempotent: nothing left to apply
    expect(await runMigrations(db.url)).toEqual([]);

    expect(await revertAllMigrations(db.url)).toBe(MIGRATIONS.length);
    expect(await tables(db.url)).toEqual(['migrations']);

    expect(await runMigrations(db.url)).toHaveLength(MIGRATIONS.length);
    expect(await tables(db.url)).toEqual(up);
  });

  it('seeds the instance uuid once', async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const r = await c.query<{ value: string }>(`select value from setting where key = 'instance-uuid'`);
      expect(r.rows[0].value).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await c.end();
    }
  });
});
