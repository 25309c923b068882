import { DeadLetter } from '@model-persistence/contracts';
import {
  createTestSourceDatabase,
  eventually,
  ServiceProcess,
  TestSmtpServer,
  TestSourceDatabase,
  PrivateMariadb,
  PrivatePostgres,
} from '@model-persistence/testing';
import { Client } from 'pg';
import { assertBuilt, FaultStack, MODE, recordFigures, size } from './support/stack';

/*
 * Scenario 8 — source connections lost during refreshes (issue 12 defect 5): the server ends the connection a
 * build runs on — `pg_terminate_backend` on PostgreSQL, `KILL CONNECTION` on MariaDB — and the source
 * PostgreSQL server is restarted (crash-stop, down a few seconds, started) during a database run. The source
 * PostgreSQL is a cluster of the test's own (PrivatePostgres); on MariaDB only our own connection is killed.
 * Asserted: no service process exits; the refresher classifies the loss `connection` and retries it; every
 * model of every run ends in exactly one outcome on the wire; every cache table equals its query afterwards.
 */
const SLOW_S = size(4, 10);
const RESTART_MODELS = size(3, 6);
const DOWN_MS = size(3_000, 10_000);
const ROWS = 200;
jest.setTimeout(300_000 + SLOW_S * 4_000 + DOWN_MS);

