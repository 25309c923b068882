/*
 * A dead letter must fit a broker with Kafka's default message limit (message.max.bytes 1048588, as in
 * docker-compose): a 0.95 MB poison message is dead-lettered with its reason (payload capped, said so) and the
 * partition moves on. Before the cap, the base64 copy (~1.3 MB) was refused with MESSAGE_TOO_LARGE, reported as
 * a broker outage, and the message was redelivered forever, blocking everything behind it.
 */
import { Controller, INestMicroservice, Module } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { NestFactory } from '@nestjs/core';
import { createEvent, DeadLetter, RefreshRequested, topicName, Topics } from '@model-persistence/contracts';
import {
  createTestTopics,
  PrivateBroker,
  produceRaw,
  testKafkaConfig,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import {
  DEAD_LETTER_MAX_PAYLOAD_BYTES,
  KafkaMessageProcessor,
  kafkaMicroservice,
  MessagingModule,
} from '../src/index';

const received: RefreshRequested[] = [];

@Controller()
class SizeProbeHandler {
  constructor(private readonly processor: KafkaMessageProcessor) {}

  @EventPattern(Topics.RefreshRequested)
  async onRefreshRequested(@Ctx() ctx: KafkaContext): Promise<void> {
    await this.processor.process(ctx, {
      accept: ['RefreshRequested'],
      handle: async (event) => {
        received.push(event);
      },
    });
  }
}

describe('dead letters on a broker with the default 1 MB message limit', () => {
  const prefix = uniqueTopicPrefix('dlsize');
  let broker: PrivateBroker;
  let kafka: Kafka;
  let app: INestMicroservice;
  let recorder: TopicRecorder;

  beforeAll(async () => {
    broker = await PrivateBroker.start({ messageMaxBytes: null });
    const config = testKafkaConfig(prefix, { brokers: [broker.brokers], partitions: 1 });
    kafka = await createTestTopics(config);
    @Module({ imports: [MessagingModule.forRoot(config, 'size-probe')], controllers: [SizeProbeHandler] })
    class SizeProbeModule {}
    app = await NestFactory.createMicroservice(SizeProbeModule, {
      ...kafkaMicroservice(config, { groupId: `size-probe-${prefix}` }),
      logger: ['error'],
    });
    await app.listen();
    recorder = await new TopicRecorder(kafka, prefix, [Topics.DeadLetter]).start();
  }, 180_000);

  afterAll(async () => {
    await recorder?.stop().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await broker?.destroy();
  });

  it('dead-letters a 0.95 MB poison message with the reason, capped, and consumes the next one', async () => {
    const size = Math.round(0.95 * 1024 * 1024);
    const head = '{"type":"RefreshRequested","padding":"';
    const poison = Buffer.from(head + 'x'.repeat(size - head.length)); // never closed: not valid JSON
    expect(poison.length).toBe(size);
    const next = createEvent('RefreshRequested', { databaseId: 5, trigger: 'manual' });
    const topic = topicName(prefix, Topics.RefreshRequested);
    await produceRaw(kafka, topic, [{ key: '5', value: poison }]);
    await produceRaw(kafka, topic, [{ key: '5', value: JSON.stringify(next) }]);

    const [letter] = await recorder.waitFor((m) => m.event?.type === 'DeadLetter', 1, 60_000);
    const dl = letter.event as DeadLetter;
    expect(dl.reason).toMatch(/not valid JSON/);
    expect(dl.errorCode).toBe('MALFORMED_MESSAGE');
    expect(dl.source.topic).toBe(topic);
    expect(dl.payloadTruncated).toBe(true);
    expect(dl.payloadBytes).toBe(size);
    const kept = Buffer.from(dl.payloadBase64!, 'base64');
    expect(kept.length).toBe(DEAD_LETTER_MAX_PAYLOAD_BYTES);
    expect(kept.equals(poison.subarray(0, kept.length))).toBe(true);
    // the record as written fits the default limit with room to spare
    expect(letter.raw.value!.length).toBeLessThan(1_048_588 / 2);

    const deadline = Date.now() + 30_000;
    while (received.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(received.map((e) => e.eventId)).toEqual([next.eventId]);
    // exactly one dead letter: the poison message was not redelivered and dead-lettered again
    await new Promise((r) => setTimeout(r, 2000));
    expect(recorder.messages.filter((m) => m.event?.type === 'DeadLetter')).toHaveLength(1);
  }, 120_000);
});
