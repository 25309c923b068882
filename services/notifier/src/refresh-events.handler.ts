import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { Topics } from '@model-persistence/contracts';
import { KafkaMessageProcessor } from '@model-persistence/messaging';
import { CompleteRunUseCase } from './complete-run.use-case';
import { RecordRefreshFailureUseCase } from './record-refresh-failure.use-case';
import { RecordRefreshSuccessUseCase } from './record-refresh-success.use-case';

/** Kafka edge of the notifier: decode, validate, hand to one use-case (retries and dead letters by the processor). */
@Controller()
export class RefreshEventsHandler {
  constructor(
    private readonly processor: KafkaMessageProcessor,
    private readonly failures: RecordRefreshFailureUseCase,
    private readonly successes: RecordRefreshSuccessUseCase,
    private readonly runs: CompleteRunUseCase,
  ) {}

  @EventPattern(Topics.RefreshFailed)
  async onRefreshFailed(@Ctx() ctx: KafkaContext): Promise<void> {
    await this.processor.process(ctx, {
      accept: ['RefreshFailed'],
      handle: async (e) => void (await this.failures.execute(e)),
    });
  }

  @EventPattern(Topics.RefreshSucceeded)
  async onRefreshSucceeded(@Ctx() ctx: KafkaContext): Promise<void> {
    await this.processor.process(ctx, {
      accept: ['RefreshSucceeded'],
      handle: async (e) => void (await this.successes.execute(e)),
    });
  }

  @EventPattern(Topics.RefreshRuns)
  async onRefreshRun(@Ctx() ctx: KafkaContext): Promise<void> {
    await this.processor.process(ctx, {
      accept: ['RefreshRunStarted', 'RefreshRunCompleted'],
      handle: async (e) => void (await this.runs.execute(e)),
    });
  }
}
