import type { Admin } from 'kafkajs';
import { KafkaAdminGaugeSource, scheduleIntervalSeconds } from './ops-gauges';

describe('scheduleIntervalSeconds', () => {
  it('is the widest gap between the next fires', () => {
    expect(scheduleIntervalSeconds('0 0 0/6 * * ? *', 'UTC')).toBe(6 * 3600);
    expect(scheduleIntervalSeconds('0 0/15 * * * ? *', 'Europe/Paris')).toBe(900);
    // 1st and 15th of the month: the wide gap counts.
    expect(scheduleIntervalSeconds('0 0 0 1,15 * ? *', 'UTC', new Date('2026-01-01T12:00:00Z'))).toBe(
      17 * 86400,
    );
  });

  it('is null for an invalid expression', () => {
    expect(scheduleIntervalSeconds('nope', 'UTC')).toBeNull();
  });
});

describe('KafkaAdminGaugeSource', () => {
  const admin = {
    fetchTopicOffsets: async (topic: string) =>
      topic.endsWith('dead-letter')
        ? [
            { partition: 0, offset: '3', high: '3', low: '1' },
            { partition: 1, offset: '0', high: '0', low: '0' },
          ]
        : [
            { partition: 0, offset: '10', high: '10', low: '2' },
            { partition: 1, offset: '5', high: '5', low: '0' },
          ],
    fetchOffsets: async ({ groupId, topics }: { groupId: string; topics: string[] }) =>
      topics.map((topic) => ({
        topic,
        partitions:
          groupId === 'refresher'
            ? [
                { partition: 0, offset: '7' },
                { partition: 1, offset: '-1' },
              ]
            : [
                { partition: 0, offset: '10' },
                { partition: 1, offset: '5' },
              ],
      })),
  } as unknown as Admin;

  it('sums lag per group and topic; an uncommitted partition counts from its low watermark', async () => {
    const source = new KafkaAdminGaugeSource(admin, 'p.', [
      { group: 'refresher', topics: ['refresh.requested'] },
      { group: 'notifier', topics: ['refresh.failed'] },
    ]);
    expect(await source.consumerLag()).toEqual([
      { group: 'refresher', topic: 'refresh.requested', lag: 3 + 5 },
      { group: 'notifier', topic: 'refresh.failed', lag: 0 },
    ]);
  });

  it('counts the messages retained in the dead-letter topic', async () => {
    expect(await new KafkaAdminGaugeSource(admin, 'p.').deadLetterMessages()).toBe(2);
  });
});