describe(`fault 8: source connections lost mid-refresh (${MODE})`, () => {
  let stack: FaultStack;
  let server: PrivatePostgres;
  let pgSource: Client;
  let pgName: string;
  let maria: TestSourceDatabase;
  let mariaServer: PrivateMariadb;
  const mariaName = `mp_fs_srclost_${Math.random().toString(16).slice(2, 10)}`;
  let smtp: TestSmtpServer;
  let refresher: ServiceProcess;
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    await assertBuilt();
    [stack, server, maria, smtp, mariaServer] = await Promise.all([
      FaultStack.create('srclost'),
      PrivatePostgres.create('srclost'),
      createTestSourceDatabase('mysql', 'srclost'),
      new TestSmtpServer().start(0),
      PrivateMariadb.create('srclost'),
    ]);
    pgName = `mp_fs_srclost_${Math.random().toString(16).slice(2, 10)}`;
    await server.createDatabase(pgName);
    pgSource = new Client({ connectionString: server.url(pgName) });
    pgSource.on('error', () => undefined); // the restart below ends it too
    await pgSource.connect();
    await pgSource.query(
      `create table orders as select g as id, (g % 100)::numeric as amount from generate_series(1, ${ROWS}) g`,
    );
    await maria.query('create table orders (id int primary key, amount decimal(10,2))');
    const values = Array.from({ length: ROWS }, (_, k) => `(${k + 1}, ${(k + 1) % 100})`).join(',');
    await maria.query(`insert into orders (id, amount) values ${values}`);
    await mariaServer.query(`create database \`${mariaName}\``);
    await mariaServer.query('create table orders (id int primary key, amount decimal(10,2))', [], mariaName);
    await mariaServer.query(`insert into orders (id, amount) values ${values}`, [], mariaName);
  }, 180_000);

  afterAll(async () => {
    await stack?.close();
    await pgSource?.end().catch(() => undefined);
    await server?.destroy();
    await maria?.drop();
    await mariaServer?.destroy();
    await smtp?.stop();
  }, 90_000);

  /** Exactly one outcome per model of the run on the wire, one completion; returns the outcomes. */
  function outcomesOf(runId: string, cards: number[]) {
    const ok = stack.events('RefreshSucceeded', runId).map((e) => e.cardId);
    const failed = stack.events('RefreshFailed', runId).map((e) => e.cardId);
    expect([...ok, ...failed].sort()).toEqual([...cards].sort());
    expect(stack.events('RefreshRunCompleted', runId)).toHaveLength(1);
    return { ok, failed };
  }

  /** Every cache table equals its query (the orders table: ROWS distinct ids), none doubled. */
  async function expectCachesEqualTheirQuery(
    databaseId: number,
    engine: 'postgres' | 'mysql',
    mysql: { query: <T>(sql: string) => Promise<T[]> } = maria,
  ) {
    const rows = await stack.rows('database_id = $1', [databaseId]);
    expect(rows.map((r) => [r.state, r.lease_owner])).toEqual(rows.map(() => ['persisted', null]));
    for (const r of rows) {
      const sql = (q: string) =>
        `select count(*) as n, count(distinct id) as d from ${q}${r.schema_name}${q}.${q}${r.table_name}${q}`;
      const [c] =
        engine === 'postgres'
          ? (await pgSource.query<{ n: string; d: string }>(sql('"'))).rows
          : await mysql.query<{ n: number; d: number }>(sql('`'));
      expect([Number(c.n), Number(c.d)]).toEqual([ROWS, ROWS]);
    }
    return rows.length;
  }

  const retriesLogged = (from: number) =>
    refresher.logs.slice(from).filter((l) => /attempt \d+ failed \(connection\), retrying in/.test(l)).length;

  it('starts refresher, history and notifier', async () => {
    const env = {
      SMTP_PORT: String(smtp.port),
      REFRESH_RETRY_CONNECTION_MAX: '6',
      REFRESH_RETRY_CONNECTION_BASE_MS: '500',
    };
    [refresher] = await Promise.all([
      stack.start('refresher', env),
      stack.start('history', env),
      stack.start('notifier', env),
    ]);
  });

  it.each(['postgres', 'mysql'] as const)(
    'a %s build whose connection the server ends is retried and succeeds; no process exits',
    async (engine) => {
      const dbId =
        engine === 'postgres'
          ? await stack.addDatabase({ name: 'pg lost', dbName: pgName, port: server.port })
          : await stack.addDatabase({ name: 'maria lost', engine: 'mysql', dbName: maria.name });
      const cardId = await stack.addCard(dbId, `Orders ${engine}`, 'select id, amount from orders');
      const warm = await stack.request({ databaseId: dbId, trigger: 'manual' });
      expect(await stack.waitRun(warm.eventId, 90_000)).toMatchObject({ success: 1, error: 0 });

      const marker = `mp_slow_${engine}`;
      await stack.pg.query('update card set query_sql = $1 where id = $2', [
        engine === 'postgres'
          ? `select o.id as id, o.amount as ${marker} from orders o, (select pg_sleep(${SLOW_S})) s`
          : `select id, amount as ${marker} from orders where sleep(${(SLOW_S / ROWS).toFixed(3)}) = 0`,
        cardId,
      ]);
      const logFrom = refresher.logs.length;
      const req = await stack.request({ databaseId: dbId, trigger: 'scheduled' });
      // the build is running on the server: end its connection from the server side, once
      const killed = await eventually(
        async () => {
          if (engine === 'postgres') {
            const r = await server.query<{ pid: number }>(
              pgName,
              `select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and query like $2`,
              [pgName, `%as ${marker}%`],
            );
            for (const { pid } of r) await server.query(pgName, 'select pg_terminate_backend($1)', [pid]);
            return r.length;
          }
          const r = await maria.query<{ id: number }>(
            `select ID as id from information_schema.PROCESSLIST
              where ID <> CONNECTION_ID() and INFO like ? and INFO like '%CREATE TABLE%'`,
            [`%as ${marker}%`],
          );
          for (const { id } of r) await maria.query(`KILL CONNECTION ${Number(id)}`);
          return r.length;
        },
        60_000,
        100,
      );
      const done = await stack.waitRun(req.eventId, 120_000);
      expect(done).toMatchObject({ success: 1, error: 0 });
      const { ok } = outcomesOf(req.eventId, [cardId]);
      expect(ok).toEqual([cardId]);
      expect(retriesLogged(logFrom)).toBeGreaterThanOrEqual(1);
      await expectCachesEqualTheirQuery(dbId, engine);
      expect(stack.restarts()).toEqual([]);
      figures[engine === 'postgres' ? 'pgTerminateBackend' : 'mariadbKillConnection'] = {
        connectionsEnded: killed,
        connectionRetries: retriesLogged(logFrom),
        outcome: 'success after retry',
        buildSeconds: SLOW_S,
      };
    },
  );

  const restarts: Record<string, unknown> = {};
  it.each(['postgres', 'mysql'] as const)(
    'the source %s server restarted during a database run: every model ends once, caches equal their query',
    async (engine) => {
      const dbId =
        engine === 'postgres'
          ? await stack.addDatabase({ name: 'pg restarted', dbName: pgName, port: server.port })
          : await stack.addDatabase({
              name: 'maria restarted',
              engine: 'mysql',
              dbName: mariaName,
              port: mariaServer.port,
            });
      const cards: number[] = [];
      for (let i = 0; i < RESTART_MODELS; i++)
        cards.push(
          await stack.addCard(
            dbId,
            `Restarted ${engine} ${i}`,
            engine === 'postgres'
              ? `select o.id, o.amount from orders o, (select pg_sleep(1)) s`
              : `select id, amount from orders where sleep(${(1 / ROWS).toFixed(3)}) = 0`,
          ),
        );
      const logFrom = refresher.logs.length;
      const req = await stack.request({ databaseId: dbId, trigger: 'scheduled' });
      await stack.recorder.waitFor(
        (m) => m.event?.type === 'RefreshSucceeded' && m.event.runId === req.eventId,
        1,
        90_000,
      );
      if (engine === 'postgres') {
        await server.stop('immediate');
        await new Promise((r) => setTimeout(r, DOWN_MS));
        await server.start();
        await pgSource.end().catch(() => undefined);
        pgSource = new Client({ connectionString: server.url(pgName) });
        pgSource.on('error', () => undefined);
        await pgSource.connect();
      } else {
        await mariaServer.kill();
        await new Promise((r) => setTimeout(r, DOWN_MS));
        await mariaServer.start();
      }

      const done = await stack.waitRun(req.eventId, 180_000);
      const { ok, failed } = outcomesOf(req.eventId, cards);
      expect(done).toMatchObject({ success: ok.length, error: failed.length });
      // a failure, if the outage outlasted the retries, is classified `connection`, never a crash or a query error
      for (const f of stack.events('RefreshFailed', req.eventId)) expect(f.errorClass).toBe('connection');

      // the next run brings every model back; each cache equals its query
      const again = await stack.request({ databaseId: dbId, trigger: 'manual' });
      expect(await stack.waitRun(again.eventId, 120_000)).toMatchObject({
        success: RESTART_MODELS,
        error: 0,
      });
      outcomesOf(again.eventId, cards);
      const mysql = { query: <T>(sql: string) => mariaServer.query<T>(sql, [], mariaName) };
      expect(await expectCachesEqualTheirQuery(dbId, engine, mysql)).toBe(RESTART_MODELS);

      // nothing doubled downstream: one task-history row per run, emails (if any) once each
      for (const runId of [req.eventId, again.eventId]) {
        const h = await eventually(async () => {
          const rows = await stack.taskHistory('run_id = $1', [runId]);
          return rows.length > 0 ? rows : null;
        }, 60_000);
        expect(h).toHaveLength(1);
      }
      await new Promise((r) => setTimeout(r, 3000));
      const subjects = smtp.received.map((m) => m.subject);
      expect(subjects.length).toBe(new Set(subjects).size);
      const letters = stack.recorder.messages
        .filter((m) => m.event?.type === 'DeadLetter')
        .map((m) => m.event as DeadLetter);
      expect(letters.map((d) => `${d.source.consumerGroup}: ${d.reason}`)).toEqual([]);
      expect(stack.restarts()).toEqual([]);
      expect(stack.processes.map((p) => [p.name, p.running])).toEqual(
        stack.processes.map((p) => [p.name, true]),
      );

      restarts[engine] = {
        modelsSucceeded: ok.length,
        modelsFailedConnection: failed.length,
        connectionRetries: retriesLogged(logFrom),
        outcomesPerModel: 1,
        nextRun: `${RESTART_MODELS} of ${RESTART_MODELS} persisted, caches equal their query`,
      };
      if (engine !== 'mysql') return;
      recordFigures('8-source-connection-lost', {
        load: `refresher, history, notifier; a ${SLOW_S} s build on each engine; a database run of ${RESTART_MODELS} models (~1 s each) on each engine's server of the test's own`,
        faultsInjected: `pg_terminate_backend of the build's backend; KILL CONNECTION of the MariaDB build's connection; the source servers (private PostgreSQL cluster: pg_ctl stop -m immediate; private mariadbd: SIGKILL) down ${DOWN_MS / 1000} s mid-run`,
        ...figures,
        restartPostgres: restarts.postgres,
        restartMariadb: restarts.mysql,
        processExits: 0,
        deadLetters: letters.length,
        emails: smtp.received.length,
        lost: 'nothing',
      });
    },
  );
});
