import { Injectable } from '@nestjs/common';
import { CanPersistCheck } from '../model-persistence/can-persist-check';

/** The can-persist check's steps, in the order the drivers run them; a failure stops the check. */
export const CAN_PERSIST_STEPS = [
  { step: 'create-schema', label: 'Create the cache schema' },
  { step: 'create-table', label: 'Create a table in it' },
  { step: 'read-table', label: 'Read the table' },
  { step: 'drop-table', label: 'Delete the table' },
  { step: 'create-cache-info', label: 'Create the cache_info table' },
] as const;

export interface CanPersistReport {
  database_id: number;
  schema_name: string;
  ok: boolean;
  steps: { step: string; label: string; status: 'passed' | 'failed' | 'not-run'; message: string | null }[];
}

/**
 * Runs the can-persist check of one database without changing any setting, so the console can show each step
 * before the operator persists it (persist itself runs the same check again and refuses on failure).
 */
@Injectable()
export class CanPersistCheckUseCase {
  constructor(private readonly canPersist: CanPersistCheck) {}

  async check(databaseId: number): Promise<CanPersistReport> {
    const { db, schemaName, result } = await this.canPersist.run(databaseId);
    const failedAt = result.ok ? -1 : CAN_PERSIST_STEPS.findIndex((s) => s.step === result.step);
    return {
      database_id: db.id,
      schema_name: schemaName,
      ok: result.ok,
      steps: CAN_PERSIST_STEPS.map((s, i) => ({
        ...s,
        status: result.ok || i < failedAt ? 'passed' : i === failedAt ? 'failed' : 'not-run',
        message: !result.ok && i === failedAt ? result.message : null,
      })),
    };
  }
}
