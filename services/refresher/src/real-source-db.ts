import * as sourceDb from '@model-persistence/source-db';
import { SourceDbApi } from './source-db.port';

/** The real engine layer (kept apart so unit tests of the orchestration do not load the drivers). */
export const realSourceDb = (): SourceDbApi => sourceDb;
