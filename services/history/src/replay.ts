import 'reflect-metadata';
import { runMain } from '@model-persistence/runtime';
import { loadHistoryConfig } from './config';
import { replayHistory } from './history-replay';

/**
 * `node services/history/dist/replay.js [--truncate]` (or `npm run history:replay -- --truncate`): rebuilds
 * task_history in DATABASE_URL from the topics. Stop the history projector first when using --truncate.
 */
export async function main(argv = process.argv.slice(2)) {
  const unknown = argv.filter((a) => a !== '--truncate');
  if (unknown.length > 0)
    throw new Error(`unknown argument(s) ${unknown.join(' ')}; usage: replay [--truncate]`);
  const config = loadHistoryConfig();
  const report = await replayHistory({
    kafka: config.kafka,
    databaseUrl: config.database.url,
    consumer: config.consumerGroup,
    staleRunTimeoutMs: config.projector.staleRunTimeoutMs,
    truncate: argv.includes('--truncate'),
    log: (line) => console.error(`[history-replay] ${line}`),
  });
  console.log(JSON.stringify(report));
  return report;
}

if (require.main === module) runMain(main);
