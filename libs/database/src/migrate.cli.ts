import { loadBaseConfig } from '@model-persistence/config';
import { revertAllMigrations, runMigrations } from './data-source';

/** `npm run migrate` (up) and `npm run migrate:down` (revert all). */
export async function main(): Promise<void> {
  const direction = process.argv[2] ?? 'up';
  const { database } = loadBaseConfig('migrate');
  if (direction === 'up') {
    const applied = await runMigrations(database.url);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date');
  } else if (direction === 'down') {
    console.log(`reverted ${await revertAllMigrations(database.url)} migration(s)`);
  } else {
    throw new Error(`unknown direction ${direction}; use up or down`);
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
