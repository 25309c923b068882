import { TestSmtpServer } from '@model-persistence/testing';
import { assertBuilt, createSourcePg, FaultStack, MODE, recordFigures, size } from './support/stack';
import { TcpProxy } from './support/tcp-proxy';

/*
 * Scenario 3 — source database unreachable: a TCP proxy in front of the source PostgreSQL refuses connections.
 * The refresher retries the connection class with the configured backoff, then records `error`; the notifier
 * sends ONE admin email however many runs fail; once the database is back the next refresh succeeds and the
 * recovery email goes out.
 */
jest.setTimeout(240_000);

const RETRIES = 3;
const BASE_MS = 300;
const JITTER_PCT = 20;

describe(`fault 3: source database unreachable (${MODE})`, () => {
  let stack: FaultStack;
  let src: Awaited<ReturnType<typeof createSourcePg>>;
  let proxy: TcpProxy;
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    await assertBuilt();
    [stack, src, smtp] = await Promise.all([
      FaultStack.create('srcdown'),
      createSourcePg('srcdown'),
      new TestSmtpServer().start(0),
    ]);
    proxy = await new TcpProxy(5432).start(0);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await proxy?.close();
    await smtp?.stop();
    await src?.drop();
  }, 60_000);

  it('retries with backoff, records error, one email; recovers with a recovery email', async () => {
    const dbName = 'Unreachable source';
    const dbId = await stack.addDatabase({ name: dbName, dbName: src.name, port: proxy.port });
    const cardId = await stack.addCard(dbId, 'Orders', 'select id, amount from orders');
    const env = {
      REFRESH_RETRY_CONNECTION_MAX: String(RETRIES),
      REFRESH_RETRY_CONNECTION_BASE_MS: String(BASE_MS),
      REFRESH_RETRY_JITTER_PCT: String(JITTER_PCT),
      SMTP_PORT: String(smtp.port),
    };
    const [refresher] = await Promise.all([
      stack.start('refresher', env),
      stack.start('notifier', env),
      stack.start('history', env),
    ]);

    const warm = await stack.request({ databaseId: dbId, trigger: 'manual' });
    expect(await stack.waitRun(warm.eventId)).toMatchObject({ success: 1, error: 0 });

    await proxy.cut();
    const failingRuns = size(2, 4);
    const failed: string[] = [];
    const logFrom = refresher.logs.length;
    for (let i = 0; i < failingRuns; i++) {
      const req = await stack.request({ databaseId: dbId, trigger: 'scheduled' });
      expect(await stack.waitRun(req.eventId, 90_000)).toMatchObject({ success: 0, error: 1 });
      failed.push(req.eventId);
    }
    for (const runId of failed) {
      const [f] = stack.events('RefreshFailed', runId);
      expect(f).toMatchObject({ cardId, outcome: 'error', errorClass: 'connection', attempts: RETRIES + 1 });
    }
    const [row] = await stack.rows('card_id = $1', [cardId]);
    expect(row).toMatchObject({ state: 'error', lease_owner: null });

    // the configured backoff: base * 2^(n-1) plus up to JITTER_PCT % of it, for each retry of each run
    const delays = refresher.logs
      .slice(logFrom)
      .map((l) => /attempt (\d+) failed \(connection\), retrying in (\d+) ms/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ attempt: Number(m[1]), ms: Number(m[2]) }));
    expect(delays).toHaveLength(RETRIES * failingRuns);
    for (const d of delays) {
      const exp = BASE_MS * 2 ** (d.attempt - 1);
      expect(d.ms).toBeGreaterThanOrEqual(exp);
      expect(d.ms).toBeLessThanOrEqual(Math.round(exp * (1 + JITTER_PCT / 100)));
    }

    const failureMails = await smtp.waitFor(
      (m) => m.subject.includes(`refresh failed for ${dbName}`),
      1,
      60_000,
    );
    expect(failureMails[0].to).toContain('admin@faults.test');

    await proxy.restore();
    const again = await stack.request({ databaseId: dbId, trigger: 'scheduled' });
    expect(await stack.waitRun(again.eventId, 60_000)).toMatchObject({ success: 1, error: 0 });
    expect((await stack.rows('card_id = $1', [cardId]))[0]).toMatchObject({
      state: 'persisted',
      active: true,
    });
    await smtp.waitFor((m) => m.subject.includes(`succeeded again for ${dbName}`), 1, 60_000);

    // a late duplicate would show up within a few outbox polls
    await new Promise((r) => setTimeout(r, 3000));
    const failures = smtp.received.filter((m) => m.subject.includes('refresh failed'));
    const recoveries = smtp.received.filter((m) => m.subject.includes('succeeded again'));
    expect(failures).toHaveLength(1);
    expect(recoveries).toHaveLength(1);
    // on the wire: each run one outcome for its model and one completion, however many attempts it took
    for (const runId of [...failed, again.eventId]) {
      const outcomes = [...stack.events('RefreshFailed', runId), ...stack.events('RefreshSucceeded', runId)];
      expect([runId, outcomes.length, stack.events('RefreshRunCompleted', runId).length]).toEqual([
        runId,
        1,
        1,
      ]);
    }
    const history = await stack.taskHistory(`task = 'persist-refresh'`);
    expect(history.filter((h) => failed.includes(h.run_id)).map((h) => h.status)).toEqual(
      failed.map(() => 'failed'),
    );
    expect(stack.restarts()).toEqual([]);

    recordFigures('3-source-unreachable', {
      load: `1 database, 1 model; ${failingRuns} runs while the source refused connections, then 1 after it returned`,
      faultsInjected: `source PostgreSQL behind a TCP proxy: ${proxy.reset} connections reset, port closed for ${failingRuns} runs`,
      retryDelaysMs: delays.map((d) => d.ms),
      policy: `REFRESH_RETRY_CONNECTION_MAX=${RETRIES} BASE_MS=${BASE_MS} JITTER_PCT=${JITTER_PCT}`,
      failureEmails: failures.length,
      recoveryEmails: recoveries.length,
      lost: 'nothing: every run completed (error while down, success after), one failure and one recovery email',
    });
  });
});
