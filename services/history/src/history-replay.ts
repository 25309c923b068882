import { randomBytes } from 'node:crypto';
import { KafkaConfig } from '@model-persistence/config';
import { decodeEvent, topicName } from '@model-persistence/contracts';
import { createAppDataSource, TaskHistoryRepository } from '@model-persistence/database';
import { DomainError, dispositionOfError, ErrorCode, errorMessage } from '@model-persistence/errors';
import { backoffDelay, createKafka, DEFAULT_BACKOFF, sleep } from '@model-persistence/messaging';
import { ApplyHistoryEventUseCase } from './apply-history-event.use-case';
import { HistoryOptions } from './history-options';
import { HISTORY_TOPIC_NAMES, HISTORY_TOPICS, HistoryEvent, HistoryTopic } from './history-topics';
import { SweepStaleRunsUseCase } from './sweep-stale-runs.use-case';

export interface ReplayOptions {
  kafka: KafkaConfig;
  /** The application database to rebuild task_history in. */
  databaseUrl: string;
  /** Inbox consumer name; the live projector's, so a restarted projector skips what the replay applied. */
  consumer: string;
  staleRunTimeoutMs: number;
  /** Empty task_history and the consumer's inbox first; without it a non-empty target is refused. */
  truncate?: boolean;
  /** Give up when the topics are not read up to their high-water marks in time. Default 30 min. */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface ReplayReport {
  /** Messages read up to the high-water marks taken at the start. */
  messages: number;
  applied: number;
  duplicates: number;
  /** Messages the live projector dead-lettered (malformed, wrong type, inconsistent): skipped here too. */
  invalid: number;
  closedStale: number;
  rows: number;
}

/**
 * Rebuilds task_history from the event log: reads every history topic from the beginning up to the high-water
 * marks taken at the start (a fresh consumer group, deleted afterwards) into an EMPTY table, with the same
 * projection and stale-run rule as the live projector, so the result equals the live table row for row.
 * Stop the live projector while replaying into its own database (`truncate`).
 */
export async function replayHistory(opts: ReplayOptions): Promise<ReplayReport> {
  const log = opts.log ?? (() => undefined);
  const ds = await createAppDataSource({
    url: opts.databaseUrl,
    poolSize: 2,
    applicationName: 'history-replay',
  }).initialize();
  const kafka = createKafka(opts.kafka, `${opts.kafka.clientId}-replay`);
  const admin = kafka.admin();
  const groupId = `${opts.consumer}-replay-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: opts.kafka.sessionTimeoutMs });
  let joined = false;
  try {
    const history = new TaskHistoryRepository(ds);
    const options: HistoryOptions = {
      consumer: opts.consumer,
      staleRunTimeoutMs: opts.staleRunTimeoutMs,
      sweepIntervalMs: 0,
      keep: Number.MAX_SAFE_INTEGER,
      trimIntervalMs: 0,
    };
    const apply = new ApplyHistoryEventUseCase(history, { projector: options });
    const sweep = new SweepStaleRunsUseCase(history, { projector: options });

    const state = await history.replayState(opts.consumer);
    if (state.rows > 0 || state.inbox > 0) {
      if (!opts.truncate) {
        throw new DomainError(
          ErrorCode.Conflict,
          `replay needs an empty target: task_history has ${state.rows} row(s) and the inbox of ` +
            `"${opts.consumer}" ${state.inbox} event(s); pass --truncate (after stopping the projector) to clear them`,
        );
      }
      await history.clearForReplay(opts.consumer);
      log(`cleared ${state.rows} row(s) and ${state.inbox} inbox record(s)`);
    }

    // where to stop: the last offset of every partition as of now; later events are the live projector's
    await admin.connect();
    const remaining = new Map<string, bigint>();
    const topicOf = new Map<string, HistoryTopic>();
    for (const logical of HISTORY_TOPIC_NAMES) {
      const topic = topicName(opts.kafka.topicPrefix, logical);
      topicOf.set(topic, logical);
      for (const p of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(p.high) > BigInt(p.low)) remaining.set(`${topic}:${p.partition}`, BigInt(p.high) - 1n);
      }
    }
    const report: ReplayReport = {
      messages: 0,
      applied: 0,
      duplicates: 0,
      invalid: 0,
      closedStale: 0,
      rows: 0,
    };
    log(`replaying ${remaining.size} non-empty partition(s)`);

    if (remaining.size > 0) {
      let finish!: () => void;
      let fail!: (e: unknown) => void;
      const done = new Promise<void>((resolve, reject) => ((finish = resolve), (fail = reject)));
      await consumer.connect();
      joined = true;
      await consumer.subscribe({ topics: [...topicOf.keys()], fromBeginning: true });
      await consumer.run({
        autoCommit: false, // the group is throw-away
        eachMessage: async ({ topic, partition, message }) => {
          const key = `${topic}:${partition}`;
          const last = remaining.get(key);
          if (last === undefined || BigInt(message.offset) > last) return;
          try {
            report.messages++;
            const outcome = await applyMessage(apply, topicOf.get(topic)!, message.value);
            if (outcome === 'invalid') report.invalid++;
            else if (outcome === 'duplicate') report.duplicates++;
            else report.applied++;
          } catch (e) {
            fail(e);
            return;
          }
          if (BigInt(message.offset) >= last) {
            remaining.delete(key);
            if (remaining.size === 0) finish();
          }
        },
      });
      const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new DomainError(
                ErrorCode.Timeout,
                `replay did not reach the high-water marks within ${timeoutMs} ms; still reading ${[...remaining.keys()].join(', ')}`,
              ),
            ),
          timeoutMs,
        );
      });
      try {
        await Promise.race([done, timedOut]);
      } finally {
        clearTimeout(timer);
      }
    }

    report.closedStale = await sweep.execute(new Date());
    report.rows = (await history.replayState(opts.consumer)).rows;
    log(`replay done: ${JSON.stringify(report)}`);
    return report;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    if (joined) await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await ds.destroy();
  }
}

/** Applies one message as the live projector does; retries transient failures, throws if they persist. */
async function applyMessage(
  apply: ApplyHistoryEventUseCase,
  topic: HistoryTopic,
  value: Buffer | null,
): Promise<'invalid' | 'duplicate' | 'applied' | 'unchanged'> {
  const decoded = decodeEvent(value);
  if (!decoded.ok) return 'invalid';
  if (!(HISTORY_TOPICS[topic] as readonly string[]).includes(decoded.event.type)) return 'invalid';
  for (let attempt = 1; ; attempt++) {
    try {
      return await apply.execute(decoded.event as HistoryEvent);
    } catch (e) {
      const disposition = dispositionOfError(e);
      if (disposition === 'dead-letter' || disposition === 'skip') return 'invalid';
      if (attempt > DEFAULT_BACKOFF.retries) {
        throw new DomainError(
          ErrorCode.AppDatabaseUnavailable,
          `replay stopped: ${errorMessage(e)}`,
          undefined,
          { cause: e },
        );
      }
      await sleep(backoffDelay(DEFAULT_BACKOFF, attempt));
    }
  }
}
