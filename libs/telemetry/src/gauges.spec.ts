import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { registerKafkaGauges, registerModelGauges } from './gauges';
import { resetInstrumentCache } from './metrics';

/** Values of one metric after a collection, as {attributes, value}. */
async function collect(reader: PrometheusExporter, name: string) {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []).map((p) => ({ attributes: p.attributes, value: p.value as number }));
}

describe('observable gauges', () => {
  let reader: PrometheusExporter;
  let provider: MeterProvider;

  beforeEach(() => {
    reader = new PrometheusExporter({ preventServerStart: true });
    provider = new MeterProvider({ readers: [reader] });
    metrics.disable();
    metrics.setGlobalMeterProvider(provider);
    resetInstrumentCache();
  });

  afterEach(async () => {
    await provider.shutdown();
    metrics.disable();
    resetInstrumentCache();
  });

  it('reports models by state, staleness and interval per model, and keeps the last values when a read fails', async () => {
    let fail = false;
    registerModelGauges({
      modelsByState: async () => {
        if (fail) throw new Error('database down');
        return [{ state: 'persisted', databaseId: 1, count: 3 }];
      },
      modelStaleness: async () => {
        if (fail) throw new Error('database down');
        return [
          {
            persistedInfoId: 5,
            cardId: 9,
            databaseId: 1,
            modelName: 'Orders',
            stalenessSeconds: 120,
            intervalSeconds: 3600,
            maxStalenessSeconds: 600,
            limitSeconds: 600,
          },
          {
            persistedInfoId: 6,
            cardId: null,
            databaseId: 1,
            modelName: 'Gone',
            stalenessSeconds: 10,
            intervalSeconds: null,
          },
        ];
      },
    });
    const expectValues = async () => {
      expect(await collect(reader, 'model_persistence.models')).toEqual([
        { attributes: { state: 'persisted', 'db.id': '1' }, value: 3 },
      ]);
      const staleness = await collect(reader, 'model_persistence.model.staleness');
      expect(staleness.map((s) => [s.attributes['model.name'], s.value])).toEqual([
        ['Orders', 120],
        ['Gone', 10],
      ]);
      // No schedule known → no interval series (the stale alert cannot fire on a guess).
      const interval = await collect(reader, 'model_persistence.model.refresh_interval');
      expect(interval.map((s) => [s.attributes['model.id'], s.value])).toEqual([['5', 3600]]);
      // the freshness target, and the limit the stale alert compares with (target, else twice the interval)
      const target = await collect(reader, 'model_persistence.model.max_staleness');
      expect(target.map((s) => [s.attributes['model.id'], s.value])).toEqual([['5', 600]]);
      const limit = await collect(reader, 'model_persistence.model.staleness_limit');
      expect(limit.map((s) => [s.attributes['model.id'], s.value])).toEqual([['5', 600]]);
    };
    await expectValues();
    fail = true;
    await expectValues();
  });

  it('reports consumer lag per group and topic and the dead-letter depth', async () => {
    registerKafkaGauges({
      consumerLag: async () => [{ group: 'refresher', topic: 'refresh.requested', lag: 4 }],
      deadLetterMessages: async () => 2,
    });
    expect(await collect(reader, 'model_persistence.consumer.lag')).toEqual([
      { attributes: { 'messaging.consumer.group.name': 'refresher', topic: 'refresh.requested' }, value: 4 },
    ]);
    expect(await collect(reader, 'model_persistence.dead_letter.messages')).toEqual([
      { attributes: {}, value: 2 },
    ]);
  });
});
