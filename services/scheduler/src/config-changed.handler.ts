import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { Topics } from '@model-persistence/contracts';
import { KafkaMessageProcessor } from '@model-persistence/messaging';
import { SchedulerService } from './scheduler.service';

/**
 * config.changed → reload the schedules. A new replica's group reads the topic from the beginning (so no change
 * made while it was starting is missed); records older than its start are already in its first load and are
 * passed over before decoding, so old junk is not dead-lettered again by every new replica.
 */
/** Clock skew allowance between the broker's timestamps and this process. */
const STARTUP_OVERLAP_MS = 5_000;

@Controller()
export class ConfigChangedHandler {
  constructor(
    private readonly processor: KafkaMessageProcessor,
    private readonly scheduler: SchedulerService,
  ) {}

  @EventPattern(Topics.ConfigChanged)
  async onConfigChanged(@Ctx() ctx: KafkaContext): Promise<void> {
    if (Number(ctx.getMessage().timestamp) < this.scheduler.startedAt - STARTUP_OVERLAP_MS) return;
    await this.processor.process(ctx, {
      accept: ['ConfigurationChanged'],
      handle: async (event) => {
        await this.scheduler.requestReload(`${event.entity} ${event.entityId ?? ''} ${event.change}`);
      },
    });
  }
}
