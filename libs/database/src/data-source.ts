import { Logger } from '@nestjs/common';
import { Client, ClientConfig } from 'pg';
import { DataSource } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

export interface AppDatabaseOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
  logging?: boolean;
}

const logger = new Logger('AppDatabase');

/**
 * Every connection of the app-database pool listens for its own 'error' event for its whole life. node-postgres
 * emits one when the server ends a connection (a restart, a failover, pg_terminate_backend), even while a query
 * runs, and the pool takes its listener off a checked-out client (TypeORM adds one only inside a query runner,
 * not while it checks clients out at start-up): unheard, that event ends the process. The query in flight is
 * rejected with the error itself (retried by the consumers as an outage) and the pool discards the client.
 */
export class AppDatabaseClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    this.on('error', (error: Error) => logger.warn(`app database connection lost: ${error.message}`));
  }
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
      Client: AppDatabaseClient,
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
