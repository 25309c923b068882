import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { QuartzSchedule, validateQuartzCron } from '@model-persistence/cron';
import { SettingKey, SettingRepository } from '@model-persistence/database';
import { z } from 'zod';
import { ZodQuery } from '../http/zod-validation';
import { cronPreviewQuery } from './console-schemas';
import { describeQuartz } from './quartz-description';

/** Checks a Quartz expression the way set-refresh-schedule does, and says when it would fire. */
@ApiTags('model-persistence')
@ApiBearerAuth()
@Controller('api/cron')
export class CronPreviewController {
  constructor(private readonly settings: SettingRepository) {}

  @Get('next-fire-times')
  @ApiOperation({
    summary:
      'Validate a Quartz cron (400 with the reason when invalid) and list its next fire times, in the ' +
      'configured schedule time zone unless time_zone is given, with the expression in words.',
  })
  async nextFireTimes(@ZodQuery(cronPreviewQuery) q: z.infer<typeof cronPreviewQuery>) {
    const cron = validateQuartzCron(q.cron);
    const timeZone = q.time_zone ?? (await this.settings.get(SettingKey.ScheduleTimeZone));
    const schedule = new QuartzSchedule(cron, timeZone);
    const fires = schedule.nextRuns(q.count, new Date());
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      dateStyle: 'full',
      timeStyle: 'long',
    });
    return {
      cron,
      time_zone: timeZone,
      description: describeQuartz(cron),
      next_fire_times: fires.map((d) => d.toISOString()),
      next_fire_times_local: fires.map((d) => local.format(d)),
    };
  }
}
