import { Controller, INestMicroservice, Module } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { createEvent, RefreshRequested, topicName, Topics } from '@model-persistence/contracts';
import {
  createTestTopics,
  produceRaw,
  testKafkaConfig,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import { KafkaMessageProcessor, kafkaMicroservice, MessagingModule } from '../src/index';

const received: RefreshRequested[] = [];

@Controller()
class ProbeHandler {
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

describe('Nest Kafka transport + message processor (real broker)', () => {
  const prefix = uniqueTopicPrefix('transport');
  const config = testKafkaConfig(prefix);
  let kafka: Kafka;
  let app: INestMicroservice;
  let recorder: TopicRecorder;

  beforeAll(async () => {
    kafka = await createTestTopics(config);
    @Module({ imports: [MessagingModule.forRoot(config, 'probe')], controllers: [ProbeHandler] })
    class ProbeModule {}
    app = await NestFactory.createMicroservice(ProbeModule, {
      ...kafkaMicroservice(config, { groupId: `probe-${prefix}` }),
      logger: false,
    });
    await app.listen();
    recorder = await new TopicRecorder(kafka, prefix, [Topics.DeadLetter]).start();
  }, 60_000);

  afterAll(async () => {
    await recorder?.stop();
    await app?.close();
  });

  it('consumes a RefreshRequested published with kafkajs, dead-letters malformed ones and keeps running', async () => {
    const valid = createEvent('RefreshRequested', {
      databaseId: 7,
      trigger: 'external',
      requestedBy: 'int-test',
    });
    const topic = topicName(prefix, Topics.RefreshRequested);
    const bad = [
      { why: 'bad JSON', value: '{"type": "RefreshRequested",' },
      { why: 'wrong version', value: JSON.stringify({ ...valid, eventId: randomUUID(), version: 9 }) },
      {
        why: 'missing field',
        value: JSON.stringify({ ...valid, eventId: randomUUID(), databaseId: undefined }),
      },
      {
        why: 'wrong type on topic',
        value: JSON.stringify(createEvent('PruneRequested', { trigger: 'manual' })),
      },
    ];
    await produceRaw(
      kafka,
      topic,
      bad.map((b) => ({ key: '7', value: b.value })),
    );
    const after = createEvent('RefreshRequested', { databaseId: 7, cardId: 3, trigger: 'manual' });
    await produceRaw(kafka, topic, [
      { key: '7', value: JSON.stringify(valid) },
      { key: '7', value: JSON.stringify(after) },
    ]);

    const letters = await recorder.waitFor((m) => m.event?.type === 'DeadLetter', bad.length);
    const reasons = letters.map((m) => (m.event as { reason: string }).reason);
    expect(reasons.some((r) => /not valid JSON/.test(r))).toBe(true);
    expect(reasons.some((r) => /unsupported version 9 of RefreshRequested/.test(r))).toBe(true);
    expect(reasons.some((r) => /databaseId/.test(r))).toBe(true);
    expect(reasons.some((r) => /PruneRequested is not accepted/.test(r))).toBe(true);
    for (const l of letters) {
      const dl = l.event as {
        source: { topic: string; offset: string; consumerGroup: string };
        payloadBase64: string;
      };
      expect(dl.source.topic).toBe(topic);
      expect(dl.source.consumerGroup).toBe('probe');
      expect(bad.map((b) => b.value)).toContain(Buffer.from(dl.payloadBase64, 'base64').toString('utf8'));
    }

    const deadline = Date.now() + 20_000;
    while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(received.map((e) => e.eventId)).toEqual([valid.eventId, after.eventId]);
  }, 60_000);
});
