import { DeadLetterEntry, DeadLetterLog } from './dead-letter-log';
import { LastBuild, LastBuildLog } from './last-build-log';

const letter = (i: number, topic = 't.refresh.requested'): DeadLetterEntry => ({
  partition: i % 3,
  offset: String(i),
  occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  source: { topic, partition: 0, offset: String(i), key: null, consumerGroup: 'g' },
  reason: `r${i}`,
  errorCode: 'INVALID_EVENT',
  payload: `p${i}`,
  headers: {},
});

describe('DeadLetterLog', () => {
  it('pages newest first and filters by source topic', () => {
    const log = new DeadLetterLog();
    [3, 1, 2, 0].forEach((i) => log.add(letter(i, i === 2 ? 'other' : 't.refresh.requested')));
    expect(log.page({ limit: 2, offset: 0 }).data.map((d) => d.reason)).toEqual(['r3', 'r2']);
    expect(log.page({ limit: 2, offset: 2 }).data.map((d) => d.reason)).toEqual(['r1', 'r0']);
    expect(log.page({ limit: 10, offset: 0, topic: 'other' })).toMatchObject({ total: 1 });
  });

  it('keeps only the newest entries', () => {
    const log = new DeadLetterLog(5);
    for (let i = 0; i < 23; i++) log.add(letter(i));
    const page = log.page({ limit: 100, offset: 0 });
    expect(page.total).toBe(5);
    expect(page.data.map((d) => d.reason)).toEqual(['r22', 'r21', 'r20', 'r19', 'r18']);
  });
});

describe('LastBuildLog', () => {
  const build = (id: number, endedAt: string, rows: number): LastBuild => ({
    persistedInfoId: id,
    cardId: id,
    databaseId: 1,
    outcome: 'success',
    rows,
    durationMs: 10,
    endedAt,
    error: null,
  });

  it('keeps the newest build per model, whatever order the events arrive in', () => {
    const log = new LastBuildLog();
    log.add(build(2, '2026-01-01T00:00:02Z', 20));
    log.add(build(1, '2026-01-01T00:00:05Z', 50));
    log.add(build(1, '2026-01-01T00:00:01Z', 10)); // older, redelivered late
    expect(log.all().map((b) => [b.persistedInfoId, b.rows])).toEqual([
      [1, 50],
      [2, 20],
    ]);
  });
});
