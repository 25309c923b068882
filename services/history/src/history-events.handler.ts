import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { Topics } from '@model-persistence/contracts';
import { KafkaMessageProcessor } from '@model-persistence/messaging';
import { ApplyHistoryEventUseCase } from './apply-history-event.use-case';
import { HISTORY_TOPICS, HistoryTopic } from './history-topics';

/** Kafka edge of the projector: every history topic goes through the message processor to one use-case. */
@Controller()
export class HistoryEventsHandler {
  constructor(
    private readonly processor: KafkaMessageProcessor,
    private readonly apply: ApplyHistoryEventUseCase,
  ) {}

  private async project(ctx: KafkaContext, topic: HistoryTopic): Promise<void> {
    await this.processor.process(ctx, {
      accept: HISTORY_TOPICS[topic],
      handle: async (event) => {
        await this.apply.execute(event);
      },
    });
  }

  @EventPattern(Topics.RefreshRuns)
  onRefreshRun(@Ctx() ctx: KafkaContext): Promise<void> {
    return this.project(ctx, Topics.RefreshRuns);
  }

  @EventPattern(Topics.RefreshSucceeded)
  onRefreshSucceeded(@Ctx() ctx: KafkaContext): Promise<void> {
    return this.project(ctx, Topics.RefreshSucceeded);
  }

  @EventPattern(Topics.RefreshFailed)
  onRefreshFailed(@Ctx() ctx: KafkaContext): Promise<void> {
    return this.project(ctx, Topics.RefreshFailed);
  }

  @EventPattern(Topics.PruneRuns)
  onPruneRun(@Ctx() ctx: KafkaContext): Promise<void> {
    return this.project(ctx, Topics.PruneRuns);
  }
}
