import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { Topics } from '@model-persistence/contracts';
import { KafkaMessageProcessor, SingleFlight } from '@model-persistence/messaging';
import { RefreshRunUseCase } from './refresh-run.use-case';

/** `refresh.requested` → one database run or individual run. */
@Controller()
export class RefreshRequestedHandler {
  constructor(
    private readonly processor: KafkaMessageProcessor,
    private readonly useCase: RefreshRunUseCase,
    /** shared by this app's consumers: a request's deliveries are handled one at a time here */
    private readonly runs: SingleFlight,
  ) {}

  @EventPattern(Topics.RefreshRequested)
  async onRefreshRequested(@Ctx() ctx: KafkaContext): Promise<void> {
    await this.processor.process(ctx, {
      accept: ['RefreshRequested'],
      handle: (event) => this.runs.run(event.eventId, () => this.useCase.execute(event)),
    });
  }
}
