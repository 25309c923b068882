import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import { PRUNE_KEY, PruneRequested, Topics, createEvent } from '@model-persistence/contracts';
import {
  InboxRepository,
  PersistedInfoRepository,
  PruneCandidate,
  SourceDatabaseRepository,
} from '@model-persistence/database';
import { errorMessage } from '@model-persistence/errors';
import { EventPublisher } from '@model-persistence/messaging';
import { RefresherConfig } from './config';
import { SourceDrivers } from './source-drivers.service';

/**
 * Drops cache tables nobody wants any more: rows deletable for longer than the grace period, or whose card was
 * deleted, archived or turned into a question. The row goes too, except `off` rows (kept so the model stays
 * un-persisted). A row under a live refresh lease is skipped and picked up by the next prune.
 */
@Injectable()
export class PruneUseCase {
  private readonly logger = new Logger(PruneUseCase.name);

  constructor(
    @Inject(APP_CONFIG)
    private readonly config: Pick<
      RefresherConfig,
      'inboxConsumer' | 'pruneGraceMs' | 'instanceId' | 'leaseMs'
    >,
    private readonly inbox: InboxRepository,
    private readonly rows: PersistedInfoRepository,
    private readonly databases: SourceDatabaseRepository,
    private readonly drivers: SourceDrivers,
    private readonly publisher: EventPublisher,
  ) {}

  async execute(request: PruneRequested): Promise<void> {
    if (await this.inbox.has(this.config.inboxConsumer, request.eventId)) {
      this.logger.log(`prune ${request.eventId} was already processed; ignoring the redelivery`);
      return;
    }
    const started = new Date();
    const candidates = await this.rows.findPruneCandidates(request.graceMs ?? this.config.pruneGraceMs);
    await this.publisher.publish({
      topic: Topics.PruneRuns,
      key: PRUNE_KEY,
      event: createEvent('PruneRunStarted', {
        runId: request.eventId,
        trigger: request.trigger,
        startedAt: started.toISOString(),
        candidateCount: candidates.length,
      }),
    });
    const counts = { success: 0, error: 0, skipped: 0 };
    for (const c of candidates) counts[await this.pruneOne(c)]++;
    const ended = new Date();
    await this.publisher.publish({
      topic: Topics.PruneRuns,
      key: PRUNE_KEY,
      event: createEvent('PruneRunCompleted', {
        runId: request.eventId,
        trigger: request.trigger,
        startedAt: started.toISOString(),
        endedAt: ended.toISOString(),
        durationMs: ended.getTime() - started.getTime(),
        ...counts,
      }),
    });
    await this.inbox.record(this.config.inboxConsumer, request.eventId);
  }

  private async pruneOne({ info, reason }: PruneCandidate): Promise<'success' | 'error' | 'skipped'> {
    // an owner of its own, so a refresh on this same instance never mistakes the prune's lease for its own
    const owner = `${this.config.instanceId}:prune`;
    if (!(await this.rows.claimForPrune(info.id, owner, this.config.leaseMs))) return 'skipped';
    try {
      const db = await this.databases.findById(info.databaseId);
      if (db) await this.drivers.forDatabase(db).dropTable(info.schemaName, info.tableName);
      await this.rows.finishPrune(info.id, owner);
      this.logger.log(`pruned ${info.schemaName}.${info.tableName} (persisted_info ${info.id}, ${reason})`);
      return 'success';
    } catch (e) {
      await this.rows.releaseLease(info.id, owner);
      this.logger.warn(`pruning ${info.schemaName}.${info.tableName} failed: ${errorMessage(e)}`);
      return 'error';
    }
  }
}
