import { Metrics } from './metrics';

export interface ModelStateCount {
  state: string;
  databaseId: number;
  count: number;
}

export interface ModelStaleness {
  persistedInfoId: number;
  cardId: number | null;
  databaseId: number;
  modelName: string;
  /** Seconds since the last successful refresh (since creation when it never succeeded). */
  stalenessSeconds: number;
  /** Seconds between two fires of the model's schedule; null when unknown. */
  intervalSeconds: number | null;
  /** The model's freshness target (card max_staleness) in seconds; null when it has none. */
  maxStalenessSeconds?: number | null;
  /** Staleness beyond which the model is stale: the target, else twice the interval; null: never stale. */
  limitSeconds?: number | null;
}

/** Where the model gauges read from (the app database); implemented next to a repository. */
export interface ModelGaugeSource {
  modelsByState(): Promise<ModelStateCount[]>;
  modelStaleness(): Promise<ModelStaleness[]>;
}

export interface ConsumerLag {
  group: string;
  topic: string;
  lag: number;
}

/** Where the Kafka gauges read from (the admin client). */
export interface KafkaGaugeSource {
  consumerLag(): Promise<ConsumerLag[]>;
  /** Messages currently held by the dead-letter topic (high minus low watermarks). */
  deadLetterMessages(): Promise<number>;
}

/**
 * Reads a source once per scrape, never failing the scrape: on error the last good values are reported
 * (a stale gauge beats a gap that silences the alerts).
 */
function cached<T>(read: () => Promise<T>, fallback: T): () => Promise<T> {
  let last = fallback;
  let pending: Promise<T> | undefined;
  return async () => {
    pending ??= read()
      .then((v) => (last = v))
      .catch(() => last)
      .finally(() => (pending = undefined));
    return pending;
  };
}

/**
 * Registers the gauges that need the app database. Call from ONE service only (the api), so a model's series
 * is not reported once per replica.
 */
export function registerModelGauges(source: ModelGaugeSource): void {
  const states = cached(() => source.modelsByState(), []);
  const staleness = cached(() => source.modelStaleness(), []);
  Metrics.observe('model_persistence.models', 'Persisted models by state', '{model}', async () =>
    (await states()).map((s) => ({
      value: s.count,
      attributes: { state: s.state, 'db.id': String(s.databaseId) },
    })),
  );
  const modelAttrs = (m: ModelStaleness) => ({
    'model.id': String(m.persistedInfoId),
    'card.id': String(m.cardId ?? ''),
    'db.id': String(m.databaseId),
    'model.name': m.modelName,
  });
  Metrics.observe(
    'model_persistence.model.staleness',
    'Seconds since the last successful refresh of a model',
    's',
    async () => (await staleness()).map((m) => ({ value: m.stalenessSeconds, attributes: modelAttrs(m) })),
  );
  Metrics.observe(
    'model_persistence.model.refresh_interval',
    'Seconds between two scheduled refreshes of a model',
    's',
    async () =>
      (await staleness())
        .filter((m) => m.intervalSeconds !== null)
        .map((m) => ({ value: m.intervalSeconds as number, attributes: modelAttrs(m) })),
  );
  Metrics.observe(
    'model_persistence.model.max_staleness',
    'Freshness target (max_staleness) of a model that has one',
    's',
    async () =>
      (await staleness())
        .filter((m) => m.maxStalenessSeconds != null)
        .map((m) => ({ value: m.maxStalenessSeconds as number, attributes: modelAttrs(m) })),
  );
  Metrics.observe(
    'model_persistence.model.staleness_limit',
    'Staleness beyond which a model is stale: its max_staleness, else twice its schedule interval',
    's',
    async () =>
      (await staleness())
        .filter((m) => m.limitSeconds != null)
        .map((m) => ({ value: m.limitSeconds as number, attributes: modelAttrs(m) })),
  );
}

/** Registers consumer lag per group and the dead-letter topic depth. Call from ONE service only. */
export function registerKafkaGauges(source: KafkaGaugeSource): void {
  const lag = cached(() => source.consumerLag(), []);
  const dead = cached(() => source.deadLetterMessages(), 0);
  Metrics.observe(
    'model_persistence.consumer.lag',
    'Messages not yet consumed, per group and topic',
    '{message}',
    async () =>
      (await lag()).map((l) => ({
        value: l.lag,
        attributes: { 'messaging.consumer.group.name': l.group, topic: l.topic },
      })),
  );
  Metrics.observe(
    'model_persistence.dead_letter.messages',
    'Messages held by the dead-letter topic',
    '{message}',
    async () => [{ value: await dead(), attributes: {} }],
  );
}
