import {
  Inject,
  Injectable,
  Module,
  OnApplicationShutdown,
  OnModuleInit,
  DynamicModule,
} from '@nestjs/common';
import { BaseConfig } from '@model-persistence/config';
import {
  ConsumerGroupSelector,
  consumerGroupSelectors,
  ConsumerGroups,
  topicName,
  TopicName,
  Topics,
} from '@model-persistence/contracts';
import { ownCron, scheduleIntervalSeconds, stalenessLimitSeconds } from '@model-persistence/cron';
import { ObservabilityRepository, SettingKey, SettingRepository } from '@model-persistence/database';
import { KAFKA } from '@model-persistence/messaging';
import {
  ConsumerLag,
  KafkaGaugeSource,
  ModelGaugeSource,
  ModelStaleness,
  registerKafkaGauges,
  registerModelGauges,
} from '@model-persistence/telemetry';
import { DataSource } from 'typeorm';
import { AssignerProtocol, type Admin, type Kafka } from 'kafkajs';

/** The consumer groups of a deployment with default settings (libs/contracts consumer-groups). */
export const DEFAULT_LAG_GROUPS: ConsumerGroupSelector[] = consumerGroupSelectors({
  refresherGroup: ConsumerGroups.refresher.defaultGroup,
});

/** Kept here for the callers that imported it from runtime; the definition lives in libs/cron. */
export { scheduleIntervalSeconds };

/** Models by state and staleness, read from the app database. */
export class DatabaseGaugeSource implements ModelGaugeSource {
  constructor(
    private readonly observability: ObservabilityRepository,
    private readonly settings: SettingRepository,
  ) {}

  modelsByState() {
    return this.observability.modelsByState();
  }

  async modelStaleness(): Promise<ModelStaleness[]> {
    const [rows, globalCron, timeZone] = await Promise.all([
      this.observability.modelFreshness(),
      this.settings.get(SettingKey.RefreshCronSchedule),
      this.settings.get(SettingKey.ScheduleTimeZone),
    ]);
    const intervals = new Map<string, number | null>();
    const interval = (cron: string) => {
      if (!intervals.has(cron)) intervals.set(cron, scheduleIntervalSeconds(cron, timeZone || 'UTC'));
      return intervals.get(cron) ?? null;
    };
    return rows.map((r) => {
      const intervalSeconds = interval(ownCron(r.refreshCron) ?? globalCron);
      return {
        persistedInfoId: r.persistedInfoId,
        cardId: r.cardId,
        databaseId: r.databaseId,
        modelName: r.modelName,
        stalenessSeconds: r.stalenessSeconds,
        intervalSeconds,
        maxStalenessSeconds: r.maxStalenessSeconds,
        limitSeconds: stalenessLimitSeconds(r.maxStalenessSeconds, intervalSeconds),
      };
    });
  }
}

/** Consumer lag per group and dead-letter depth, read with the Kafka admin client. */
export class KafkaAdminGaugeSource implements KafkaGaugeSource {
  constructor(
    private readonly admin: Admin,
    private readonly prefix: string,
    private readonly groups: readonly ConsumerGroupSelector[] = DEFAULT_LAG_GROUPS,
  ) {}

  /**
   * Exact groups as declared; a prefix (the scheduler's per-instance groups) stands for the live groups of
   * that name whose members read one of its topics under this prefix. Empty groups of stopped instances (which
   * would lag forever) and other deployments' groups sharing the broker are left out.
   */
  private async resolveGroups(): Promise<{ group: string; topics: readonly TopicName[] }[]> {
    const out: { group: string; topics: readonly TopicName[] }[] = [];
    const prefixed = this.groups.filter((g) => 'groupPrefix' in g);
    const listed = prefixed.length ? (await this.admin.listGroups()).groups.map((g) => g.groupId) : [];
    for (const selector of this.groups) {
      if ('group' in selector) {
        out.push(selector);
        continue;
      }
      const candidates = listed.filter((id) => id.startsWith(selector.groupPrefix));
      if (candidates.length === 0) continue;
      const wanted = new Set(selector.topics.map((t) => topicName(this.prefix, t)));
      const { groups } = await this.admin.describeGroups(candidates);
      for (const g of groups) {
        if (g.state !== 'Stable' || g.protocolType !== 'consumer') continue;
        const reads = g.members.some((m) => {
          try {
            const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
            return meta?.topics.some((t) => wanted.has(t)) ?? false;
          } catch {
            return false; // not a consumer group's member metadata
          }
        });
        if (reads) out.push({ group: g.groupId, topics: selector.topics });
      }
    }
    return out;
  }

