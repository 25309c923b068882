import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { Topics } from '@model-persistence/contracts';
import { KafkaMessageProcessor } from '@model-persistence/messaging';
import { RefreshRunUseCase } from './refresh-run.use-case';

/** `refresh.requested` → one database run or individual run. */
@Controller()
export class RefreshRequestedHandler {
  constructor(
    private readonly processor: KafkaMessageProcessor,
    private readonly useCase: RefreshRunUseCase,
  ) {}

  @EventPattern(Topics.RefreshRequested)
  async onRefreshRequested(@Ctx() ctx: KafkaContext): Promise<void> {
    await this.processor.process(ctx, {
      accept: ['RefreshRequested'],
      handle: (event) => this.useCase.execute(event),
    });
  }
}
