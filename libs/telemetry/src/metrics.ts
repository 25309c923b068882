import { Attributes, Counter, Histogram, metrics, ObservableGauge, UpDownCounter } from '@opentelemetry/api';

/*
 * The metric catalog, named by OpenTelemetry conventions (dots, units in `unit`). Prometheus shows dots as
 * underscores and counters with `_total` (`model_persistence_refresh_duration_bucket`,
 * `model_persistence_refreshes_total`); the README section "Operating it" lists them all. Instruments are created lazily, on
 * first use, so that they bind to the SDK's meter provider once telemetry has started, never to the no-op one.
 */
const METER = 'model-persistence';
const cache = new Map<string, unknown>();

function lazy<T>(name: string, make: () => T): T {
  if (!cache.has(name)) cache.set(name, make());
  return cache.get(name) as T;
}
const meter = () => metrics.getMeter(METER);

/** For tests that swap meter providers. */
export function resetInstrumentCache(): void {
  cache.clear();
}

export const Metrics = {
  /** Seconds per model refresh; attributes: db.id, outcome (success|error|skipped), engine. */
  refreshDuration: (): Histogram =>
    lazy('refreshDuration', () =>
      meter().createHistogram('model_persistence.refresh.duration', {
        unit: 's',
        description: 'Duration of one model refresh',
        advice: {
          explicitBucketBoundaries: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
        },
      }),
    ),
  /** Model refreshes; attributes: outcome (success|unchanged|error|skipped; unchanged: verified unchanged, not built), error.class (when not success), db.id. */
  /** Seconds spent building a model's managed indexes (before the swap); attributes: db.id, engine. */
  indexBuildDuration: (): Histogram =>
    lazy('indexBuildDuration', () =>
      meter().createHistogram('model_persistence.refresh.index_duration', {
        unit: 's',
        description: "Time one model refresh spent building the cache table's managed indexes",
        advice: { explicitBucketBoundaries: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] },
      }),
    ),
  /** Rows an incremental refresh merged; attributes: db.id, kind (inserted|updated). */
  incrementalRows: (): Counter =>
    lazy('incrementalRows', () =>
      meter().createCounter('model_persistence.refresh.incremental_rows', {
        description: 'Rows inserted or updated by incremental refreshes',
      }),
    ),
  refreshes: (): Counter =>
    lazy('refreshes', () =>
      meter().createCounter('model_persistence.refreshes', { description: 'Model refreshes by outcome' }),
    ),
  /** Runs (database or single model); attributes: trigger, outcome. */
  runs: (): Counter =>
    lazy('runs', () => meter().createCounter('model_persistence.runs', { description: 'Refresh runs' })),
  /** Failed models per run (histogram of counts), for the "more than 5 failed models in one run" alert. */
  runFailedModels: (): Histogram =>
    lazy('runFailedModels', () =>
      meter().createHistogram('model_persistence.run.failed_models', {
        unit: '{model}',
        description: 'Failed models in one run',
        advice: { explicitBucketBoundaries: [0, 1, 2, 5, 10, 20, 50, 100] },
      }),
    ),
  /** Scheduler fires; attributes: kind (database|model|prune|claim-cleanup), result (published|skipped|lost-claim). */
  schedulerFires: (): Counter =>
    lazy('schedulerFires', () =>
      meter().createCounter('model_persistence.scheduler.fires', { description: 'Schedule fires' }),
    ),
  /** Seconds between a fire's planned time and its publish. */
  schedulerLateness: (): Histogram =>
    lazy('schedulerLateness', () =>
      meter().createHistogram('model_persistence.scheduler.lateness', {
        unit: 's',
        description: 'Publish time minus planned fire time',
        advice: { explicitBucketBoundaries: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30] },
      }),
    ),
  /** Active schedules held by this scheduler. */
  schedules: (): UpDownCounter =>
    lazy('schedules', () =>
      meter().createUpDownCounter('model_persistence.scheduler.schedules', { description: 'Schedules' }),
    ),
  /** Messages written to the dead-letter topic; attributes: topic, error.code. */
  deadLetters: (): Counter =>
    lazy('deadLetters', () =>
      meter().createCounter('model_persistence.dead_letters', {
        description: 'Messages sent to the dead-letter topic',
      }),
    ),
  /** Emails; attributes: kind (failure|recovery), outcome (sent|failed). */
  emails: (): Counter =>
    lazy('emails', () =>
      meter().createCounter('model_persistence.emails', { description: 'Alert emails by outcome' }),
    ),
  /** Observable gauge helper: registers a callback reporting values with attributes (models by state, staleness, lag). */
  observe: (
    name: string,
    description: string,
    unit: string,
    collect: () => Promise<{ value: number; attributes: Attributes }[]>,
  ): ObservableGauge =>
    lazy(`observe:${name}`, () => {
      const g = meter().createObservableGauge(name, { description, unit });
      g.addCallback(async (result) => {
        for (const { value, attributes } of await collect()) result.observe(value, attributes);
      });
      return g;
    }),
};
