import { DataSource } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

export interface AppDatabaseOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
  logging?: boolean;
}

/** The application database. Schema changes only through migrations: `synchronize` is always off. */
export function createAppDataSource(opts: AppDatabaseOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: opts.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: opts.logging ? ['error', 'warn', 'migration'] : ['error'],
    applicationName: opts.applicationName ?? 'model-persistence',
    extra: {
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      // keep a dead app database from hanging a handler forever
      query_timeout: 120_000,
    },
  });
}

export async function runMigrations(url: string): Promise<string[]> {
  const ds = createAppDataSource({ url, poolSize: 2, applicationName: 'migrations' });
  await ds.initialize();
  try {
    const done = await ds.runMigrations({ transaction: 'each' });
    return done.map((m) => m.name);
  } finally {
    await ds.destroy();
  }
}

/** Reverts every applied migration (newest first). */
export async function revertAllMigrations(url: string): Promise<number> {
  const ds = createAppDataSource({ url, poolSize: 2, applicationName: 'migrations' });
  await ds.initialize();
  let n = 0;
  try {
    while (await hasApplied(ds)) {
      await ds.undoLastMigration({ transaction: 'each' });
      n++;
    }
    return n;
  } finally {
    await ds.destroy();
  }
}

async function hasApplied(ds: DataSource): Promise<boolean> {
  const exists = await ds.query<{ t: string | null }[]>(`select to_regclass('public.migrations') as t`);
  if (!exists[0]?.t) return false;
  const rows = await ds.query<{ n: number }[]>('select count(*)::int as n from migrations');
  return rows[0].n > 0;
}
