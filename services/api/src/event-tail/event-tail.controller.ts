import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ZodQuery } from '../http/zod-validation';
import { deadLetterQuery } from '../console/console-schemas';
import { DEAD_LETTERS_KEPT } from './dead-letter-log';
import { EventTailService } from './event-tail.service';

/** Read views over the event log: recent dead letters, and each model's last build (rows, duration). */
@ApiTags('event-log')
@ApiBearerAuth()
@Controller('api')
export class EventTailController {
  constructor(private readonly tail: EventTailService) {}

  @Get('dead-letters')
  @ApiOperation({
    summary: `Recent dead-lettered messages (the newest ${DEAD_LETTERS_KEPT}), newest first, read from the dead-letter topic.`,
  })
  async deadLetters(@ZodQuery(deadLetterQuery) q: z.infer<typeof deadLetterQuery>) {
    await this.tail.caughtUp();
    const page = this.tail.deadLetters.page(q);
    return {
      data: page.data.map((d) => ({
        dead_letter: { partition: d.partition, offset: d.offset },
        occurred_at: d.occurredAt,
        topic: d.source.topic,
        partition: d.source.partition,
        offset: d.source.offset,
        key: d.source.key,
        consumer_group: d.source.consumerGroup,
        reason: d.reason,
        error_code: d.errorCode,
        payload: d.payload,
        headers: d.headers,
      })),
      total: page.total,
      limit: q.limit,
      offset: q.offset,
    };
  }

  @Get('model-persistence-builds')
  @ApiOperation({
    summary: 'The last build of every persisted model (rows, duration, outcome), from the refresh results.',
  })
  async lastBuilds() {
    await this.tail.caughtUp();
    return {
      data: this.tail.lastBuilds.all().map((b) => ({
        persisted_info_id: b.persistedInfoId,
        card_id: b.cardId,
        database_id: b.databaseId,
        outcome: b.outcome,
        rows: b.rows,
        duration_ms: b.durationMs,
        ended_at: b.endedAt,
        error: b.error,
      })),
    };
  }
}
