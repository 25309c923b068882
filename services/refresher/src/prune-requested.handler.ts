import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { Topics } from '@model-persistence/contracts';
import { KafkaMessageProcessor } from '@model-persistence/messaging';
import { PruneUseCase } from './prune.use-case';

/** `prune.requested` → drop unwanted cache tables. */
@Controller()
export class PruneRequestedHandler {
  constructor(
    private readonly processor: KafkaMessageProcessor,
    private readonly useCase: PruneUseCase,
  ) {}

  @EventPattern(Topics.PruneRequested)
  async onPruneRequested(@Ctx() ctx: KafkaContext): Promise<void> {
    await this.processor.process(ctx, {
      accept: ['PruneRequested'],
      handle: (event) => this.useCase.execute(event),
    });
  }
}
