import { randomBytes } from 'node:crypto';
import { runMigrations } from '@model-persistence/database';
import { Client } from 'pg';

export const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface TestAppDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh, migrated application database per test file, so integration tests (and developers running
 * them side by side) never see each other's rows.
 */
export async function createTestAppDatabase(label = 'app', migrate = true): Promise<TestAppDatabase> {
  const name = `mp_t_${label
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()
    .slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create database "${name}"`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  if (migrate) await runMigrations(url.toString());
  return {
    name,
    url: url.toString(),
    drop: () =>
      admin(async (c) => {
        await c.query(`drop database if exists "${name}" with (force)`);
      }),
  };
}
