import { TestSmtpServer } from '@model-persistence/testing';
import { assertBuilt, createSourcePg, FaultStack, MODE, recordFigures, size } from './support/stack';
import { TcpProxy } from './support/tcp-proxy';

/*
 * Scenario 4 — the SMTP server is down while alerts are due (and the notifier is even killed and replaced
 * meanwhile): once it is back every alert arrives, none lost, none duplicated.
 */
const DATABASES = size(4, 10);
const DOWN_MS = size(15_000, 60_000);
jest.setTimeout(DOWN_MS + 180_000);

describe(`fault 4: SMTP down (${MODE})`, () => {
  let stack: FaultStack;
  let src: Awaited<ReturnType<typeof createSourcePg>>;
  let proxy: TcpProxy;
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    await assertBuilt();
    [stack, src, smtp] = await Promise.all([
      FaultStack.create('smtpdown'),
      createSourcePg('smtpdown', 50),
      new TestSmtpServer().start(0),
    ]);
    proxy = await new TcpProxy(5432).start(0);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await smtp?.stop();
    await proxy?.close();
    await src?.drop();
  }, 60_000);

  it('delivers every alert after SMTP returns, exactly once', async () => {
    const names: string[] = [];
    const dbIds: number[] = [];
    for (let i = 0; i < DATABASES; i++) {
      names.push(`mail source ${i}`);
      const id = await stack.addDatabase({ name: names[i], dbName: src.name, port: proxy.port });
      dbIds.push(id);
      await stack.addCard(id, `Orders ${i}`, 'select id, amount from orders');
    }
    const env = { SMTP_PORT: String(smtp.port), REFRESH_RETRY_CONNECTION_MAX: '0' };
    await stack.start('refresher', env);
    let notifier = await stack.start('notifier', { ...env, INSTANCE_ID: 'notifier-a' });

    await smtp.stop();
    const downAt = Date.now();
    // every database fails (source refused) → one failure alert each
    await proxy.cut();
    const failing = await Promise.all(
      dbIds.map((databaseId) => stack.request({ databaseId, trigger: 'scheduled' })),
    );
    for (const r of failing) expect(await stack.waitRun(r.eventId, 60_000)).toMatchObject({ error: 1 });
    // the first half recovers → one recovery alert each (queued behind the failure alert)
    await proxy.restore();
    const half = dbIds.slice(0, Math.ceil(DATABASES / 2));
    const recovering = await Promise.all(
      half.map((databaseId) => stack.request({ databaseId, trigger: 'scheduled' })),
    );
    for (const r of recovering) expect(await stack.waitRun(r.eventId, 60_000)).toMatchObject({ success: 1 });

    // the notifier dies with its outbox full, a new one takes over, the mail server is still down
    await new Promise((r) => setTimeout(r, 2000));
    const outboxDue = await stack.pg.query<{ n: number }>(
      `select count(*)::int as n from notification_outbox where status = 'pending'`,
    );
    await notifier.kill();
    notifier = await stack.start('notifier', { ...env, INSTANCE_ID: 'notifier-b' });
    const wait = DOWN_MS - (Date.now() - downAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const downFor = Date.now() - downAt;
    expect(smtp.received).toHaveLength(0);
    await smtp.start();

    const expected = DATABASES + half.length;
    await smtp.waitFor(() => true, expected, 90_000);
    const deliveredAfterMs = Date.now() - downAt - downFor;
    // give a duplicate send time to show up (several outbox polls and retry periods)
    await new Promise((r) => setTimeout(r, 5000));
    expect(smtp.received).toHaveLength(expected);
    const ids = smtp.received.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(expected);
    for (const [i, name] of names.entries()) {
      expect(smtp.received.filter((m) => m.subject.endsWith(`refresh failed for ${name}`))).toHaveLength(1);
      expect(smtp.received.filter((m) => m.subject.endsWith(`succeeded again for ${name}`))).toHaveLength(
        i < half.length ? 1 : 0,
      );
    }
    expect(stack.processes.filter((p) => p.name === 'refresher').every((p) => p.running)).toBe(true);
    expect(notifier.running).toBe(true);

    recordFigures('4-smtp-down', {
      load: `${DATABASES} databases failing (${DATABASES} failure alerts) and ${half.length} recovering (${half.length} recovery alerts) while SMTP was down`,
      faultsInjected: `SMTP server stopped for ${Math.round(downFor / 1000)} s; notifier SIGKILLed and replaced during the outage`,
      outboxRowsWhenKilled: outboxDue.rows[0].n,
      emailsExpected: expected,
      emailsDelivered: smtp.received.length,
      duplicateMessageIds: expected - new Set(ids).size,
      allDeliveredWithinMsAfterSmtpReturned: deliveredAfterMs,
      lost: 'nothing',
    });
  });
});
