// Must stay the first import: starts OpenTelemetry before kafkajs, pg and http are loaded.
import '@model-persistence/telemetry/register';
import 'reflect-metadata';
import { runMain } from '@model-persistence/runtime';
import { startRefresher } from './bootstrap';
import { loadRefresherConfig } from './config';

export async function main() {
  return startRefresher(loadRefresherConfig());
}

if (require.main === module) runMain(main);
