/**
 * "Which cron applies to this model", written once: the scheduler's plan, the api's next fire time, the
 * refresher's own-schedule check and the staleness gauge all ask here.
 *
 * - model persistence switched off globally, or for the model's database: no cron (nothing fires);
 * - a model carrying its own (non-blank) cron: that cron, fired per model;
 * - otherwise the global cron, fired per database.
 */
export interface CronSettings {
  /** The global `persisted-models-enabled` switch. */
  enabled: boolean;
  /** The global refresh cron (`persisted-model-refresh-cron-schedule`). */
  globalCron: string;
}

export interface ModelCronFacts {
  databasePersistEnabled: boolean;
  /** The card's own cron override, if any. */
  cardCron?: string | null;
}

export type AppliedCron = { source: 'model' | 'database'; cron: string };

/** The card's own cron, when it has one (a blank value is no override). */
export function ownCron(cardCron: string | null | undefined): string | null {
  const trimmed = cardCron?.trim();
  return trimmed ? trimmed : null;
}

/** The cron of a database's schedule, or null when nothing fires for it. */
export function resolveDatabaseCron(settings: CronSettings, databasePersistEnabled: boolean): string | null {
  return settings.enabled && databasePersistEnabled ? settings.globalCron : null;
}

/** The cron that refreshes a model, and whether it is the model's own schedule or its database's. */
export function resolveModelCron(settings: CronSettings, model: ModelCronFacts): AppliedCron | null {
  const databaseCron = resolveDatabaseCron(settings, model.databasePersistEnabled);
  if (databaseCron === null) return null;
  const own = ownCron(model.cardCron);
  return own !== null ? { source: 'model', cron: own } : { source: 'database', cron: databaseCron };
}

/**
 * Whether a model of a persist-enabled database is refreshed by its own schedule (resolveModelCron's
 * `source: 'model'`): the scheduler fires such a model on its own, so its database's scheduled run leaves it out.
 */
export function firesOnOwnSchedule(cardCron: string | null | undefined): boolean {
  return (
    resolveModelCron({ enabled: true, globalCron: '' }, { databasePersistEnabled: true, cardCron })
      ?.source === 'model'
  );
}