  async consumerLag(): Promise<ConsumerLag[]> {
    const out: ConsumerLag[] = [];
    const ends = new Map<string, Map<number, { high: number; low: number }>>();
    const watermarks = async (topic: string) => {
      if (!ends.has(topic)) {
        const offsets = await this.admin.fetchTopicOffsets(topic);
        ends.set(
          topic,
          new Map(offsets.map((o) => [o.partition, { high: Number(o.high), low: Number(o.low) }])),
        );
      }
      return ends.get(topic)!;
    };
    for (const { group, topics: logical } of await this.resolveGroups()) {
      const topics = logical.map((t) => topicName(this.prefix, t));
      const committed = await this.admin.fetchOffsets({ groupId: group, topics });
      for (const t of committed) {
        const marks = await watermarks(t.topic);
        let lag = 0;
        for (const p of t.partitions) {
          const m = marks.get(p.partition);
          if (!m) continue;
          // -1 = nothing committed yet: the group reads from the beginning, so everything retained is pending.
          const at = Number(p.offset) < 0 ? m.low : Number(p.offset);
          lag += Math.max(0, m.high - at);
        }
        out.push({ group, topic: t.topic.slice(this.prefix.length), lag });
      }
    }
    return out;
  }

  async deadLetterMessages(): Promise<number> {
    const offsets = await this.admin.fetchTopicOffsets(topicName(this.prefix, Topics.DeadLetter));
    return offsets.reduce((n, o) => n + Math.max(0, Number(o.high) - Number(o.low)), 0);
  }
}

export const OPS_GAUGES_CONFIG = Symbol('OPS_GAUGES_CONFIG');

export type OpsGaugesConfig = Pick<BaseConfig, 'kafka' | 'telemetry'> & {
  /** The consumer groups whose lag is reported (from the services' settings); defaults when absent. */
  lagGroups?: ConsumerGroupSelector[];
};

@Injectable()
export class OpsGaugesService implements OnModuleInit, OnApplicationShutdown {
  private admin?: Admin;

  constructor(
    @Inject(OPS_GAUGES_CONFIG) private readonly config: OpsGaugesConfig,
    private readonly ds: DataSource,
    private readonly settings: SettingRepository,
    @Inject(KAFKA) private readonly kafka: Kafka,
  ) {}

  async onModuleInit(): Promise<void> {
    // Nothing reads them without a scrape endpoint or an OTLP push (tests, local runs): skip the admin client.
    if (this.config.telemetry.metricsPort <= 0 && !this.config.telemetry.otlpEndpoint) return;
    registerModelGauges(new DatabaseGaugeSource(new ObservabilityRepository(this.ds), this.settings));
    this.admin = this.kafka.admin();
    await this.admin.connect();
    registerKafkaGauges(
      new KafkaAdminGaugeSource(this.admin, this.config.kafka.topicPrefix, this.config.lagGroups),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.admin?.disconnect();
  }
}

/**
 * The gauges that need the app database and the Kafka admin client (models by state, staleness per model,
 * consumer lag per group, dead-letter depth). Import it in ONE service (the api), next to DatabaseModule and
 * MessagingModule (it uses their DataSource, SettingRepository and Kafka client).
 */
@Module({})
export class OpsGaugesModule {
  static forRoot(config: OpsGaugesConfig): DynamicModule {
    return {
      module: OpsGaugesModule,
      providers: [{ provide: OPS_GAUGES_CONFIG, useValue: config }, OpsGaugesService],
    };
  }
}
