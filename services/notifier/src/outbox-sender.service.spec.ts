import {
  AlertRepository,
  NotificationOutboxEntity,
  NotificationOutboxRepository,
  UnitOfWork,
} from '@model-persistence/database';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { loadNotifierConfig } from './config';
import { MailerService, OutgoingEmail } from './mailer.service';
import { messageIdFor, OutboxSender } from './outbox-sender.service';
import { RecipientsService } from './recipients.service';
import { RunAlertService } from './run-alert.service';

function row(
  id: string,
  attempts = 0,
  traceContext: Record<string, string> | null = null,
): NotificationOutboxEntity {
  return {
    id,
    dedupeKey: `run-${id}:failure`,
    kind: 'failure',
    databaseId: 1,
    runId: `run-${id}`,
    subject: `subject ${id}`,
    textBody: 'text',
    htmlBody: '<p>html</p>',
    status: 'pending',
    attempts,
    nextAttemptAt: new Date(),
    lastError: null,
    messageId: null,
    createdAt: new Date(),
    sentAt: null,
    traceContext,
  };
}

function setup(opts: { recipients: string[]; failWith?: Error; rows: NotificationOutboxEntity[] }) {
  const calls = {
    sent: [] as string[],
    failed: [] as [string, string, number][],
    dropped: [] as [string, string][],
  };
  const mails: OutgoingEmail[] = [];
  const outbox = {
    claimDue: async () => opts.rows,
    markSent: async (id: string) => void calls.sent.push(id),
    markFailed: async (id: string, error: string, delay: number) =>
      void calls.failed.push([id, error, delay]),
    markDropped: async (id: string, reason: string) => void calls.dropped.push([id, reason]),
    release: async () => undefined,
  } as unknown as NotificationOutboxRepository;
  const mailer = {
    send: async (m: OutgoingEmail) => {
      if (opts.failWith) throw opts.failWith;
      mails.push(m);
      return m.messageId;
    },
  } as unknown as MailerService;
  const recipients = { resolve: async () => opts.recipients } as unknown as RecipientsService;
  const config = loadNotifierConfig({ EMAIL_RETRY_MIN_MS: '1000', EMAIL_RETRY_MAX_MS: '300000' });
  const sender = new OutboxSender(
    outbox,
    {} as AlertRepository,
    {} as RunAlertService,
    mailer,
    recipients,
    config,
    {} as UnitOfWork,
  );
  return { sender, calls, mails };
}

describe('OutboxSender.deliverDue', () => {
  it('sends each claimed row to every recipient with a Message-ID derived from its dedupe key', async () => {
    const t = setup({ recipients: ['a@x.org', 'b@x.org'], rows: [row('1'), row('2')] });
    expect(await t.sender.deliverDue()).toBe(2);
    expect(t.calls.sent).toEqual(['1', '2']);
    expect(t.mails.map((m) => [m.to, m.subject, m.messageId])).toEqual([
      [['a@x.org', 'b@x.org'], 'subject 1', messageIdFor('run-1:failure')],
      [['a@x.org', 'b@x.org'], 'subject 2', messageIdFor('run-2:failure')],
    ]);
    expect(messageIdFor('run-1:failure')).toMatch(/^<[0-9a-f]{32}@model-persistence>$/);
  });

  it('reschedules a failed send with exponential backoff from 1 s, capped at 5 min plus jitter', async () => {
    const t = setup({
      recipients: ['a@x.org'],
      failWith: new Error('connect ECONNREFUSED'),
      rows: [row('1', 0), row('2', 3), row('3', 40)],
    });
    await t.sender.deliverDue();
    const [first, fourth, late] = t.calls.failed;
    expect(first[1]).toBe('connect ECONNREFUSED');
    expect(first[2]).toBeGreaterThanOrEqual(1000);
    expect(first[2]).toBeLessThanOrEqual(1200);
    expect(fourth[2]).toBeGreaterThanOrEqual(8000);
    expect(fourth[2]).toBeLessThanOrEqual(9600);
    expect(late[2]).toBeGreaterThanOrEqual(300_000);
    expect(late[2]).toBeLessThanOrEqual(360_000);
    expect(t.calls.sent).toEqual([]);
  });

  it('marks rows dropped, with the reason, when nobody is configured to receive them', async () => {
    const t = setup({ recipients: [], rows: [row('1')] });
    await t.sender.deliverDue();
    expect(t.calls.dropped).toEqual([
      ['1', 'no recipients: set the admin-email setting or add an active admin user'],
    ]);
    expect(t.mails).toEqual([]);
  });
});

describe('OutboxSender.deliverDue tracing', () => {
  const exporter = new InMemorySpanExporter();
  let provider: NodeTracerProvider;
  // a consumer span of the notifier, as stored with the row when the email was queued
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parentId = '00f067aa0ba902b7';
  const stored = { traceparent: `00-${traceId}-${parentId}-01` };

  beforeAll(() => {
    provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    provider.register();
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  const sends = () => exporter.getFinishedSpans().filter((s) => s.name === 'smtp send');

  it('sends each row in a CLIENT span continuing the trace stored with it', async () => {
    const t = setup({ recipients: ['a@x.org', 'b@x.org'], rows: [row('1', 2, stored), row('2')] });
    await t.sender.deliverDue();
    const [first, second] = sends();
    expect(first.kind).toBe(2); // CLIENT
    expect(first.spanContext().traceId).toBe(traceId);
    expect(first.parentSpanContext?.spanId).toBe(parentId);
    expect(first.attributes).toMatchObject({
      'notification.dedupe_key': 'run-1:failure',
      'notification.kind': 'failure',
      'notification.attempt': 3,
      'email.recipients.count': 2,
      'email.message_id': messageIdFor('run-1:failure'),
    });
    expect(first.status.code).toBe(0); // unset: sent
    // a row queued outside any trace (a sweep) gets a trace of its own
    expect(second.parentSpanContext).toBeUndefined();
    expect(second.spanContext().traceId).not.toBe(traceId);
  });

  it('records a failed send as an error on its span (the row is rescheduled, not lost)', async () => {
    const t = setup({
      recipients: ['a@x.org'],
      failWith: new Error('connect ECONNREFUSED'),
      rows: [row('1', 0, stored)],
    });
    await t.sender.deliverDue();
    const [span] = sends();
    expect(span.spanContext().traceId).toBe(traceId);
    expect(span.status).toEqual({ code: 2, message: 'connect ECONNREFUSED' });
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
    expect(t.calls.failed.map((f) => f[0])).toEqual(['1']);
  });
});
