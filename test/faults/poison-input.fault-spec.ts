import { createEvent, DeadLetter, Topics, TopicName } from '@model-persistence/contracts';
import { eventually, produceRaw, TestSmtpServer } from '@model-persistence/testing';
import { DEAD_LETTER_MAX_PAYLOAD_BYTES } from '@model-persistence/messaging';
import { poisonMessage } from './support/poison';
import {
  assertBuilt,
  CONSUMED,
  createSourcePg,
  FaultStack,
  MODE,
  recordFigures,
  size,
} from './support/stack';

/*
 * Scenario 5 — poison input: malformed and hostile messages on every consumed topic (bad JSON, binary, wrong
 * types, unknown version, 1 MB strings, negative ids, SQL in names, wrong event types, nulls), interleaved with
 * valid ones. Every bad one lands in the dead-letter topic once per consuming service, with its reason and its
 * original bytes; every valid one is processed; no service restarts; the SQL executes nowhere.
 */
const BAD = size(140, 1000);
const VALID_EVERY = 10; // one valid message after every 10 bad ones
const HUGE_EVERY = size(70, 100);
jest.setTimeout(size(240_000, 480_000));

const TOPICS = Object.keys(CONSUMED) as TopicName[];

describe(`fault 5: poison input on every consumed topic (${MODE})`, () => {
  let stack: FaultStack;
  let src: Awaited<ReturnType<typeof createSourcePg>>;
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    await assertBuilt();
    [stack, src, smtp] = await Promise.all([
      FaultStack.create('poison'),
      createSourcePg('poison', 100),
      new TestSmtpServer().start(0),
    ]);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await smtp?.stop();
    await src?.drop();
  }, 60_000);

  it('dead-letters every bad message with its reason, processes every valid one, restarts nothing', async () => {
    const dbId = await stack.addDatabase({ name: 'poison source', dbName: src.name });
    await stack.addCard(dbId, `Orders'); DROP TABLE card; --`, 'select id, amount from orders');
    const env = { SMTP_PORT: String(smtp.port), INSTANCE_ID: 'poison-1' };
    await Promise.all(
      (['refresher', 'notifier', 'history', 'scheduler'] as const).map((s) =>
        stack.start(s, { ...env, INSTANCE_ID: `${s}-poison` }),
      ),
    );
    const countCards = async () =>
      (await stack.pg.query<{ n: number }>('select count(*)::int as n from card')).rows[0].n;
    const cardsBefore = await countCards();

    const validRequests: string[] = [];
    const validPrunes: string[] = [];
    const validConfig: string[] = [];
    const bad = [];
    const started = Date.now();
    let batch: {
      topic: string;
      key: string | null;
      value: Buffer | string | null;
      headers: Record<string, string>;
    }[] = [];
    const flush = async () => {
      // one produce call per topic; a 1 MB message goes alone (broker limit per batch)
      for (const topic of new Set(batch.map((m) => m.topic))) {
        const list = batch.filter((m) => m.topic === topic);
        await produceRaw(stack.kafka, topic, list);
      }
      batch = [];
    };
    for (let i = 0; i < BAD; i++) {
      const m = poisonMessage(i, TOPICS, HUGE_EVERY);
      bad.push(m);
      if (m.kind === 'huge-string') {
        await flush();
        await produceRaw(stack.kafka, stack.topic(m.topic), [
          { key: m.key, value: m.value, headers: { 'fault-id': m.id } },
        ]);
        continue;
      }
      batch.push({ topic: stack.topic(m.topic), key: m.key, value: m.value, headers: { 'fault-id': m.id } });
      if ((i + 1) % VALID_EVERY === 0) {
        const n = (i + 1) / VALID_EVERY;
        if (n % 3 === 1) {
          // hostile but valid: SQL in a free-text field is data, never code
          const e = createEvent('RefreshRequested', {
            databaseId: dbId,
            trigger: 'external',
            requestedBy: `robert'); DROP TABLE card; -- ${n}`,
          });
          validRequests.push(e.eventId);
          batch.push({
            topic: stack.topic(Topics.RefreshRequested),
            key: String(dbId),
            value: JSON.stringify(e),
            headers: { 'fault-id': `valid-${n}` },
          });
        } else if (n % 3 === 2) {
          const e = createEvent('PruneRequested', {
            trigger: 'manual',
            requestedBy: `x"; DELETE FROM setting; --`,
          });
          validPrunes.push(e.eventId);
          batch.push({
            topic: stack.topic(Topics.PruneRequested),
            key: 'prune',
            value: JSON.stringify(e),
            headers: { 'fault-id': `valid-${n}` },
          });
        } else {
          const e = createEvent('ConfigurationChanged', {
            entity: 'card',
            change: 'updated',
            entityId: `1' OR '1'='1`,
          });
          validConfig.push(e.eventId);
          batch.push({
            topic: stack.topic(Topics.ConfigChanged),
            key: 'card',
            value: JSON.stringify(e),
            headers: { 'fault-id': `valid-${n}` },
          });
        }
        await flush();
      }
    }
    await flush();

    // every bad message: one dead letter per consuming service, with its reason and its original bytes
    const expected = bad.reduce((n, m) => n + (CONSUMED[m.topic]?.length ?? 0), 0);
    const letters = () =>
      stack.recorder.messages.filter((m) => m.event?.type === 'DeadLetter').map((m) => m.event as DeadLetter);
    await eventually(
      async () => letters().filter((d) => d.headers?.['fault-id']?.startsWith('poison-')).length >= expected,
      size(180_000, 400_000),
      1000,
    );
    const deadLettersAt = Date.now();
    const byId = new Map<string, DeadLetter[]>();
    for (const d of letters()) {
      const id = d.headers?.['fault-id'];
      if (id) byId.set(id, [...(byId.get(id) ?? []), d]);
    }
    const missing: string[] = [];
    for (const m of bad) {
      const got = byId.get(m.id) ?? [];
      const groups = CONSUMED[m.topic] ?? [];
      for (const g of groups) {
        const d = got.find((x) => x.source.consumerGroup.startsWith(g));
        if (
          !d ||
          d.source.topic !== stack.topic(m.topic) ||
          d.reason.length === 0 ||
          d.errorCode.length === 0
        ) {
          missing.push(`${m.id} ${m.kind} on ${m.topic} for ${g}`);
          continue;
        }
        // byte for byte (a bigger payload keeps its first DEAD_LETTER_MAX_PAYLOAD_BYTES, and says so)
        const original = m.value === null ? null : Buffer.isBuffer(m.value) ? m.value : Buffer.from(m.value);
        const kept = d.payloadBase64 === null ? null : Buffer.from(d.payloadBase64, 'base64');
        if (
          original === null
            ? kept !== null
            : !kept ||
              !original.subarray(0, DEAD_LETTER_MAX_PAYLOAD_BYTES).equals(kept) ||
              d.payloadBytes !== original.length ||
              (d.payloadTruncated === true) !== original.length > DEAD_LETTER_MAX_PAYLOAD_BYTES
        )
          missing.push(`${m.id} ${m.kind}: payload differs`);
      }
      if (got.length !== groups.length)
        missing.push(`${m.id} ${m.kind}: ${got.length} dead letters for ${groups.length} consumers`);
    }
    expect(missing).toEqual([]);

    // every valid one processed, none dead-lettered
    for (const runId of validRequests)
      expect(await stack.waitRun(runId, 60_000)).toMatchObject({ success: 1, error: 0 });
    await stack.recorder.waitFor(
      (m) => m.event?.type === 'PruneRunCompleted' && validPrunes.includes(m.event.runId),
      validPrunes.length,
      60_000,
    );
    const history = await eventually(async () => {
      const rows = await stack.taskHistory(`task = 'persist-refresh' and status = 'success'`);
      return rows.filter((r) => validRequests.includes(r.run_id)).length === validRequests.length
        ? rows
        : null;
    }, 60_000);
    const decided = await eventually(async () => {
      const r = await stack.pg.query<{ n: number }>(
        'select count(*)::int as n from alert_run where run_id = any($1::uuid[])',
        [validRequests],
      );
      return r.rows[0].n === validRequests.length ? r.rows[0].n : null;
    }, 60_000);
    const scheduler = stack.processes.find((p) => p.name === 'scheduler')!;
    expect(letters().filter((d) => d.headers?.['fault-id']?.startsWith('valid-'))).toEqual([]);
    // on the wire: each valid request completed exactly once (a poison neighbour must not cause a second run)
    const runsOf = (type: 'RefreshRunCompleted' | 'PruneRunCompleted', runId: string) =>
      stack.recorder.messages.filter((m) => m.event?.type === type && m.event.runId === runId).length;
    expect(validRequests.filter((id) => runsOf('RefreshRunCompleted', id) !== 1)).toEqual([]);
    expect(validPrunes.filter((id) => runsOf('PruneRunCompleted', id) !== 1)).toEqual([]);
    const configLetters = letters().filter((d) => d.source.topic === stack.topic(Topics.ConfigChanged));
    expect(configLetters.length).toBe(bad.filter((m) => m.topic === Topics.ConfigChanged).length);

    // nothing executed, nothing restarted
    expect(await countCards()).toBe(cardsBefore);
    expect(
      (await stack.pg.query(`select value from setting where key = 'persisted-models-enabled'`)).rows,
    ).toEqual([{ value: 'true' }]);
    expect(stack.restarts()).toEqual([]);
    expect(scheduler.running).toBe(true);

    const kinds: Record<string, number> = {};
    for (const m of bad) kinds[m.kind] = (kinds[m.kind] ?? 0) + 1;
    recordFigures('5-poison-input', {
      load: `${BAD} bad + ${validRequests.length + validPrunes.length + validConfig.length} valid messages on ${TOPICS.length} consumed topics; refresher, notifier, history, scheduler running`,
      badInputsByKind: kinds,
      deadLettersExpected: expected,
      deadLettersReceived: letters().filter((d) => d.headers?.['fault-id']?.startsWith('poison-')).length,
      allDeadLetteredWithinMs: deadLettersAt - started,
      validProcessed: {
        refreshRuns: validRequests.length,
        taskHistoryRows: history.filter((r) => validRequests.includes(r.run_id)).length,
        notifierRunsDecided: decided,
        pruneRuns: validPrunes.length,
        configChanges: validConfig.length,
      },
      restarts: 0,
      lost: 'nothing',
    });
  });
});
