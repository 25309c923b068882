import { DeadLetter } from '@model-persistence/contracts';
import { eventually, PrivatePostgres, TestSmtpServer } from '@model-persistence/testing';
import { assertBuilt, createSourcePg, FaultStack, MODE, recordFigures, size } from './support/stack';

/*
 * Scenario 7 — the application database restarts during a database run: the app database lives on a PostgreSQL
 * cluster of the test's own (PrivatePostgres: initdb + pg_ctl on its own port and data directory), stopped
 * with `pg_ctl stop -m immediate` (every connection dropped, like a crash) and started again after longer than
 * the 7 s that once dead-lettered good messages. The services reconnect, the run completes (or is retried) and
 * no state transition is lost or doubled: every model ends persisted by this run, nothing stays refreshing,
 * task history and the notifier have the run once, one RefreshRunCompleted on the wire, no process exits.
 */
const MODELS = size(6, 12);
const DOWN_MS = size(9_000, 20_000);
jest.setTimeout(240_000 + DOWN_MS);

describe(`fault 7: application database restarted during a run (${MODE})`, () => {
  let stack: FaultStack;
  let src: Awaited<ReturnType<typeof createSourcePg>>;
  let server: PrivatePostgres;
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    await assertBuilt();
    server = await PrivatePostgres.create('appdb');
    [stack, src, smtp] = await Promise.all([
      FaultStack.create('appdb', { appServerUrl: server.url() }),
      createSourcePg('appdb', 200),
      new TestSmtpServer().start(0),
    ]);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await server?.destroy();
    await smtp?.stop();
    await src?.drop();
  }, 60_000);

  it('services reconnect; the run completes once with every model persisted', async () => {
    const dbId = await stack.addDatabase({ name: 'appdb source', dbName: src.name });
    const cards: number[] = [];
    for (let i = 0; i < MODELS; i++)
      cards.push(
        await stack.addCard(
          dbId,
          `Model ${i}`,
          `select o.id, o.amount from orders o, (select pg_sleep(1)) s`,
        ),
      );
    const env = { SMTP_PORT: String(smtp.port) };
    await Promise.all(
      (['refresher', 'history', 'notifier', 'scheduler'] as const).map((s) => stack.start(s, env)),
    );

    const req = await stack.request({ databaseId: dbId, trigger: 'scheduled' });
    // cut in the middle of the run: after the first models are done
    await stack.recorder.waitFor(
      (m) => m.event?.type === 'RefreshSucceeded' && m.event.runId === req.eventId,
      2,
      60_000,
    );
    const [{ n: connectionsDropped }] = await server.query<{ n: number }>(
      'postgres',
      'select count(*)::int as n from pg_stat_activity where datname = $1',
      [stack.app.name],
    );
    await server.stop('immediate');
    const cutAt = Date.now();
    await new Promise((r) => setTimeout(r, DOWN_MS));
    await server.start();
    await stack.reconnect();

    const done = await stack.waitRun(req.eventId, 120_000);
    const completedAfterRestoreMs = Date.now() - cutAt - DOWN_MS;
    if (done.success !== MODELS)
      console.log(
        JSON.stringify(stack.events('RefreshFailed', req.eventId), null, 1),
        JSON.stringify(await stack.rows('database_id = $1', [dbId]), null, 1),
        stack.processes[0].logs
          .filter((l) => !/kafkajs/.test(l))
          .slice(-40)
          .join('\n'),
      );
    expect(done).toMatchObject({ success: MODELS, error: 0 });
    const rows = await stack.rows('database_id = $1', [dbId]);
    expect(rows.map((r) => [r.state, r.active, r.lease_owner, r.last_run_id])).toEqual(
      cards.map(() => ['persisted', true, null, req.eventId]),
    );
    const succeeded = new Set(stack.events('RefreshSucceeded', req.eventId).map((e) => e.cardId));
    expect([...succeeded].sort()).toEqual([...cards].sort());
    // on the wire, where a doubled completion would show (a unique constraint protects only the rows)
    expect(stack.events('RefreshRunCompleted', req.eventId)).toHaveLength(1);
    expect(stack.events('RefreshFailed', req.eventId)).toEqual([]);
    // the source tables: every cache equals its query, no row doubled
    for (const r of rows) {
      const [c] = (
        await src.client.query<{ n: number; d: number }>(
          `select count(*)::int as n, count(distinct id)::int as d from "${r.schema_name}"."${r.table_name}"`,
        )
      ).rows;
      expect(c).toEqual({ n: 200, d: 200 });
    }
    const history = await eventually(async () => {
      const h = await stack.taskHistory('run_id = $1', [req.eventId]);
      return h.length === 1 && h[0].status === 'success' ? h : null;
    }, 60_000);
    expect(history[0].task_details).toMatchObject({ success: MODELS, error: 0 });
    await eventually(async () => {
      const r = await stack.pg.query('select 1 from alert_run where run_id = $1', [req.eventId]);
      return r.rowCount === 1;
    }, 60_000);
    const letters = stack.recorder.messages
      .filter((m) => m.event?.type === 'DeadLetter')
      .map((m) => m.event as DeadLetter);
    expect(letters.map((d) => `${d.source.consumerGroup}: ${d.reason}`)).toEqual([]);

    // reconnected: a second run after the outage goes through every service again
    const after = await stack.request({ databaseId: dbId, trigger: 'manual' });
    expect(await stack.waitRun(after.eventId, 120_000)).toMatchObject({ success: MODELS, error: 0 });
    await eventually(async () => {
      const h = await stack.taskHistory('run_id = $1', [after.eventId]);
      return h.length === 1 && h[0].status === 'success';
    }, 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(stack.events('RefreshRunCompleted', after.eventId)).toHaveLength(1);
    expect(stack.restarts()).toEqual([]);
    expect(stack.processes.map((p) => [p.name, p.running])).toEqual(
      stack.processes.map((p) => [p.name, true]),
    );
    expect(smtp.received).toEqual([]);

    recordFigures('7-appdb-restart', {
      load: `1 database run of ${MODELS} models (~1 s each); refresher, history, notifier, scheduler on an app database of the test's own PostgreSQL cluster`,
      faultsInjected: `pg_ctl stop -m immediate of the app database's server mid-run (${connectionsDropped} connections dropped), started again after ${DOWN_MS / 1000} s`,
      outageMs: DOWN_MS,
      connectionsDropped,
      runCompletedAfterRestoreMs: completedAfterRestoreMs,
      runCompletedEvents: stack.events('RefreshRunCompleted', req.eventId).length,
      refreshSucceededEvents: stack.events('RefreshSucceeded', req.eventId).length,
      modelsPersisted: rows.length,
      cachesEqualTheirQuery: true,
      taskHistoryRows: history.length,
      deadLetters: letters.length,
      lost: 'nothing',
    });
  });
});
