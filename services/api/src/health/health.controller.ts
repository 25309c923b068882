import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Readiness, ReadinessService } from './readiness.service';

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(private readonly readiness: ReadinessService) {}

  @Get('health')
  @ApiOperation({ summary: 'Liveness: the process serves HTTP (no authentication).' })
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary: 'Readiness: Kafka and the app database are reachable (503 otherwise; needs the token).',
  })
  ready(): Promise<Readiness> {
    return this.readiness.check();
  }
}
